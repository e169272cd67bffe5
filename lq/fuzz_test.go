package lq

import (
	"bytes"
	"encoding/binary"
	"net/netip"
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/insomniacslk/dhcp/dhcpv4"
)

func addGoldenSeeds(f *testing.F) {
	names, _ := filepath.Glob(filepath.Join("testdata", "dhcpd", "*.bin"))
	for _, n := range names {
		b, err := os.ReadFile(n)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
}

func FuzzParseReply(f *testing.F) {
	addGoldenSeeds(f)
	f.Add(replyWith(52, 1, 3, 61, 1, 1, 61, 1, 2, 92, 4, 1, 2, 3, 4))
	f.Add(replyWith(82, 0, 60, 1, 'v', 15, 0))
	f.Fuzz(func(t *testing.T, b []byte) {
		r, err := ParseReply(b)
		if err != nil {
			return
		}
		enc, err := r.Marshal()
		if err != nil {
			t.Fatalf("a parsed reply does not marshal: %v\n%+v", err, r)
		}
		again, err := ParseReply(enc)
		if err != nil {
			t.Fatalf("ParseReply(Marshal(r)): %v", err)
		}
		if diff := cmp.Diff(r, again, cmpNetip); diff != "" {
			t.Fatalf("ParseReply(Marshal(r)) != r (-want +got):\n%s", diff)
		}
		if enc2, _ := again.Marshal(); !bytes.Equal(enc, enc2) {
			t.Fatalf("Marshal is not canonical:\n%x\n%x", enc, enc2)
		}
	})
}

func FuzzParseAgentInfo(f *testing.F) {
	f.Add([]byte{1, 3, 'c', 'm', '1', 2, 6, 0, 1, 2, 3, 4, 5})
	f.Add([]byte{4, 4, 0, 0, 0, 1, 5, 4, 10, 0, 0, 0, 6, 2, 's', '1', 11, 4, 10, 0, 0, 1, 12, 2, 0, 1})
	f.Add([]byte{9, 0, 1})
	f.Fuzz(func(t *testing.T, b []byte) {
		a, err := ParseAgentInfo(b)
		if err != nil {
			return
		}
		enc, err := a.Marshal()
		if err != nil || !bytes.Equal(enc, b) {
			t.Fatalf("Marshal(ParseAgentInfo(b)) = %x, %v; want b = %x", enc, err, b)
		}
		for _, code := range []uint8{0, SubCircuitID, SubRemoteID, SubDeviceClass, SubLinkSelection, SubSubscriberID, SubServerIDOverride, SubRelayID, 255} {
			v, ok := a.Get(code)
			lv, lok := LookupSubOption(b, code)
			if ok != lok || !bytes.Equal(v, lv) {
				t.Fatalf("sub-option %d: Get = %x, %t; LookupSubOption = %x, %t", code, v, ok, lv, lok)
			}
		}
		if a.Validate() == nil {
			checkAccessors(t, a)
		}
	})
}

// checkAccessors: in a valid AgentInfo every present known sub-option reads.
func checkAccessors(t *testing.T, a AgentInfo) {
	present := func(code uint8) bool { _, ok := a.Get(code); return ok }
	_, c := a.CircuitID()
	_, r := a.RemoteID()
	_, d := a.DeviceClass()
	_, l := a.LinkSelection()
	_, s := a.SubscriberID()
	_, o := a.ServerIDOverride()
	_, id := a.RelayID()
	got := []bool{c, r, d, l, s, o, id}
	for i, code := range []uint8{SubCircuitID, SubRemoteID, SubDeviceClass, SubLinkSelection, SubSubscriberID, SubServerIDOverride, SubRelayID} {
		if got[i] != present(code) {
			t.Fatalf("valid AgentInfo %v: accessor for sub-option %d reports %t", a, code, got[i])
		}
	}
}

func FuzzParseQuery(f *testing.F) {
	for _, q := range []Query{queryIP, queryMAC, queryCID} {
		b, err := q.Marshal(testGIAddr, 9, nil)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := ParseQuery(b)
		if err != nil {
			return
		}
		enc, err := m.Marshal()
		if err != nil {
			t.Fatalf("a parsed query does not marshal: %v\n%+v", err, m)
		}
		again, err := ParseQuery(enc)
		if err != nil {
			t.Fatalf("ParseQuery(Marshal(m)): %v", err)
		}
		if m.PRL == nil {
			m.PRL = DefaultParameterRequestList()
		}
		if diff := cmp.Diff(m, again, cmpNetip); diff != "" {
			t.Fatalf("ParseQuery(Marshal(m)) != m (-want +got):\n%s", diff)
		}
	})
}

