package agent

import (
	"bytes"
	"net"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/leaseguard/leaseguard/cmd/internal/config"
	"github.com/leaseguard/leaseguard/cmd/internal/ops"
	"github.com/leaseguard/leaseguard/lq"
	"github.com/leaseguard/leaseguard/lq/location"
)

// TestExpiryLogNamesTheMAC: the expiry log shows the client's MAC as an
// operator reads it, not its raw bytes.
func TestExpiryLogNamesTheMAC(t *testing.T) {
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	table := location.New(location.Config{})
	b := location.Binding{Binding: lq.Binding{IP: netip.MustParseAddr("192.168.10.5"), HType: 1,
		HWAddr: net.HardwareAddr{0x02, 0, 0, 0, 0, 0x0a}, Expiry: now.Add(time.Minute)}, Port: "dsl2", Source: location.Gleaned}
	if _, err := table.Upsert(b, now); err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	e := newExpiryTask(table, func() time.Time { return now.Add(time.Hour) }, ops.NewLogs(&out, config.Log{}).For("glean"))
	e.expire()
	if line := out.String(); !strings.Contains(line, "mac=02:00:00:00:00:0a") {
		t.Errorf("expiry log: %q, want mac=02:00:00:00:00:0a", line)
	}
}
