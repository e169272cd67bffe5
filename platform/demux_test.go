package platform

import (
	"bytes"
	"net/netip"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/leaseguard/leaseguard/lq"
)

func TestClassify(t *testing.T) {
	tests := []struct {
		name string
		b    []byte
		want UpstreamClass
	}{
		{"DHCPLEASEUNASSIGNED", reply(lq.LeaseUnassigned), LeasequeryReply},
		{"DHCPLEASEUNKNOWN", reply(lq.LeaseUnknown), LeasequeryReply},
		{"DHCPLEASEACTIVE", reply(lq.LeaseActive), LeasequeryReply},
		{"DHCPOFFER", reply(lq.Offer), RelayReply},
		{"DHCPACK", reply(lq.Ack), RelayReply},
		{"DHCPNAK", reply(lq.Nak), RelayReply},
		{"BOOTP reply", msg{op: opBootReply, noCookie: true}.bytes(), RelayReply},
		{"reply without option 53", msg{op: opBootReply}.bytes(), RelayReply},
		{"DHCPLEASEQUERY heard upstream", request(lq.LeaseQuery), UpstreamRequest},
		{"unicast DHCPREQUEST", request(lq.Request), UpstreamRequest},
		// A BOOTREQUEST carrying a reply type is still a request: only
		// replies reach the leasequery client.
		{"BOOTREQUEST with type 13", request(lq.LeaseActive), UpstreamRequest},
		{"empty", nil, Malformed},
		{"DNS-sized junk", make([]byte, 40), Malformed},
		{"op 0", msg{op: 0}.bytes(), Malformed},
		{"truncated options", append(msg{op: opBootReply}.bytes()[:offOptions], optMessageType, 1), Malformed},
	}
	for _, tt := range tests {
		if got := Classify(tt.b); got != tt.want {
			t.Errorf("%s: Classify = %v, want %v", tt.name, got, tt.want)
		}
	}
}

// recorder is a handler that keeps copies of what it was given.
type recorder struct{ got [][]byte }

func (r *recorder) handle(b []byte, _ netip.AddrPort) { r.got = append(r.got, bytes.Clone(b)) }

func TestDemuxRoutesEachClassToItsHandlerOnly(t *testing.T) {
	var d Demux
	var relay, lease recorder
	mustHandle(t, &d, RelayReply, relay.handle)
	mustHandle(t, &d, LeasequeryReply, lease.handle)
	from := netip.MustParseAddrPort("192.0.2.1:67")
	in := [][]byte{reply(lq.Offer), reply(lq.LeaseActive), request(lq.Request), {1, 2, 3}, reply(lq.LeaseUnknown), reply(lq.Ack)}
	for _, b := range in {
		d.Dispatch(b, from)
	}
	if diff := cmp.Diff([][]byte{in[0], in[5]}, relay.got); diff != "" {
		t.Errorf("relay handler (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([][]byte{in[1], in[4]}, lease.got); diff != "" {
		t.Errorf("leasequery handler (-want +got):\n%s", diff)
	}
	want := DemuxStats{
		Leasequery: ClassStats{Delivered: 2},
		Relay:      ClassStats{Delivered: 2},
		Request:    ClassStats{Dropped: 1}, // no handler attached
		Malformed:  1,
	}
	if diff := cmp.Diff(want, d.Stats()); diff != "" {
		t.Errorf("Stats (-want +got):\n%s", diff)
	}
}

func TestDemuxLeasequeryReplyWithoutLQHandlerNeverReachesRelay(t *testing.T) {
	var d Demux
	var relay recorder
	mustHandle(t, &d, RelayReply, relay.handle)
	d.Dispatch(reply(lq.LeaseActive), netip.AddrPort{})
	if len(relay.got) != 0 {
		t.Errorf("relay handler got a DHCPLEASEACTIVE")
	}
	if got := d.Stats().Leasequery.Dropped; got != 1 {
		t.Errorf("Leasequery.Dropped = %d, want 1", got)
	}
}

func TestDemuxHandle(t *testing.T) {
	var d Demux
	var r recorder
	mustHandle(t, &d, LeasequeryReply, r.handle)
	if err := d.Handle(LeasequeryReply, r.handle); err == nil {
		t.Error("second handler for leasequery replies: no error")
	}
	if err := d.Handle(Malformed, r.handle); err == nil {
		t.Error("handler for malformed datagrams: no error")
	}
	if err := d.Handle(LeasequeryReply, nil); err != nil {
		t.Errorf("detach: %v", err)
	}
	mustHandle(t, &d, LeasequeryReply, r.handle) // attaching after detaching works
}

func TestDispatchDoesNotAllocate(t *testing.T) {
	var d Demux
	n := 0
	mustHandle(t, &d, LeasequeryReply, func([]byte, netip.AddrPort) { n++ })
	b := reply(lq.LeaseActive)
	from := netip.MustParseAddrPort("192.0.2.1:67")
	if a := testing.AllocsPerRun(100, func() { d.Dispatch(b, from) }); a != 0 {
		t.Errorf("Dispatch allocates %v times per datagram, want 0", a)
	}
}

func TestFakeUpstream(t *testing.T) {
	f := &FakeUpstream{Local: netip.MustParseAddrPort("192.0.2.2:67")}
	var kept []byte
	mustHandle(t, &f.Demux, RelayReply, func(b []byte, _ netip.AddrPort) { kept = b })
	offer := reply(lq.Offer)
	if c := f.Deliver(offer, netip.MustParseAddrPort("192.0.2.1:67")); c != RelayReply {
		t.Errorf("Deliver class = %v, want %v", c, RelayReply)
	}
	if bytes.Equal(kept, offer) {
		t.Error("a handler that keeps b without copying still sees the datagram: the fake must reuse its buffer as the real socket does")
	}
	to := netip.MustParseAddrPort("192.0.2.1:67")
	q := request(lq.LeaseQuery)
	if err := f.Send(to, q); err != nil {
		t.Fatal(err)
	}
	q[0] = 9 // the fake keeps its own copy
	if diff := cmp.Diff([]SentDatagram{{To: to, Data: request(lq.LeaseQuery)}}, f.Sent(), netipCmp); diff != "" {
		t.Errorf("Sent (-want +got):\n%s", diff)
	}
}

func mustHandle(t *testing.T, d *Demux, c UpstreamClass, h UpstreamHandler) {
	t.Helper()
	if err := d.Handle(c, h); err != nil {
		t.Fatal(err)
	}
}

func TestFakeUpstreamEndsEachBatch(t *testing.T) {
	f := &FakeUpstream{}
	var events []string
	mustHandle(t, &f.Demux, RelayReply, func([]byte, netip.AddrPort) { events = append(events, "reply") })
	if err := f.HandleBatchEnd(func() { events = append(events, "end") }); err != nil {
		t.Fatal(err)
	}
	if err := f.HandleBatchEnd(func() {}); err == nil {
		t.Error("second batch-end handler: no error")
	}
	f.Deliver(reply(lq.Offer), netip.AddrPort{})
	f.Deliver([]byte("junk"), netip.AddrPort{})
	if diff := cmp.Diff([]string{"reply", "end", "end"}, events); diff != "" {
		t.Errorf("events (-want +got):\n%s", diff)
	}
}
