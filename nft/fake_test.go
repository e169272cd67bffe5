package nft

import (
	"errors"
	"net"
	"net/netip"
	"testing"
	"time"
)

func TestFake(t *testing.T) {
	f := &Fake{}
	a := elem("p1", "10.0.0.1", 1, t0.Add(time.Minute))
	b := elem("p1", "10.0.0.2", 2, t0.Add(time.Hour))
	if err := f.Apply([]Element{a}, nil, t0); !errors.Is(err, ErrNotBuilt) {
		t.Fatalf("Apply before Rebuild = %v, want ErrNotBuilt", err)
	}
	trusted := net.HardwareAddr{2, 0xaa, 0, 0, 0, 1}
	if err := f.Rebuild(Config{Ports: []Port{{Name: "p1"}}, TrustedMACs: []net.HardwareAddr{trusted}}, []Element{a}, t0); err != nil {
		t.Fatal(err)
	}
	allows := func(e Element, at time.Time) bool { return f.Allows(e.Port, e.IP, e.MAC, at) }
	if !allows(a, t0) || allows(b, t0) {
		t.Errorf("after Rebuild: allows a %v (want true), b %v (want false)", allows(a, t0), allows(b, t0))
	}
	if allows(Element{Port: "p2", IP: a.IP, MAC: a.MAC}, t0) {
		t.Error("binding of p1 passes on p2")
	}
	if !f.Allows("p2", netip.MustParseAddr("192.0.2.9"), trusted, t0) {
		t.Error("trusted MAC does not pass")
	}
	// Renew a, add b, then a expires at its new time, not the old one.
	renewed := a
	renewed.Expires = t0.Add(2 * time.Minute)
	if err := f.Apply([]Element{renewed, b}, nil, t0); err != nil {
		t.Fatal(err)
	}
	if at := t0.Add(90 * time.Second); !allows(a, at) {
		t.Error("renewed element expired at its old time")
	}
	if at := t0.Add(2 * time.Minute); allows(a, at) {
		t.Error("renewed element still passes at its expiry")
	}
	// Deleting twice, or deleting a missing element, is not an error.
	if err := f.Apply(nil, []Element{b, b, elem("p1", "10.0.0.9", 9, time.Time{})}, t0); err != nil {
		t.Fatal(err)
	}
	if allows(b, t0) {
		t.Error("deleted element still passes")
	}
	if got := f.StatsAt(t0).Allowed; got != 1 {
		t.Errorf("Allowed = %d, want 1", got)
	}
	f.Err = errors.New("netlink down")
	if err := f.Apply([]Element{b}, nil, t0); err != f.Err {
		t.Errorf("Apply with Err set = %v", err)
	}
	st := f.StatsAt(t0)
	if st.Programming.Failures != 1 || st.Programming.Rebuilds != 1 || st.Programming.Applies != 2 {
		t.Errorf("programming stats %+v", st.Programming)
	}
}
