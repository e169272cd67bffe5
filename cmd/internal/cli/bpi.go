package cli

import (
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/leaseguard/leaseguard/cmd/internal/ops"
)

// WriteBPI writes BPI+'s settings, one line per modem with its keys'
// sequence numbers and time left, then the counters.
func WriteBPI(w io.Writer, b ops.BPI, now time.Time) error {
	if _, err := fmt.Fprintf(w, "BPI+ downstream %s, RF %s, %d modems\nGenerated keys %s, TEK lifetime %s, grace %s\n",
		b.DownstreamInterface, b.RFInterface, len(b.Modems), b.Suite, compact(seconds(b.TEKLifetimeSeconds)),
		compact(seconds(b.TEKGraceSeconds))); err != nil {
		return err
	}
	if err := writeBPIModems(w, b.Modems, now); err != nil {
		return err
	}
	if err := writeBPICounters(w, b.Counters); err != nil {
		return err
	}
	if !b.Since.IsZero() {
		_, err := fmt.Fprintf(w, "Counters cleared %s (%s ago)\n", b.Since.Format(timeLayout), ago(b.Since, now))
		return err
	}
	return nil
}

func seconds(s int64) time.Duration { return time.Duration(s) * time.Second }

func writeBPIModems(w io.Writer, modems []ops.BPIModem, now time.Time) error {
	if len(modems) == 0 {
		_, err := fmt.Fprintln(w, "No modems configured (bpi.modems).")
		return err
	}
	t := table{header: []string{"Modem", "SAID", "State", "TEK", "Left", "Next", "Left", "Bindings"}}
	for _, m := range modems {
		cur, curLeft := tekCells(m.Current, now)
		next, nextLeft := tekCells(m.Next, now)
		t.add(m.MAC, itoa(m.SAID), bpiState(m.State), cur, curLeft, next, nextLeft, itoa(m.Subscribers))
	}
	if err := t.write(w); err != nil {
		return err
	}
	_, err := fmt.Fprintln(w, "TEK: the key sequence encrypting now, Next: the one after it. NO KEY: privacy\non but no valid key, the modem's frames are dropped; clear: privacy disabled.")
	return err
}

func bpiState(s string) string {
	if s == ops.BPINoKey {
		return "NO KEY"
	}
	return s
}

func tekCells(k *ops.BPITEK, now time.Time) (seq, left string) {
	if k == nil {
		return "-", "-"
	}
	return itoa(k.Seq), compactLeft(k.Expires, now)
}

// compactLeft is left without the "infinite" of lease times: a key
// configured to expire far ahead still shows when.
func compactLeft(t, now time.Time) string {
	if !t.After(now) {
		return "expired"
	}
	return compact(t.Sub(now))
}

func writeBPICounters(w io.Writer, c ops.BPICounters) error {
	var frames, keys pairs
	frames.add("Read", "%d (%d pairs encrypted together)", c.Frames, c.Pairs)
	frames.add("Encrypted", "%d", c.Encrypted)
	frames.add("Sent in clear", "%d", c.Clear)
	frames.add("Dropped: unknown location", "%d", c.UnknownLocation)
	frames.add("Dropped: no key", "%d", c.NoKey)
	frames.add("Dropped: no destination", "%d", c.NoDestination)
	frames.add("RF link errors", "%d", c.LinkErrors)
	l := c.Leasequeries
	frames.add("Leasequeries started", "%d", l.Triggered)
	frames.add("Leasequeries not started", "%d holdoff, %d rate, %d queue full, %d not subscriber",
		l.Held, l.RateLimited, l.QueueFull, l.NotSubscriber)
	frames.add("Leasequery results", "%d active, %d not active, %d failed, %d in table",
		l.Active, l.NotActive, l.Failed, l.InTable)
	keys.add("Key requests", "%d", c.KeyRequests)
	keys.add("Key replies/rejects", "%d/%d", c.KeyReplies, c.KeyRejects)
	keys.add("Key errors", "%d", c.KeyErrors)
	keys.add("Key pairs installed", "%d (one per SA at start, one per rollover)", c.KeyPairs)
	keys.add("Other upstream frames", "%d", c.UpstreamOther)
	width := max(frames.width(), keys.width())
	for _, s := range []struct {
		title string
		p     *pairs
	}{{"Downstream frames", &frames}, {"Key management (BPKM)", &keys}} {
		if _, err := fmt.Fprintln(w, s.title); err != nil {
			return err
		}
		if err := s.p.writeWidth(w, "  ", width); err != nil {
			return err
		}
	}
	return nil
}

// WriteBPIModem writes one modem's privacy and keys in detail.
func WriteBPIModem(w io.Writer, m ops.BPIModem, now time.Time) error {
	if _, err := fmt.Fprintf(w, "BPI modem %s\n", m.MAC); err != nil {
		return err
	}
	var p pairs
	p.add("Primary SAID", "%d", m.SAID)
	privacy := "off (frames sent in clear)"
	if m.Privacy {
		privacy = "on, keys " + m.Keys
	}
	p.add("Privacy", "%s", privacy)
	ak := "none (the modem cannot fetch keys by Key Request)"
	if m.AuthKey {
		ak = "provisioned"
	}
	p.add("Authorization key", "%s", ak)
	p.add("State", "%s", bpiState(m.State))
	p.add("Current TEK", "%s", tekDetail(m.Current, now))
	p.add("Next TEK", "%s", tekDetail(m.Next, now))
	p.add("Bindings", "%d", m.Subscribers)
	p.add("Ports", "%s", orDash(strings.Join(m.Ports, ", ")))
	return p.write(w, "  ")
}

func tekDetail(k *ops.BPITEK, now time.Time) string {
	if k == nil {
		return "-"
	}
	left := compactLeft(k.Expires, now)
	if left != "expired" {
		left += " left"
	}
	return fmt.Sprintf("seq %d, expires %s (%s)", k.Seq, k.Expires.Format(timeLayout), left)
}

// addBPICounters is the BPI+ section of show counters.
func addBPICounters(p *pairs, c ops.BPICounters) {
	p.add("Frames read", "%d: %d encrypted, %d in clear", c.Frames, c.Encrypted, c.Clear)
	p.add("Frames dropped", "%d unknown location, %d no key, %d no destination", c.UnknownLocation, c.NoKey, c.NoDestination)
	p.add("Key requests", "%d (%d replies, %d rejects, %d errors)", c.KeyRequests, c.KeyReplies, c.KeyRejects, c.KeyErrors)
	p.add("Key pairs installed", "%d", c.KeyPairs)
}
