package engine

import "time"

// The outstanding window of a server whose timer runs adapts to loss the
// way TCP's congestion window does (RFC 5681 slow start and congestion
// avoidance), because a busy DHCP server loses queries silently: ISC dhcpd
// answers about 5,000 queries/s, best near 50 in flight, and from 100 in
// flight its socket drops about 3 % (shared/notes/peers.md).
//
//   - The window starts at Config.InitialWindow whenever the server's timer
//     starts running (its first answer, or its first after an expiry).
//   - Growth: an answer to a transmission sent since the window last
//     started or shrank, received while other queries wait for a slot, adds
//     1 below the slow-start threshold (the window doubles per round trip)
//     and 1/window above it (one per round trip). An idle window does not
//     grow, so a quiet period cannot license a later burst.
//   - Loss: a transmission is presumed lost when its retransmission timer
//     fires, or as soon as answers to three queries sent after it to the
//     same server have arrived (servers answer in order). Waiting for RFC
//     2131's first retransmission alone, 4 s, would let the window
//     overshoot for hundreds of round trips at dhcpd's speed. A loss
//     halves the window and sets the threshold there, at most once per
//     round trip: losses among transmissions sent before the last
//     reduction do not reduce it again.
//   - It stays within 1..Config.MaxWindow (≤ 200, RFC 4388 §6.7).
//
// A presumed loss only shrinks the window: the query is still retransmitted
// on the RFC 2131 schedule.
const (
	lossBackoff        = 0.5 // window multiplier on a loss
	overtakenThreshold = 3   // later answers that make a transmission presumed lost
	srttGain           = 8   // smoothed RTT: 1/8 of each new sample (RFC 6298)
)

// restartWindow is called when the server's timer starts running.
func (s *server) restartWindow(cfg *Config) {
	s.window = float64(cfg.InitialWindow)
	s.ssthresh = max(s.ssthresh, float64(cfg.InitialWindow))
	s.recoverSeq = s.nextSeq
}

// onAnswer updates the window and RTT for an answer to outstanding
// attempt a, before a leaves the outstanding list.
func (s *server) onAnswer(a *attempt, now time.Time, cfg *Config) {
	if a.transmissions == 1 { // Karn: an answer to a retransmitted query is ambiguous
		s.sampleRTT(now.Sub(a.firstSent))
		s.markOvertaken(a)
	}
	// Grow only on answers to transmissions sent under the current window
	// (not the probe that armed the timer, not those sent before the last
	// reduction), and only while queries wait for a slot.
	if s.pending.n == 0 || a.seq <= s.recoverSeq {
		return
	}
	if s.window < s.ssthresh {
		s.window++
	} else {
		s.window += 1 / s.window
	}
	s.window = min(s.window, float64(cfg.MaxWindow))
}

// markOvertaken counts the answer to a against every transmission sent
// before it that is still unanswered.
func (s *server) markOvertaken(a *attempt) {
	for x := s.outstanding.head; x != nil && x.seq < a.seq; x = x.next {
		x.overtaken++
		if x.overtaken == overtakenThreshold {
			s.noteLoss(x)
		}
	}
}

// noteLoss halves the window for a presumed lost transmission, unless the
// loss belongs to a round trip already answered by a reduction.
func (s *server) noteLoss(a *attempt) {
	if !s.armed || a.lossNoted || a.seq <= s.recoverSeq {
		return
	}
	a.lossNoted = true
	s.n.LossEvents++
	s.window = max(1, s.window*lossBackoff)
	s.ssthresh = s.window
	s.recoverSeq = s.nextSeq
}

func (s *server) sampleRTT(rtt time.Duration) {
	if s.srtt == 0 {
		s.srtt = rtt
		return
	}
	s.srtt += (rtt - s.srtt) / srttGain
}
