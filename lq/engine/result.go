package engine

import (
	"errors"
	"net/netip"
	"time"

	"github.com/leaseguard/leaseguard/lq"
)

// ErrNoAnswer is the Err of a Result for which no server answered.
var ErrNoAnswer = errors.New("no DHCP server answered")

// Result is the outcome of a query: the winning answer among the servers
// asked (RFC 4388 §6.8), and what each of them said.
type Result struct {
	Key   Key
	Query lq.Query
	// Type is the winning answer (LeaseActive, LeaseUnassigned or
	// LeaseUnknown), 0 when no server answered (then Err is ErrNoAnswer).
	Type lq.MessageType
	// Binding is the winning answer's, absolute times computed at its
	// receipt; only IP is set for LeaseUnassigned, nothing for LeaseUnknown.
	Binding lq.Binding
	// Server is the server whose answer won (invalid when none answered).
	Server netip.Addr
	// Answers lists every server asked, in Config.Servers order, for the
	// operator's `query` command.
	Answers []ServerAnswer
	Err     error
	// Cached: answered from the cache, nothing sent. At is when the
	// cached answer was decided; Answers is nil (SubmitFresh asks again).
	Cached bool
	// Update: a server that had not answered when an earlier Result for
	// Key was delivered has since given a better answer.
	Update bool
	// At is when the result was decided.
	At time.Time
}

// Outcome is where one server's part in a query stands.
type Outcome uint8

const (
	// Answered: the server answered; ServerAnswer.Type says how.
	Answered Outcome = iota + 1
	// TimedOut: no answer after every retransmission, or the server's
	// timer was expired and its probe went unanswered.
	TimedOut
	// Waiting: the query is still outstanding at a server whose timer has
	// expired; a better answer would come as an Update.
	Waiting
	// Abandoned: the result was decided while the query was still queued
	// for this server (its timer expired, one query at a time).
	Abandoned
)

func (o Outcome) String() string {
	switch o {
	case Answered:
		return "answered"
	case TimedOut:
		return "timed out"
	case Waiting:
		return "waiting"
	case Abandoned:
		return "abandoned"
	}
	return "outcome ?"
}

// ServerAnswer is one server's part in a Result.
type ServerAnswer struct {
	Server  netip.Addr
	Outcome Outcome
	Type    lq.MessageType // when Answered
	Binding lq.Binding     // when Answered
	// Transmissions is how many times the query was sent to this server.
	Transmissions int
	// RTT is from the first transmission to the answer.
	RTT time.Duration
}

// rank orders answer types: ACTIVE beats UNASSIGNED beats UNKNOWN beats
// nothing (RFC 4388 §6.8: an ACTIVE or UNASSIGNED comes from a server that
// manages the address, an UNKNOWN from one that does not).
func rank(t lq.MessageType) int {
	switch t {
	case lq.LeaseActive:
		return 3
	case lq.LeaseUnassigned:
		return 2
	case lq.LeaseUnknown:
		return 1
	}
	return 0
}

// better reports whether answer a (type and binding) should replace b, the
// answer kept so far. Among ACTIVEs the more recent client transaction wins
// (RFC 4388 §6.8: option 91, made absolute at receipt), but only when it is
// newer by at least one second, the option's resolution: two servers
// reporting the same transaction a few milliseconds apart must not look
// different. An ACTIVE without option 91 is older than any with it. Ties
// keep b, the first received.
func better(at lq.MessageType, a *lq.Binding, bt lq.MessageType, b *lq.Binding) bool {
	if ra, rb := rank(at), rank(bt); ra != rb {
		return ra > rb
	}
	if at != lq.LeaseActive || a.LastTransaction.IsZero() {
		return false
	}
	return b.LastTransaction.IsZero() || a.LastTransaction.Sub(b.LastTransaction) >= time.Second
}
