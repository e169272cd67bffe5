package engine

import (
	"math/rand/v2"
	"net/netip"
	"testing"
	"time"

	"github.com/leaseguard/leaseguard/lq"
)

var (
	t0   = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	srvA = netip.MustParseAddr("192.0.2.1")
	srvB = netip.MustParseAddr("192.0.2.2")
	subs = netip.MustParsePrefix("10.0.0.0/16")
)

// newTestEngine returns an engine for srvA (and whatever edit adds) over
// subs, with a seeded random source.
func newTestEngine(t testing.TB, edit func(*Config)) *Engine {
	t.Helper()
	cfg := Config{Servers: []netip.Addr{srvA}, SubscriberPrefixes: []netip.Prefix{subs}}
	if edit != nil {
		edit(&cfg)
	}
	e, err := New(cfg, seeded(1))
	if err != nil {
		t.Fatal(err)
	}
	return e
}

func seeded(seed uint64) func() float64 {
	return rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15)).Float64
}

func constRand(v float64) func() float64 { return func() float64 { return v } }

func ipQuery(s string) lq.Query {
	return lq.Query{Kind: lq.ByIP, IP: netip.MustParseAddr(s)}
}

// nthIP is the n-th address of subs after the network address.
func nthIP(n int) netip.Addr {
	b := subs.Addr().As4()
	v := uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3]) + uint32(n)
	return netip.AddrFrom4([4]byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)})
}

// answer builds the reply a server gives to tx.
func answer(tx Transmit, typ lq.MessageType) lq.Reply {
	r := lq.Reply{Type: typ, XID: tx.XID, ServerID: tx.Server}
	if typ != lq.LeaseUnknown {
		r.CIAddr = tx.Query.IP
	}
	if typ == lq.LeaseActive {
		r.HType, r.HWAddr = tx.Query.HType, tx.Query.HWAddr
		if tx.Query.Kind == lq.ByIP {
			r.HType, r.HWAddr = 1, []byte{0x00, 0x11, 0x22, 0x33, 0x44, tx.Query.IP.As4()[3]}
		}
		r.LeaseTime, r.HasLeaseTime = time.Hour, true
	}
	return r
}

func active(tx Transmit, lastTransaction time.Duration) lq.Reply {
	r := answer(tx, lq.LeaseActive)
	r.LastTransaction, r.HasLastTransaction = lastTransaction, true
	return r
}

func mustSubmit(t testing.TB, e *Engine, now time.Time, q lq.Query) Ticket {
	t.Helper()
	tk, err := e.Submit(now, q)
	if err != nil {
		t.Fatalf("Submit(%v): %v", q.IP, err)
	}
	return tk
}

// only returns the transmits to server s.
func only(txs []Transmit, s netip.Addr) []Transmit {
	var out []Transmit
	for _, tx := range txs {
		if tx.Server == s {
			out = append(out, tx)
		}
	}
	return out
}

// pollCopy polls and copies the engine-owned slice.
func pollCopy(e *Engine, now time.Time) []Transmit {
	return append([]Transmit(nil), e.Poll(now)...)
}

// resultsCopy drains and copies the results.
func resultsCopy(e *Engine) []Result {
	return append([]Result(nil), e.Results()...)
}

func addrEqual(a, b netip.Addr) bool { return a == b }
