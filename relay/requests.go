package relay

import (
	"bytes"
	"net/netip"
	"sync"
	"time"

	"github.com/leaseguard/leaseguard/lq"
)

// reqKey identifies a client transaction: a server's reply carries the
// request's xid and chaddr back (RFC 2131 §4.3).
type reqKey struct {
	xid    uint32
	hlen   uint8
	chaddr [16]byte
}

func keyOf(p lq.Packet) reqKey {
	k := reqKey{xid: p.XID(), hlen: p.HLen()}
	copy(k.chaddr[:], p.CHAddr())
	return k
}

// request is what the relay remembers of one relayed client message.
type request struct {
	key   reqKey
	at    time.Time
	port  int
	typ   lq.MessageType
	own82 bool // no option 82 of ours went out: route the reply by memory
	// requested is option 50, else ciaddr: the address a DHCPNAK refuses.
	requested          netip.Addr
	clientID, vendor   []byte // buffers reused from slot to slot
	hasClient, hasVend bool
	live               bool
}

// requestLog is a bounded memory of recent client messages: a ring whose
// oldest entry is overwritten, indexed by transaction. Slots keep their
// buffers, so once warm remembering allocates nothing.
type requestLog struct {
	mu    sync.Mutex
	ring  []request
	next  int
	index map[reqKey]int
	ttl   time.Duration
}

func newRequestLog(size int, ttl time.Duration) *requestLog {
	return &requestLog{ring: make([]request, size), index: make(map[reqKey]int, size), ttl: ttl}
}

// remember records p, heard on port at now; a retransmission (same
// transaction) refreshes its entry.
func (l *requestLog) remember(now time.Time, p lq.Packet, port int, own82 bool) {
	k := keyOf(p)
	l.mu.Lock()
	defer l.mu.Unlock()
	i, ok := l.index[k]
	if !ok {
		i = l.next
		l.next = (l.next + 1) % len(l.ring)
		if old := &l.ring[i]; old.live && l.index[old.key] == i {
			delete(l.index, old.key)
		}
		l.index[k] = i
	}
	r := &l.ring[i]
	r.key, r.at, r.port, r.typ, r.own82, r.live = k, now, port, p.MessageType(), own82, true
	r.requested = p.CIAddr()
	if v, ok := p.Option(optRequestedIP); ok && len(v) == 4 {
		r.requested = netip.AddrFrom4([4]byte(v))
	}
	r.clientID, r.hasClient = p.AppendOption(r.clientID[:0], lq.OptClientID)
	r.vendor, r.hasVend = p.AppendOption(r.vendor[:0], lq.OptVendorClass)
}

// find returns the live entry of k at now; the caller holds mu.
func (l *requestLog) find(now time.Time, k reqKey) (*request, bool) {
	i, ok := l.index[k]
	if !ok {
		return nil, false
	}
	r := &l.ring[i]
	if now.Sub(r.at) > l.ttl {
		return nil, false
	}
	return r, true
}

// route returns the port a reply to transaction k goes to when it carries
// no option 82 of ours, and whether the request went out with the
// client's own option 82 (or none); it does not allocate.
func (l *requestLog) route(now time.Time, k reqKey) (port int, own82, ok bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	r, ok := l.find(now, k)
	if !ok {
		return 0, false, false
	}
	return r.port, r.own82, true
}

// recalled is a copy of what a request said, for gleaning its answer.
type recalled struct {
	port        int
	typ         lq.MessageType
	requested   netip.Addr
	clientID    []byte
	vendorClass []byte
}

// recall copies out the request of transaction k.
func (l *requestLog) recall(now time.Time, k reqKey) (recalled, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	r, ok := l.find(now, k)
	if !ok {
		return recalled{}, false
	}
	c := recalled{port: r.port, typ: r.typ, requested: r.requested}
	if r.hasClient {
		c.clientID = bytes.Clone(r.clientID)
	}
	if r.hasVend {
		c.vendorClass = bytes.Clone(r.vendor)
	}
	return c, true
}

// len is the number of remembered entries, expired ones included.
func (l *requestLog) len() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.index)
}