// FuzzPacket checks the packet view against insomniacslk/dhcp as an
// oracle, then applies the relay's edits and checks the result parses
// with the same options.
func FuzzPacket(f *testing.F) {
	seeds := [][]byte{discover(), overloaded(), replyWith(82, 3, 1, 1, 'x'), rawPacket([]byte{53, 1, 1}, 0), discover()[:HeaderLen]}
	for _, s := range seeds {
		f.Add(s, uint32(0x0a000001), []byte{1, 2, 'c', '1'}, uint16(0), uint16(64))
	}
	f.Fuzz(func(t *testing.T, b []byte, giaddr uint32, payload []byte, maxLen, extraCap uint16) {
		p, err := ParsePacket(b)
		compareWithOracle(t, b, p, err)
		if err != nil {
			return
		}
		buf := append(make([]byte, 0, len(b)+int(extraCap)), b...)
		checkEdits(t, buf, giaddr, payload, int(maxLen))
	})
}

func compareWithOracle(t *testing.T, b []byte, p Packet, err error) {
	d, derr := dhcpv4.FromBytes(b)
	switch {
	case err == nil && derr == nil:
		if p.Overload() != 0 {
			return // dhcpv4 does not read overloaded fields
		}
		if diff := cmp.Diff(oracleView(d), packetView(p), cmpView); diff != "" {
			t.Fatalf("ours and dhcpv4 disagree (-dhcpv4 +ours):\n%s", diff)
		}
	case err == nil && derr != nil:
		// dhcpv4 needs the magic cookie and END; we take plain BOOTP and
		// a missing END.
		if p.HasOptions() && p.HasEnd() {
			t.Fatalf("dhcpv4 rejects what we accept: %v", derr)
		}
	case err != nil && derr == nil:
		// Our checks beyond dhcpv4's: hlen, option 52, option 53.
		if b[offHLen] <= chaddrLen && !d.Options.Has(dhcpv4.OptionOptionOverload) && !d.Options.Has(dhcpv4.OptionDHCPMessageType) {
			t.Fatalf("we reject what dhcpv4 accepts: %v", err)
		}
	}
}

// withoutAgentInfo lists the options of p other than 82.
func withoutAgentInfo(p Packet) []Option {
	var opts []Option
	for c, v := range p.Options() {
		if c != OptAgentInfo {
			opts = append(opts, Option{c, bytes.Clone(v)})
		}
	}
	return opts
}

func checkEdits(t *testing.T, buf []byte, giaddr uint32, payload []byte, maxLen int) {
	p, err := ParsePacket(buf)
	if err != nil {
		t.Fatalf("ParsePacket of a copy: %v", err)
	}
	others := withoutAgentInfo(p)
	ga := netip.AddrFrom4([4]byte(binary.BigEndian.AppendUint32(nil, giaddr)))
	if err := p.SetGIAddr(ga); err != nil {
		t.Fatal(err)
	}
	if p.Hops() < 255 {
		if _, err := p.IncHops(); err != nil {
			t.Fatal(err)
		}
	}
	before := bytes.Clone(p.Bytes())
	if err := p.AddAgentInfo(payload, maxLen); err != nil {
		if !bytes.Equal(before, p.Bytes()) {
			t.Fatalf("AddAgentInfo failed (%v) but changed the packet", err)
		}
	} else {
		q := reparse(t, p, others, "AddAgentInfo")
		if v, ok := q.Option(OptAgentInfo); !ok || !bytes.Equal(v, payload) {
			t.Fatalf("after AddAgentInfo option 82 = %x, %t; want %x", v, ok, payload)
		}
		limit := maxLen
		if limit <= 0 {
			limit = DefaultMaxLen
		}
		if limit = max(limit, len(before)); q.Len() > limit {
			t.Fatalf("AddAgentInfo grew the packet to %d octets, past %d", q.Len(), limit)
		}
		if q.GIAddr() != ga {
			t.Fatalf("giaddr %v, want %v", q.GIAddr(), ga)
		}
	}
	p.StripAgentInfo()
	q := reparse(t, p, others, "StripAgentInfo")
	if _, ok := q.Option(OptAgentInfo); ok {
		t.Fatalf("option 82 left after StripAgentInfo")
	}
}

// reparse checks that the edited packet parses with the same options
// besides 82 and returns the fresh view.
func reparse(t *testing.T, p Packet, others []Option, edit string) Packet {
	q, err := ParsePacket(p.Bytes())
	if err != nil {
		t.Fatalf("after %s the packet does not parse: %v\n%x", edit, err, p.Bytes())
	}
	if diff := cmp.Diff(others, withoutAgentInfo(q)); diff != "" {
		t.Fatalf("%s changed other options (-want +got):\n%s", edit, diff)
	}
	return q
}
