package bpi

import (
	"encoding/hex"
	"fmt"
	"strconv"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/leaseguard/leaseguard/bpi/tsharktest"
)

// A downstream MAC header with a privacy element, byte for byte: FC 0x01
// (packet PDU, EHDR_ON), MAC_PARM 5, LEN 69 (EHDR 5 + Ethernet 60 + CRC
// 4), the type-4 element 44 | 51 (KEY_SEQ 5, version 1) | ea bc (ENABLE,
// TOGGLE, SAID 0x2abc) | 00, and the HCS a7 b1. tshark 4.0.17 reads these
// bytes as Key Sequence 5, Version 1, Encryption Enabled, Toggle Odd Key,
// SAID 10940, Reserved 0, "Header check sequence: 0xa7b1 [correct]"
// (TestWiresharkReadsDownstream checks the same against any installed
// tshark).
const knownDownstreamHeader = "01050045" + "4451eabc00" + "a7b1"

// A MAC management header without an extended header: FC 0xc2 (MAC
// specific, FC_PARM 1), MAC_PARM 0, LEN 72, HCS 3d 30 (tshark 4.0.17:
// "0x3d30 [correct]").
const knownMgmtHeader = "c2000048" + "3d30"

func TestMACHeaderKnownAnswer(t *testing.T) {
	eh := PrivacyEH{KeySeq: 5, Version: PrivacyVersion, Enable: true, Toggle: true, SAID: 0x2abc}.Append(nil)
	tests := []struct {
		name           string
		fcType, fcParm uint8
		ehdr           []byte
		payloadLen     int
		want           string
	}{
		{"downstream with privacy", FCTypePacket, 0, eh, 64, knownDownstreamHeader},
		{"MAC management", FCTypeMACSpecific, 1, nil, 72, knownMgmtHeader},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b, err := AppendHeader(nil, tt.fcType, tt.fcParm, tt.ehdr, tt.payloadLen)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, hex.EncodeToString(b)); diff != "" {
				t.Errorf("header (-want +got):\n%s", diff)
			}
		})
	}
}

// wsDownstream is what Wireshark's DOCSIS dissector reads from a frame.
type wsDownstream struct {
	HCSGood             bool
	EHType, EHLen       string
	KeySeq, Version     string
	Enabled, Toggle     string
	SAID, Reserved, Len string
}

var downstreamFields = []string{"docsis.hcs.status", "docsis.ehdr.type", "docsis.ehdr.len",
	"docsis.ehdr.keyseq", "docsis.ehdr.ver", "docsis.bpi_en", "docsis.toggle_bit",
	"docsis.ehdr.said", "docsis.ehdr.rsvd", "docsis.len"}

func readDownstream(f map[string]string) wsDownstream {
	return wsDownstream{HCSGood: f["docsis.hcs.status"] == "1", EHType: f["docsis.ehdr.type"], EHLen: f["docsis.ehdr.len"],
		KeySeq: f["docsis.ehdr.keyseq"], Version: f["docsis.ehdr.ver"], Enabled: f["docsis.bpi_en"],
		Toggle: f["docsis.toggle_bit"], SAID: f["docsis.ehdr.said"], Reserved: f["docsis.ehdr.rsvd"], Len: f["docsis.len"]}
}

// Wireshark (packet-docsis.c: dissect_ehdr, dissect_hcs_field) reads the
// frames AppendDownstream builds as we meant them: the HCS verifies, and the
// privacy element's fields land where Wireshark looks for them, at every
// key sequence and at both ends of the 14-bit SAID range.
func TestWiresharkReadsDownstream(t *testing.T) {
	tsharktest.Require(t)
	t.Log(tsharktest.Version(t))
	eth := append([]byte{0, 0x10, 0x95, 0, 0, 1, 2, 0xcc, 0, 0, 0, 1, 0x08, 0x00}, make([]byte, 46)...)
	type tc struct {
		seq  uint8
		said uint16
	}
	var cases []tc
	for seq := range uint8(16) {
		cases = append(cases, tc{seq, [3]uint16{1, 0x2abc, MaxSAID}[seq%3]})
	}
	var frames [][]byte
	var want []wsDownstream
	for _, c := range cases {
		tek, err := NewTEK(SuiteAES128CBC, make([]byte, 16), make([]byte, 16), c.seq, time.Time{})
		if err != nil {
			t.Fatal(err)
		}
		f, err := AppendDownstream(nil, eth, c.said, tek)
		if err != nil {
			t.Fatal(err)
		}
		frames = append(frames, f)
		want = append(want, wsDownstream{HCSGood: true, EHType: "4", EHLen: "4", KeySeq: strconv.Itoa(int(c.seq)),
			Version: strconv.Itoa(PrivacyVersion), Enabled: "1", Toggle: fmt.Sprint(c.seq & 1), SAID: strconv.Itoa(int(c.said)),
			Reserved: "0x00", Len: strconv.Itoa(len(f) - minHeaderLen)})
	}
	clear, err := AppendDownstream(nil, eth, 0, nil)
	if err != nil {
		t.Fatal(err)
	}
	frames = append(frames, clear)
	want = append(want, wsDownstream{HCSGood: true, Len: strconv.Itoa(len(clear) - minHeaderLen)})

	// The HCS is checked, not merely displayed: a wrong one and the right
	// one byte-swapped both fail.
	bad := append([]byte(nil), frames[0]...)
	bad[10] ^= 0x01
	swapped := append([]byte(nil), frames[0]...)
	if swapped[9] == swapped[10] {
		t.Fatalf("HCS %x reads the same both ways: the byte-swap case would prove nothing", swapped[9:11])
	}
	swapped[9], swapped[10] = swapped[10], swapped[9]
	frames = append(frames, bad, swapped)
	badWant := want[0]
	badWant.HCSGood = false
	want = append(want, badWant, badWant)

	var got []wsDownstream
	for _, f := range tsharktest.Fields(t, frames, downstreamFields...) {
		got = append(got, readDownstream(f))
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("tshark's reading (-want +got):\n%s", diff)
	}
}

// Wireshark's extended header type table names type 4 the downstream
// privacy element and type 3 the upstream one.
func TestWiresharkEHTypes(t *testing.T) {
	vals := tsharktest.Values(t, "docsis.ehdr.type")
	for typ, want := range map[uint64]string{EHDownstreamPrivacy: "Downstream  Privacy Element", EHUpstreamPrivacy: "Upstream Privacy Element"} {
		if vals[typ] != want {
			t.Errorf("EH type %d: Wireshark says %q, want %q", typ, vals[typ], want)
		}
	}
}
