package bpilab

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"errors"
	"net"
	"strings"
	"sync"
	"time"

	"github.com/leaseguard/leaseguard/bpi/bpkm"
	"github.com/leaseguard/leaseguard/bpi/modem"
	"github.com/leaseguard/leaseguard/bpi/rflink"
	"github.com/leaseguard/leaseguard/integration/topo"
)

// Modem is one emulated cable modem in a port's access namespace: its RF
// side on the plant, its CPE side the access bridge. Emu and Keyer are
// set by StartModems.
type Modem struct {
	SAID  uint16
	MAC   net.HardwareAddr
	AK    []byte // its authorization key, as the agent's config has it
	Emu   *modem.Modem
	Keyer *modem.Keyer
	port  *topo.Port
}

// StartModems runs each modem's emulator with its keyer until the lab's
// cleanup; the keyers start asking the card for keys.
func (l *Lab) StartModems() {
	l.t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	l.t.Cleanup(func() { cancel(); wg.Wait() })
	for _, m := range l.Modems {
		l.startModem(ctx, &wg, m)
	}
}

// startModem runs m's emulator (with its keyer) in its port's access
// namespace: it reads rf0 and delivers onto the access bridge.
func (l *Lab) startModem(ctx context.Context, wg *sync.WaitGroup, m *Modem) {
	t := l.t
	t.Helper()
	var cpeMACs []net.HardwareAddr
	for _, cl := range m.port.Clients {
		cpeMACs = append(cpeMACs, cl.MAC)
	}
	var err error
	if m.Emu, err = modem.New(modem.Config{MAC: m.MAC, PrimarySAID: m.SAID, CPEs: cpeMACs}); err != nil {
		t.Fatalf("bpilab: modem %v: %v", m.MAC, err)
	}
	ak := bpkm.AuthKey{Key: m.AK, Expires: time.Now().Add(24 * time.Hour)}
	// The full CM-Identification a real modem sends (serial number,
	// manufacturer OUI, MAC, RSA public key), so that the agent's key
	// server is exercised with it.
	key, err := rsa.GenerateKey(rand.Reader, 1024)
	if err != nil {
		t.Fatalf("bpilab: modem %v: %v", m.MAC, err)
	}
	id := &bpkm.CMIdentity{SerialNumber: "LG" + strings.ReplaceAll(m.MAC.String(), ":", ""),
		ManufacturerID: [3]byte(m.MAC[:3]), MAC: m.MAC, PublicKey: &key.PublicKey}
	if m.Keyer, err = modem.NewKeyer(modem.KeyerConfig{Modem: m.Emu, AK: ak, CMTS: l.CMTS, Grace: l.Opts.TEKGrace, Identity: id}); err != nil {
		t.Fatalf("bpilab: modem %v: %v", m.MAC, err)
	}
	var rf *rflink.Conn
	var cpe *rflink.EthernetConn
	if err := m.port.Access.Do(func() (err error) {
		if rf, err = rflink.Listen(ifaceByName("rf0")); err != nil {
			return err
		}
		cpe, err = rflink.ListenEthernet(ifaceByName("br0"), rflink.WriteOnly)
		return err
	}); err != nil {
		t.Fatalf("bpilab: modem %v: %v", m.MAC, err)
	}
	r := modem.NewRunner(m.Emu, rf, cpe)
	r.Keyer, r.Up = m.Keyer, rf
	wg.Add(1)
	go func() {
		defer wg.Done()
		defer rf.Close()
		defer cpe.Close()
		if err := r.Run(ctx); !errors.Is(err, context.Canceled) {
			t.Errorf("modem %v: %v", m.MAC, err)
		}
	}()
	<-r.Ready()
}

// WaitKeyed waits until every modem has its first Key Reply; timeout
// bounds a hang.
func (l *Lab) WaitKeyed(timeout time.Duration) {
	l.t.Helper()
	for _, m := range l.Modems {
		select {
		case <-m.Keyer.Keyed():
		case <-time.After(timeout):
			l.t.Fatalf("no first Key Reply for modem %v within %v", m.MAC, timeout)
		}
	}
}
