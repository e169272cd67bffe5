package mgmt_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/leaseguard/leaseguard/cmd/internal/config"
	"github.com/leaseguard/leaseguard/cmd/internal/mgmt"
	"github.com/leaseguard/leaseguard/cmd/internal/ops"
	"github.com/leaseguard/leaseguard/cmd/internal/ops/opstest"
)

// pki is a CA and certificates it signed, written to a directory.
type pki struct {
	dir    string
	caCert *x509.Certificate
	caKey  *ecdsa.PrivateKey
	serial int64
}

func newPKI(t *testing.T, name string) *pki {
	t.Helper()
	p := &pki{dir: t.TempDir()}
	p.caKey = mustKey(t)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: name},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &p.caKey.PublicKey, p.caKey)
	if err != nil {
		t.Fatal(err)
	}
	p.caCert, _ = x509.ParseCertificate(der)
	writePEM(t, filepath.Join(p.dir, "ca.pem"), "CERTIFICATE", der)
	return p
}

func mustKey(t *testing.T) *ecdsa.PrivateKey {
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func writePEM(t *testing.T, path, typ string, der []byte) {
	t.Helper()
	if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
}

// issue signs a certificate for name (a server's IP or a client's CN)
// and returns the paths of its certificate and key.
func (p *pki) issue(t *testing.T, name string, server bool) (certPath, keyPath string) {
	t.Helper()
	p.serial++
	key := mustKey(t)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(p.serial + 1), Subject: pkix.Name{CommonName: name},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), KeyUsage: x509.KeyUsageDigitalSignature}
	if server {
		tmpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}
		tmpl.IPAddresses = []net.IP{net.ParseIP(name)}
	} else {
		tmpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, p.caCert, &key.PublicKey, p.caKey)
	if err != nil {
		t.Fatal(err)
	}
	kder, _ := x509.MarshalECPrivateKey(key)
	certPath, keyPath = filepath.Join(p.dir, name+".pem"), filepath.Join(p.dir, name+".key")
	writePEM(t, certPath, "CERTIFICATE", der)
	writePEM(t, keyPath, "EC PRIVATE KEY", kder)
	return certPath, keyPath
}

func TestTCPOnlyWithMutualTLS(t *testing.T) {
	env, err := opstest.NewEnv(ops.Options{})
	if err != nil {
		t.Fatal(err)
	}
	ca, other := newPKI(t, "card CA"), newPKI(t, "someone else")
	cert, key := ca.issue(t, "127.0.0.1", true)

	// Without a client CA, TCP is refused outright.
	_, err = mgmt.New(env.Ops, mgmt.Config{TCP: &config.TCP{Listen: "127.0.0.1:0", Cert: cert, Key: key}})
	if err == nil || !strings.Contains(err.Error(), "api.tcp.client_ca: required") {
		t.Fatalf("TCP without a client CA: %v", err)
	}
	_, err = mgmt.New(env.Ops, mgmt.Config{TCP: &config.TCP{Listen: "127.0.0.1:0", Cert: cert, Key: key, ClientCA: cert + ".missing"}})
	if err == nil || !strings.Contains(err.Error(), "api.tcp.client_ca") {
		t.Fatalf("TCP with a missing client CA: %v", err)
	}

	srv, err := mgmt.New(env.Ops, mgmt.Config{TCP: &config.TCP{Listen: "127.0.0.1:0", Cert: cert, Key: key,
		ClientCA: filepath.Join(ca.dir, "ca.pem")}})
	if err != nil {
		t.Fatal(err)
	}
	runTask(t, srv.Run, srv.Ready())
	base := "https://" + srv.Addrs()[0].String()
	roots := x509.NewCertPool()
	roots.AddCert(ca.caCert)
	client := func(certs ...tls.Certificate) *mgmt.Client {
		return mgmt.NewClient(base, &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{
			RootCAs: roots, Certificates: certs, MinVersion: tls.VersionTLS12}}})
	}
	load := func(p *pki, name string) tls.Certificate {
		c, k := p.issue(t, name, false)
		pair, err := tls.LoadX509KeyPair(c, k)
		if err != nil {
			t.Fatal(err)
		}
		return pair
	}
	ctx := context.Background()
	if _, err := client().Config(ctx); err == nil {
		t.Error("a client without a certificate was served")
	}
	if _, err := client(load(other, "intruder")).Config(ctx); err == nil {
		t.Error("a client with a certificate from another CA was served")
	}
	st, err := client(load(ca, "noc-1")).Config(ctx)
	if err != nil || st.Generation != 1 {
		t.Errorf("a client with a certificate from the CA: %+v %v", st, err)
	}
}
