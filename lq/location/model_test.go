package location

import (
	"bytes"
	"cmp"
	"net"
	"net/netip"
	"slices"
	"time"
)

// model is the location table written the obvious way, a map from address
// to Binding with linear scans, against which the property test checks the
// real one. It implements the rules as documented, independently of the
// table's code.
type model struct {
	m            map[netip.Addr]Binding
	defaultLease time.Duration
	seq          uint64
}

func newModel() *model {
	return &model{m: make(map[netip.Addr]Binding), defaultLease: time.Hour}
}

func (m *model) event(e Event) []Event {
	m.seq++
	e.Seq = m.seq
	return []Event{e}
}

func (m *model) upsert(b Binding, now time.Time) (Result, []Event) {
	b.IP = b.IP.Unmap()
	if b.Source == Gleaned {
		b.LastTransaction = now
	}
	if b.Expiry.IsZero() {
		b.Expiry = now.Add(m.defaultLease)
	}
	if !b.Expiry.After(now) {
		return ResultExpired, nil
	}
	cur, ok := m.m[b.IP]
	if !ok {
		m.m[b.IP] = b
		return ResultAdded, m.event(Event{Kind: Added, Time: now, New: b})
	}
	if !modelWins(cur, b) {
		return ResultStale, nil
	}
	if equalBindings(cur, b) {
		return ResultUnchanged, nil
	}
	m.m[b.IP] = b
	return ResultChanged, m.event(Event{Kind: Changed, Time: now, Old: cur, New: b})
}

func modelWins(cur, in Binding) bool {
	curLT, inLT := cur.LastTransaction, in.LastTransaction
	switch {
	case in.Source == Gleaned:
		return true
	case in.Source == Snapshot:
		return false
	case cur.Source == Snapshot:
		return true
	case cur.Source == Gleaned:
		return !inLT.IsZero() && inLT.After(curLT)
	case inLT.IsZero():
		return curLT.IsZero()
	default:
		return curLT.IsZero() || !inLT.Before(curLT)
	}
}

func (m *model) remove(r Removal, now time.Time) (Result, []Event) {
	cur, ok := m.m[r.IP]
	if !ok {
		return ResultAbsent, nil
	}
	owner := true
	switch {
	case len(r.ClientID) > 0 && len(cur.ClientID) > 0:
		owner = bytes.Equal(r.ClientID, cur.ClientID)
	case len(r.HWAddr) > 0:
		owner = bytes.Equal(r.HWAddr, cur.HWAddr)
	case len(r.ClientID) > 0:
		owner = false
	}
	if !owner {
		return ResultNotOwner, nil
	}
	delete(m.m, r.IP)
	return ResultRemoved, m.event(Event{Kind: Removed, Time: now, Old: cur, Reason: r.Reason})
}

func (m *model) expire(now time.Time) []Event {
	var gone []Binding
	for _, b := range m.m {
		if !b.Expiry.After(now) {
			gone = append(gone, b)
		}
	}
	slices.SortFunc(gone, func(a, b Binding) int {
		return cmp.Or(a.Expiry.Compare(b.Expiry), a.IP.Compare(b.IP))
	})
	var evs []Event
	for _, b := range gone {
		delete(m.m, b.IP)
		evs = append(evs, m.event(Event{Kind: Removed, Time: now, Old: b, Reason: Expired})...)
	}
	return evs
}

func (m *model) nextExpiry() time.Time {
	var next time.Time
	for _, b := range m.m {
		if next.IsZero() || b.Expiry.Before(next) {
			next = b.Expiry
		}
	}
	return next
}

func (m *model) byIP(ip netip.Addr) (Binding, bool) {
	b, ok := m.m[ip]
	return b, ok
}

func (m *model) where(match func(Binding) bool) []Binding {
	var out []Binding
	for _, b := range m.m {
		if match(b) {
			out = append(out, b)
		}
	}
	slices.SortFunc(out, func(a, b Binding) int { return a.IP.Compare(b.IP) })
	return out
}

func (m *model) byMAC(hw net.HardwareAddr) []Binding {
	return m.where(func(b Binding) bool { return len(hw) > 0 && bytes.Equal(b.HWAddr, hw) })
}

func (m *model) byClientID(id []byte) []Binding {
	return m.where(func(b Binding) bool { return len(id) > 0 && bytes.Equal(b.ClientID, id) })
}

func (m *model) byPort(port string) []Binding {
	return m.where(func(b Binding) bool { return b.Port == port && port != "" })
}

func (m *model) byModem(modem net.HardwareAddr) []Binding {
	return m.where(func(b Binding) bool { return len(modem) == 6 && bytes.Equal(b.Modem, modem) })
}

// equalBindings compares two bindings field by field, empty and nil alike.
func equalBindings(a, b Binding) bool {
	if a.IP != b.IP || a.HType != b.HType || a.Server != b.Server || a.Port != b.Port || a.Source != b.Source ||
		!a.Expiry.Equal(b.Expiry) || !a.T1.Equal(b.T1) || !a.T2.Equal(b.T2) || !a.LastTransaction.Equal(b.LastTransaction) ||
		!bytes.Equal(a.HWAddr, b.HWAddr) || !bytes.Equal(a.ClientID, b.ClientID) || !bytes.Equal(a.VendorClass, b.VendorClass) ||
		!bytes.Equal(a.CircuitID, b.CircuitID) || !bytes.Equal(a.Modem, b.Modem) ||
		!slices.Equal(a.AssociatedIPs, b.AssociatedIPs) || len(a.AgentInfo) != len(b.AgentInfo) {
		return false
	}
	for i := range a.AgentInfo {
		if a.AgentInfo[i].Code != b.AgentInfo[i].Code || !bytes.Equal(a.AgentInfo[i].Data, b.AgentInfo[i].Data) {
			return false
		}
	}
	return true
}
