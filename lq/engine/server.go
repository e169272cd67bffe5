package engine

import (
	"net/netip"
	"time"
)

// server is one DHCP server's state: the RFC 4388 §6.7 timer, the
// outstanding window, the queue of queries waiting for it, counters.
type server struct {
	addr netip.Addr
	idx  int

	// armed: the per-server timer is running (a response came less than
	// ServerTimer ago). It starts expired.
	armed         bool
	timerDeadline time.Time
	// probeStage is the RFC 2131 backoff stage of the single query an
	// expired server allows; it restarts when the server answers.
	probeStage int
	lastSend   time.Time

	window, ssthresh float64 // see window.go
	nextSeq          uint64  // numbers transmissions to this server
	recoverSeq       uint64  // nextSeq at the last window reduction
	srtt             time.Duration

	pending     attemptList // queued, oldest first
	outstanding attemptList // on the wire, in transmission order
	xids        burstMap[uint32, *attempt]

	n Counters
}

// canSend reports whether one more query may go to s now: up to the
// window while its timer runs; while expired, one at a time and never
// within MinProbeInterval of the previous transmission (RFC 4388 §6.7).
func (s *server) canSend(now time.Time) bool {
	if s.armed {
		return s.outstanding.n < int(s.window)
	}
	return s.outstanding.n == 0 && (s.lastSend.IsZero() || !now.Before(s.lastSend.Add(MinProbeInterval)))
}

// nextProbe is when an expired server with queries queued and none
// outstanding may be sent the next one; zero when that is not the case.
func (s *server) nextProbe() time.Time {
	if s.armed || s.pending.n == 0 || s.outstanding.n > 0 {
		return time.Time{}
	}
	if s.lastSend.IsZero() {
		return time.Time{}
	}
	return s.lastSend.Add(MinProbeInterval)
}
