package ops

import (
	"net"
	"net/netip"
	"sync"
	"time"
)

// spoofSampler lets through at most perSecond spoof.drop events per
// second; those it holds back are counted into the next one let through.
type spoofSampler struct {
	perSecond int
	mu        sync.Mutex
	second    time.Time // start of the current one-second window
	sent      int       // events in the window
	held      uint64    // held back since the last event
}

// admit reports whether an event may go at now, and how many were held
// back before it.
func (s *spoofSampler) admit(now time.Time) (bool, uint64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if now.Sub(s.second) >= time.Second || now.Before(s.second) {
		s.second, s.sent = now, 0
	}
	if s.sent >= s.perSecond {
		s.held++
		return false, 0
	}
	s.sent++
	held := s.held
	s.held = 0
	return true, held
}

// SpoofDrop reports a packet the anti-spoof rules dropped from an unknown
// source (the NFLOG report the ruleset sends for the first packet of each
// unknown source): iface is the port's interface, ip and mac the source.
// It becomes a spoof.drop event, sampled (Options.SpoofEventsPerSecond).
func (o *Ops) SpoofDrop(iface string, ip netip.Addr, mac net.HardwareAddr) {
	now := o.now()
	ok, held := o.spoof.admit(now)
	if !ok {
		return
	}
	port := portNamesByInterface(o.Config().Config)[iface]
	o.hub.publish(Event{Type: EventSpoofDrop, Time: now, Port: port, Interface: iface, IP: ip,
		MAC: mac.String(), Suppressed: held})
}
