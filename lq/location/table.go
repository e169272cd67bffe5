package location

import (
	"errors"
	"fmt"
	"hash/maphash"
	"net"
	"net/netip"
	"sync"
	"time"
)

// Config tunes a Table. The zero Config is usable.
type Config struct {
	// DefaultLease is the lifetime given to a binding that arrives without
	// an expiry (no option 51), so that no binding outlives every timer.
	// Zero means one hour.
	DefaultLease time.Duration
	// EventBuffer is how many events the table keeps for subscribers that
	// have not read them yet; a subscriber further behind gets a LagError
	// and must resync. Rounded up to a power of two; zero means 4096.
	EventBuffer int
}

// Records live in fixed-size chunks so that growing the table never copies
// it (no pause under the lock, no doubling slack) and a record's handle
// stays valid for its whole life.
const (
	chunkShift = 8
	chunkSize  = 1 << chunkShift
	chunkMask  = chunkSize - 1
)

// record is a binding in the table: its payload, its interned strings and
// its links in every index. Handles (uint32) name records; 0 is none.
type record struct {
	payload
	port, vendor uint32 // pool ids

	// Singly linked chains of the records sharing a hardware address,
	// client-id hash or modem; short (a client's or a modem's addresses),
	// so unlinking walks them. nextMAC also links the free list.
	nextMAC, nextCID, nextModem uint32
	// Doubly linked list of a port's records, which may be thousands long.
	nextPort, prevPort uint32
	heapAt             uint32 // position in the expiry heap
}

// Table is the location table. All writes go through Upsert, Remove,
// Restore and Expire, which serialize on one lock; lookups share a read
// lock and copy compact records out before expanding them, so readers hold
// the lock briefly. Safe for concurrent use.
type Table struct {
	mu     sync.RWMutex
	cfg    Config
	chunks [][]record
	next   uint32 // the next never-used handle
	free   uint32 // head of the free list

	byIP    map[uint32]uint32
	byMAC   map[uint64]uint32 // packed hardware address -> chain head
	byCID   map[uint64]uint32 // maphash of the client-id -> chain head
	byModem map[uint64]uint32
	ports   pool
	vendors pool
	heap    []uint32 // min-heap by (expiry, IP)
	seed    maphash.Seed
	scratch []byte        // packing buffer, under mu
	earlier chan struct{} // see ExpiryEarlier; capacity 1

	log   eventLog
	stats counters
}

// New returns an empty table.
func New(cfg Config) *Table {
	if cfg.DefaultLease <= 0 {
		cfg.DefaultLease = time.Hour
	}
	if cfg.EventBuffer <= 0 {
		cfg.EventBuffer = 4096
	}
	return &Table{
		cfg:     cfg,
		next:    1,
		byIP:    make(map[uint32]uint32),
		byMAC:   make(map[uint64]uint32),
		byCID:   make(map[uint64]uint32),
		byModem: make(map[uint64]uint32),
		ports:   newPool(),
		vendors: newPool(),
		seed:    maphash.MakeSeed(),
		earlier: make(chan struct{}, 1),
	}
}

// Result says what a write did.
type Result uint8

const (
	ResultAdded     Result = iota + 1 // new binding; an Added event
	ResultChanged                     // binding replaced; a Changed event
	ResultUnchanged                   // same content as the table's; no event
	ResultStale                       // lost to the table's binding by precedence; no event
	ResultExpired                     // the binding had already expired; no event
	ResultRemoved                     // binding removed; a Removed event
	ResultAbsent                      // nothing bound at that address; no event
	ResultNotOwner                    // bound to another client, kept; no event
)

var resultNames = [...]string{"", "added", "changed", "unchanged", "stale", "expired", "removed", "absent", "not owner"}

func (r Result) String() string {
	if int(r) < len(resultNames) && r != 0 {
		return resultNames[r]
	}
	return fmt.Sprintf("Result(%d)", uint8(r))
}

