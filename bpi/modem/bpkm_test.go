package modem_test

import (
	"bytes"
	"errors"
	"net"
	"testing"
	"time"

	"github.com/leaseguard/leaseguard/bpi"
	"github.com/leaseguard/leaseguard/bpi/bpkm"
	"github.com/leaseguard/leaseguard/bpi/modem"
)

// TestKeyRequestToEmulator runs the TEK exchange as DOCSIS MAC management
// frames between the CMTS key server and a modem emulator's key client,
// then checks that the emulator decrypts the encoder's frames for its own
// CPE and not those for another modem, and that it follows a rollover by
// asking again.
func TestKeyRequestToEmulator(t *testing.T) {
	cmts := net.HardwareAddr{2, 0xcc, 0, 0, 0, 1}
	macs := []net.HardwareAddr{{0, 0x10, 0x95, 0, 0, 1}, {0, 0x10, 0x95, 0, 0, 2}}
	cpeIPs := []string{"10.77.1.10", "10.77.1.20"}
	tab := bpi.NewTable()
	const lifetime, grace = 100 * time.Second, 10 * time.Second
	mgr, err := bpi.NewManager(bpi.ManagerConfig{TEKLifetime: lifetime, Grace: grace, Sinks: []bpi.KeySink{tab}})
	must(t, err)
	srv := bpkm.NewKeyServer(tab, tab)
	loc := mapLocator{}
	var emus []*modem.Modem
	var clients []*bpkm.KeyClient
	for i, mac := range macs {
		said := uint16(101 + i)
		must(t, tab.AddModem(bpi.Modem{MAC: mac, PrimarySAID: said, BPIEnabled: true}))
		must(t, mgr.Start(said, t0))
		ak := bpkm.AuthKey{Key: bytes.Repeat([]byte{byte(0x40 + i)}, bpkm.AKLen), Seq: 1, Expires: t0.Add(bpi.DefaultAKLifetime)}
		must(t, srv.SetAuthKey(mac, ak))
		m, err := modem.New(modem.Config{MAC: mac, PrimarySAID: said})
		must(t, err)
		cl, err := bpkm.NewKeyClient(mac, said, bpi.SuiteAES128CBC, ak, m)
		must(t, err)
		emus, clients = append(emus, m), append(clients, cl)
		loc[mustAddr(cpeIPs[i])] = mac
	}
	exchange := func(i int, now time.Time) {
		t.Helper()
		req, err := clients[i].Request(uint8(i))
		must(t, err)
		up, err := bpkm.AppendMgmtFrame(nil, bpkm.Mgmt{DA: cmts, SA: macs[i], Version: bpkm.MgmtVersion, Type: bpkm.TypeBPKMReq, Payload: req})
		must(t, err)
		in, err := bpkm.ParseMgmtFrame(up)
		must(t, err)
		reply, err := srv.HandleKeyRequest(in.SA, in.Payload, now)
		must(t, err)
		down, err := bpkm.AppendMgmtFrame(nil, bpkm.Mgmt{DA: in.SA, SA: cmts, Version: bpkm.MgmtVersion, Type: bpkm.TypeBPKMRsp, Payload: reply})
		must(t, err)
		out, err := bpkm.ParseMgmtFrame(down)
		must(t, err)
		must(t, clients[i].HandleReply(out.Payload, now))
	}

	link := &recordingLink{}
	enc := bpi.NewEncoder(loc, tab, link)
	check := func(now time.Time) {
		t.Helper()
		for i := range macs {
			link.frames = nil
			eth := udpFrame(&cpe{mac: net.HardwareAddr{2, 0, 0, 0, 0, byte(i)}, ip: mustAddr(cpeIPs[i])}, i, 100)
			must(t, enc.Send(eth, now))
			got, _, err := emus[i].Receive(append([]byte(nil), link.frames[0]...))
			if err != nil || !bytes.Equal(got, eth) {
				t.Fatalf("modem %d at %v: own frame: %v", i, now, err)
			}
			other := emus[1-i]
			if _, _, err := other.Receive(link.frames[0]); !errors.Is(err, modem.ErrNotOurSAID) {
				t.Fatalf("modem %d took modem %d's frame: %v", 1-i, i, err)
			}
		}
	}
	exchange(0, t0)
	exchange(1, t0)
	check(t0)
	check(t0.Add(lifetime + time.Second)) // the CMTS switched to the newer key

	// After the CMTS rolls the keys, a fresh Key Request brings the new pair.
	now := t0.Add(lifetime + grace)
	_, err = mgr.Advance(now)
	must(t, err)
	exchange(0, now)
	exchange(1, now)
	check(t0.Add(2*lifetime + time.Second))
}

type recordingLink struct{ frames [][]byte }

func (l *recordingLink) WriteDOCSIS(b []byte) error {
	l.frames = append(l.frames, append([]byte(nil), b...))
	return nil
}
