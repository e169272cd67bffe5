package location

// pool interns strings that many bindings share (port names, vendor
// classes) as small ids, counting references so that an id is freed when
// the last binding using it goes: a subscriber sending a fresh vendor class
// in every DHCPREQUEST cannot grow the pool without bound.
type pool struct {
	ids     map[string]uint32
	entries []poolEntry // indexed by id; entries[0] is unused, 0 means none
	free    []uint32
}

type poolEntry struct {
	s    string
	refs uint32
	head uint32 // ports: the first record of the port's list
	n    uint32 // ports: the length of that list
}

func newPool() pool {
	return pool{ids: make(map[string]uint32), entries: make([]poolEntry, 1)}
}

// ref returns the id of s, adding it if new, and counts one more user.
// The empty string is id 0 and is not counted.
func (p *pool) ref(s []byte) uint32 {
	if len(s) == 0 {
		return 0
	}
	id, ok := p.ids[string(s)]
	if !ok {
		str := string(s)
		if n := len(p.free); n > 0 {
			id, p.free = p.free[n-1], p.free[:n-1]
			p.entries[id] = poolEntry{s: str}
		} else {
			id = uint32(len(p.entries))
			p.entries = append(p.entries, poolEntry{s: str})
		}
		p.ids[str] = id
	}
	p.entries[id].refs++
	return id
}

// unref drops one user of id, freeing it with the last.
func (p *pool) unref(id uint32) {
	if id == 0 {
		return
	}
	e := &p.entries[id]
	if e.refs--; e.refs == 0 {
		delete(p.ids, e.s)
		*e = poolEntry{}
		p.free = append(p.free, id)
	}
}

// str returns the string of id, "" for 0.
func (p *pool) str(id uint32) string {
	return p.entries[id].s
}

// lookup returns the id of s without adding it.
func (p *pool) lookup(s string) (uint32, bool) {
	id, ok := p.ids[s]
	return id, ok
}

// len returns how many distinct strings are interned.
func (p *pool) len() int {
	return len(p.ids)
}
