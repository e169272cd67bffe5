package bpkm

import (
	"bytes"
	"crypto/rand"
	"crypto/rsa"
	"errors"
	"net"
	"testing"
	"time"

	"github.com/leaseguard/leaseguard/bpi"
)

func TestAuthThenKeyExchange(t *testing.T) {
	srv, mac, _, mgr := keyFixture(t, bpi.SuiteDES56CBC)
	priv, err := rsa.GenerateKey(rand.Reader, 1024)
	if err != nil {
		t.Fatal(err)
	}
	sink := &captureSink{}
	// The client starts without an AK and believing in AES: the Auth Reply's
	// SA-Descriptor tells it the SA is DES.
	cl, err := NewKeyClient(mac, 33, bpi.SuiteAES128CBC, AuthKey{}, sink)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := cl.Request(1); !errors.Is(err, ErrNoAK) {
		t.Fatalf("key request before authorization: %v, want ErrNoAK", err)
	}
	authReq, err := cl.AuthRequest(1, &priv.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := srv.HandleAuthRequest(mac, authReq, t0, bpi.DefaultAKLifetime, rand.Reader); !errors.Is(err, ErrNotAuthorized) {
		t.Fatalf("without an authorizer: %v, want ErrNotAuthorized", err)
	}
	srv.SetAuthorizer(func(m net.HardwareAddr, pub *rsa.PublicKey) error {
		if !bytes.Equal(m, mac) || !pub.Equal(&priv.PublicKey) {
			return errors.New("unknown modem key")
		}
		return nil
	})
	reply, err := srv.HandleAuthRequest(mac, authReq, t0, bpi.DefaultAKLifetime, rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	if err := cl.HandleAuthReply(reply, priv, t0); err != nil {
		t.Fatal(err)
	}
	if cl.ak.Seq != 2+1 { // the fixture's provisioned AK had sequence 2
		t.Errorf("AK sequence %d, want 3", cl.ak.Seq)
	}
	req, err := cl.Request(2)
	if err != nil {
		t.Fatal(err)
	}
	keyReply, err := srv.HandleKeyRequest(mac, req, t0.Add(time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	if err := cl.HandleReply(keyReply, t0.Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	sa, _ := mgr.SA(33)
	if sink.older == nil || sink.older.Suite != bpi.SuiteDES56CBC || !bytes.Equal(sink.older.Key(), sa.Older.Key()) {
		t.Errorf("modem holds %v, CMTS %v", sink.older, sa.Older)
	}

	other, err := rsa.GenerateKey(rand.Reader, 1024)
	if err != nil {
		t.Fatal(err)
	}
	intruder, _ := NewKeyClient(mac, 33, bpi.SuiteDES56CBC, AuthKey{}, &captureSink{})
	bad, _ := intruder.AuthRequest(1, &other.PublicKey)
	if _, err := srv.HandleAuthRequest(mac, bad, t0, bpi.DefaultAKLifetime, rand.Reader); !errors.Is(err, ErrNotAuthorized) {
		t.Fatalf("another key for the same MAC: %v, want ErrNotAuthorized", err)
	}
}