// Upsert adds or replaces the binding of b.IP under the precedence rules
// of b.Source:
//
//   - Gleaned (a DHCPACK the relay forwarded): always wins, creating or
//     refreshing the binding; its LastTransaction is set to now.
//   - Leasequery (a DHCPLEASEACTIVE): always replaces a snapshot hint.
//     It replaces a gleaned binding only when its LastTransaction is
//     strictly later: at equal times the relay saw that very transaction
//     itself, and a reply without a last transaction time cannot be shown
//     to be newer. It replaces an earlier leasequery binding when its time
//     is equal or later (a repeated answer refreshes the lease), when it has
//     a time and the table's has none, or when neither has one; it loses
//     when the table's has a time and it has none (RFC 4388 §6.8: the last
//     transaction time decides between servers).
//   - Snapshot (a hint restored after reboot): only fills an empty address.
//
// A binding without an expiry gets now + Config.DefaultLease; one that has
// expired by now is refused (ResultExpired). Times are kept to the second.
func (t *Table) Upsert(b Binding, now time.Time) (Result, error) {
	if b.Source == Gleaned {
		b.LastTransaction = now
	}
	if b.Expiry.IsZero() {
		b.Expiry = now.Add(t.cfg.DefaultLease)
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	// Packing into the table's scratch buffer under the lock costs less
	// than the allocation a buffer of our own would escape into.
	p, err := pack(&b, t.scratch[:0])
	if err != nil {
		return 0, err
	}
	t.scratch = p.blob
	if p.expiry <= toSecs(now) {
		return ResultExpired, nil
	}
	return t.upsertLocked(&p, toSecs(now)), nil
}

func (t *Table) upsertLocked(p *packed, now secs) Result {
	h, ok := t.byIP[p.ip]
	if !ok {
		h = t.insert(p)
		t.stats.added++
		t.emit(eventRec{kind: Added, at: now, new: t.view(h)})
		return ResultAdded
	}
	r := t.rec(h)
	if !replaces(&r.payload, &p.payload) {
		t.stats.stale++
		return ResultStale
	}
	if t.sameContent(r, p) {
		return ResultUnchanged
	}
	old := t.view(h)
	t.update(h, p)
	t.stats.changed++
	t.emit(eventRec{kind: Changed, at: now, old: old, new: t.view(h)})
	return ResultChanged
}

// replaces reports whether incoming replaces cur; see Upsert.
func replaces(cur, in *payload) bool {
	switch in.source {
	case Gleaned:
		return true
	case Leasequery:
		switch cur.source {
		case Snapshot:
			return true
		case Gleaned:
			return in.lastTx != 0 && in.lastTx > cur.lastTx
		}
		if in.lastTx == 0 {
			return cur.lastTx == 0
		}
		return in.lastTx >= cur.lastTx
	}
	return false
}

func (t *Table) sameContent(r *record, p *packed) bool {
	if string(p.blob) != r.blob || p.port != t.ports.str(r.port) || string(p.vendor) != t.vendors.str(r.vendor) {
		return false
	}
	cur := r.payload
	cur.blob = ""
	return cur == p.payload
}

// Removal names a binding to remove and why.
type Removal struct {
	IP     netip.Addr
	Reason Reason
	// HWAddr and ClientID identify the client a DHCPRELEASE, DHCPDECLINE
	// or DHCPNAK came from. When either is set, the binding is removed only
	// if it belongs to that client (client-ids compared when both sides
	// have one, else hardware addresses), so that one subscriber cannot
	// release another's address. Leave both empty for an operator clear or
	// a server's DHCPLEASEUNASSIGNED.
	HWAddr   net.HardwareAddr
	ClientID []byte
}

// Remove removes the binding of r.IP.
func (t *Table) Remove(r Removal, now time.Time) (Result, error) {
	ip, err := ipv4(r.IP, "IP")
	if err != nil {
		return 0, err
	}
	if r.Reason < Released || r.Reason > Expired {
		return 0, fmt.Errorf("removal of %v: unknown reason %d", r.IP, r.Reason)
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	h, ok := t.byIP[ip]
	if !ok {
		return ResultAbsent, nil
	}
	if !owns(&t.rec(h).payload, &r) {
		t.stats.notOwner++
		return ResultNotOwner, nil
	}
	t.emit(t.removeLocked(h, r.Reason, toSecs(now)))
	return ResultRemoved, nil
}

func owns(p *payload, r *Removal) bool {
	if len(r.ClientID) == 0 && len(r.HWAddr) == 0 {
		return true
	}
	if id := clientID(p.blob); len(r.ClientID) > 0 && id != "" {
		return id == string(r.ClientID)
	}
	return len(r.HWAddr) > 0 && p.hwAddrEqual(r.HWAddr)
}

// removeLocked unlinks and frees h, returning its Removed event.
func (t *Table) removeLocked(h uint32, reason Reason, now secs) eventRec {
	e := eventRec{kind: Removed, reason: reason, at: now, old: t.view(h)}
	t.stats.removed[reason]++
	t.release(h)
	return e
}

// Restore loads bindings saved before a reboot as snapshot hints: each
// fills its address only if nothing is bound there and it has not expired
// by now. It returns how many were added; invalid bindings are skipped and
// reported together.
func (t *Table) Restore(bindings []Binding, now time.Time) (int, error) {
	var errs []error
	added := 0
	for _, b := range bindings {
		b.Source = Snapshot
		res, err := t.Upsert(b, now)
		if err != nil {
			errs = append(errs, err)
		}
		if res == ResultAdded {
			added++
		}
	}
	return added, errors.Join(errs...)
}

// Stats are the table's counters, for the console and metrics.
type Stats struct {
	Bindings, Ports, Modems int
	Added, Changed          uint64
	Removed                 map[Reason]uint64
	Stale                   uint64 // leasequery results that lost to a fresher binding
	NotOwner                uint64 // removals refused: the binding belongs to another client
	Lagged                  uint64 // times a subscriber fell behind and had to resync
	Seq                     uint64 // sequence number of the last event
}

type counters struct {
	added, changed, stale, notOwner uint64
	removed                         [Expired + 1]uint64
}

// Stats returns the current counters.
func (t *Table) Stats() Stats {
	t.mu.RLock()
	defer t.mu.RUnlock()
	s := Stats{
		Bindings: len(t.byIP), Ports: t.ports.len(), Modems: len(t.byModem),
		Added: t.stats.added, Changed: t.stats.changed,
		Stale: t.stats.stale, NotOwner: t.stats.notOwner,
		Removed: make(map[Reason]uint64), Seq: t.log.last,
		Lagged: t.log.lagged.Load(),
	}
	for r := Released; r <= Expired; r++ {
		if n := t.stats.removed[r]; n > 0 {
			s.Removed[r] = n
		}
	}
	return s
}

// Len returns the number of bindings.
func (t *Table) Len() int {
	t.mu.RLock()
	defer t.mu.RUnlock()
	return len(t.byIP)
}
