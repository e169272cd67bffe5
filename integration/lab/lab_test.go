package lab

import (
	"net"
	"os"
	"strings"
	"testing"
	"time"
)

func TestVethPingAndDo(t *testing.T) {
	l := New(t)
	a, b := l.NS("a"), l.NS("b")
	l.Veth(a, "va", b, "vb")
	a.Addr("va", "192.0.2.1/24")
	b.Addr("vb", "192.0.2.2/24")
	if out, err := a.Exec("ping", "-c1", "-W2", "192.0.2.2"); err != nil {
		t.Fatalf("ping across the veth: %v\n%s", err, out)
	}
	// A socket opened inside Do lives in the namespace: it can bind an
	// address that only exists there.
	var conn net.PacketConn
	err := b.Do(func() error {
		var err error
		conn, err = net.ListenPacket("udp4", "192.0.2.2:0")
		return err
	})
	if err != nil {
		t.Fatalf("listen inside namespace: %v", err)
	}
	conn.Close()
}

func TestDHCPDStartsAndCleansUp(t *testing.T) {
	l := New(t)
	s := l.NS("srv")
	c := l.NS("cli")
	l.Veth(s, "eth0", c, "eth0")
	s.Addr("eth0", "198.51.100.1/24")
	d := s.StartDHCPD("dhcpd", "allow leasequery;\nsubnet 198.51.100.0 netmask 255.255.255.0 {\n  range 198.51.100.10 198.51.100.20;\n}\n", "", "eth0")
	if !strings.Contains(d.Output(), "Listening on LPF/eth0") {
		t.Errorf("dhcpd output lacks its listener line:\n%s", d.Output())
	}
	d.Stop()
	select {
	case <-d.Done():
	case <-time.After(5 * time.Second):
		t.Fatal("dhcpd still running after Stop")
	}
}

func TestSwitchJoinsSeveralNamespaces(t *testing.T) {
	l := New(t)
	sw := l.Switch("lan")
	var hosts []*NS
	for i, name := range []string{"h1", "h2", "h3"} {
		h := l.NS(name)
		sw.Attach(h, "eth0")
		h.Addr("eth0", "198.51.100."+string(rune('1'+i))+"/24")
		hosts = append(hosts, h)
	}
	for _, dst := range []string{"198.51.100.2", "198.51.100.3"} {
		if out, err := hosts[0].Exec("ping", "-c1", "-W2", dst); err != nil {
			t.Errorf("ping %s across the switch: %v\n%s", dst, err, out)
		}
	}
}

func TestProcessCPUOfThisProcess(t *testing.T) {
	u0, s0, err := ProcessCPU(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(300 * time.Millisecond)
	for x := 0; time.Now().Before(deadline); x++ {
		_ = x * x // burn CPU so utime moves by at least a tick
	}
	u1, s1, err := ProcessCPU(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	if u1+s1 <= u0+s0 {
		t.Errorf("CPU did not advance: user %v->%v sys %v->%v", u0, u1, s0, s1)
	}
	if _, _, err := ProcessCPU(1 << 30); err == nil {
		t.Error("no error for a process that does not exist")
	}
}
