package location

import "hash/maphash"

// The write side of the indexes. Every function here runs under t.mu held
// for writing.

func (t *Table) rec(h uint32) *record {
	return &t.chunks[h>>chunkShift][h&chunkMask]
}

// view copies record h out with its interned strings.
func (t *Table) view(h uint32) view {
	r := t.rec(h)
	return view{payload: r.payload, port: t.ports.str(r.port), vendor: t.vendors.str(r.vendor)}
}

// alloc returns a zeroed record handle, reusing freed ones first.
func (t *Table) alloc() uint32 {
	if h := t.free; h != 0 {
		t.free = t.rec(h).nextMAC
		*t.rec(h) = record{}
		return h
	}
	h := t.next
	if int(h>>chunkShift) == len(t.chunks) {
		t.chunks = append(t.chunks, make([]record, chunkSize))
	}
	t.next++
	return h
}

// insert stores p in a new record and links it into every index.
func (t *Table) insert(p *packed) uint32 {
	h := t.alloc()
	r := t.rec(h)
	r.payload = p.payload
	r.blob = string(p.blob)
	r.port, r.vendor = t.ports.ref([]byte(p.port)), t.vendors.ref(p.vendor)
	t.byIP[r.ip] = h
	t.linkKeys(h)
	t.linkPort(h)
	t.heapPush(h)
	return h
}

// update replaces the content of record h (same IP) with p, relinking only
// the indexes whose keys changed.
func (t *Table) update(h uint32, p *packed) {
	r := t.rec(h)
	oldKeys := t.keys(&r.payload)
	oldExpiry := r.expiry
	blob := r.blob
	if string(p.blob) != blob {
		blob = string(p.blob)
	}
	r.payload = p.payload
	r.blob = blob
	newKeys := t.keys(&r.payload)
	if oldKeys != newKeys {
		t.unlinkKeys(h, oldKeys)
		t.linkKeys(h)
	}
	if port := t.ports.ref([]byte(p.port)); port != r.port {
		t.unlinkPort(h)
		t.ports.unref(r.port)
		r.port = port
		t.linkPort(h)
	} else {
		t.ports.unref(port)
	}
	vendor := t.vendors.ref(p.vendor)
	t.vendors.unref(r.vendor)
	r.vendor = vendor
	if r.expiry != oldExpiry {
		t.heapFix(h)
	}
}

// release unlinks record h from every index and frees it.
func (t *Table) release(h uint32) {
	r := t.rec(h)
	t.unlinkKeys(h, t.keys(&r.payload))
	t.unlinkPort(h)
	t.heapRemove(h)
	delete(t.byIP, r.ip)
	t.ports.unref(r.port)
	t.vendors.unref(r.vendor)
	*r = record{nextMAC: t.free}
	t.free = h
}

// chainKeys are a record's keys in the singly linked indexes.
type chainKeys struct {
	mac, cid, modem          uint64
	hasMAC, hasCID, hasModem bool
}

func (t *Table) keys(p *payload) chainKeys {
	k := chainKeys{mac: p.mac, modem: p.modem, hasMAC: p.hlen > 0, hasModem: p.flags&flagModem != 0}
	if id := clientID(p.blob); id != "" {
		k.cid, k.hasCID = maphash.String(t.seed, id), true
	}
	return k
}

func (t *Table) linkKeys(h uint32) {
	r := t.rec(h)
	k := t.keys(&r.payload)
	if k.hasMAC {
		r.nextMAC, t.byMAC[k.mac] = t.byMAC[k.mac], h
	}
	if k.hasCID {
		r.nextCID, t.byCID[k.cid] = t.byCID[k.cid], h
	}
	if k.hasModem {
		r.nextModem, t.byModem[k.modem] = t.byModem[k.modem], h
	}
}

func (t *Table) unlinkKeys(h uint32, k chainKeys) {
	if k.hasMAC {
		t.unchain(t.byMAC, k.mac, h, func(r *record) *uint32 { return &r.nextMAC })
	}
	if k.hasCID {
		t.unchain(t.byCID, k.cid, h, func(r *record) *uint32 { return &r.nextCID })
	}
	if k.hasModem {
		t.unchain(t.byModem, k.modem, h, func(r *record) *uint32 { return &r.nextModem })
	}
}

// unchain removes h from the chain of key in m.
func (t *Table) unchain(m map[uint64]uint32, key uint64, h uint32, next func(*record) *uint32) {
	head := m[key]
	if head == h {
		if n := *next(t.rec(h)); n != 0 {
			m[key] = n
		} else {
			delete(m, key)
		}
		*next(t.rec(h)) = 0
		return
	}
	for c := head; c != 0; {
		nc := next(t.rec(c))
		if *nc == h {
			*nc = *next(t.rec(h))
			*next(t.rec(h)) = 0
			return
		}
		c = *nc
	}
}

func (t *Table) linkPort(h uint32) {
	r := t.rec(h)
	if r.port == 0 {
		return
	}
	e := &t.ports.entries[r.port]
	r.prevPort, r.nextPort = 0, e.head
	if e.head != 0 {
		t.rec(e.head).prevPort = h
	}
	e.head = h
	e.n++
}

func (t *Table) unlinkPort(h uint32) {
	r := t.rec(h)
	if r.port == 0 {
		return
	}
	e := &t.ports.entries[r.port]
	if r.prevPort != 0 {
		t.rec(r.prevPort).nextPort = r.nextPort
	} else {
		e.head = r.nextPort
	}
	if r.nextPort != 0 {
		t.rec(r.nextPort).prevPort = r.prevPort
	}
	r.prevPort, r.nextPort = 0, 0
	e.n--
}
