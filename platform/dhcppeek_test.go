package platform

import (
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/leaseguard/leaseguard/lq"
)

func TestPeek(t *testing.T) {
	overloadFile := msg{op: opBootReply, htype: 1, hlen: 6, options: []byte{optOverload, 1, 1}}.bytes()
	copy(overloadFile[offFile:], []byte{optMessageType, 1, byte(lq.LeaseActive), optEnd})
	overloadSName := msg{op: opBootReply, htype: 1, hlen: 6, options: []byte{optOverload, 1, 2}}.bytes()
	copy(overloadSName[offSName:], []byte{optPad, optMessageType, 1, byte(lq.Offer), optEnd})
	overloadBad := msg{op: opBootReply, options: []byte{optOverload, 1, 3}}.bytes()
	copy(overloadBad[offFile:], []byte{60, 200})
	typeAfterEnd := msg{op: opBootReply}.bytes()
	copy(typeAfterEnd[offOptions+1:], typeOpt(lq.Ack))
	noEnd := msg{op: opBootRequest, options: typeOpt(lq.Discover)}.bytes()[:offOptions+3]

	tests := []struct {
		name    string
		b       []byte
		op      byte
		typ     lq.MessageType
		wantErr bool
	}{
		{name: "leasequery active", b: reply(lq.LeaseActive), op: 2, typ: lq.LeaseActive},
		{name: "discover", b: request(lq.Discover), op: 1, typ: lq.Discover},
		{name: "type after pad and other options", b: msg{op: 2, options: cat([]byte{0, 0, 12, 3, 'a', 'b', 'c'}, typeOpt(lq.Offer))}.bytes(), op: 2, typ: lq.Offer},
		{name: "first type option wins", b: msg{op: 2, options: cat(typeOpt(lq.Ack), typeOpt(lq.LeaseActive))}.bytes(), op: 2, typ: lq.Ack},
		{name: "no option 53", b: msg{op: 2}.bytes(), op: 2, typ: 0},
		{name: "option 53 after END ignored", b: typeAfterEnd, op: 2, typ: 0},
		{name: "option 53 of length 2 ignored", b: msg{op: 2, options: []byte{optMessageType, 2, 13, 0}}.bytes(), op: 2, typ: 0},
		{name: "plain BOOTP", b: msg{op: 2, noCookie: true}.bytes(), op: 2, typ: 0},
		{name: "bare BOOTP header", b: make([]byte, offCookie), wantErr: true}, // op 0
		{name: "missing END", b: noEnd, op: 1, typ: lq.Discover},
		{name: "overload into file", b: overloadFile, op: 2, typ: lq.LeaseActive},
		{name: "overload into sname", b: overloadSName, op: 2, typ: lq.Offer},
		{name: "overload area overrun", b: overloadBad, wantErr: true},
		{name: "short", b: make([]byte, offCookie-1), wantErr: true},
		{name: "op 3", b: msg{op: 3}.bytes(), wantErr: true},
		{name: "hlen 17", b: msg{op: 2, hlen: 17}.bytes(), wantErr: true},
		{name: "option overruns", b: append(msg{op: 2}.bytes()[:offOptions], 12, 5, 'a'), wantErr: true},
		{name: "length octet missing", b: append(msg{op: 2}.bytes()[:offOptions], 12), wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			op, typ, err := Peek(tt.b)
			if (err != nil) != tt.wantErr {
				t.Fatalf("Peek: err = %v, want error %v", err, tt.wantErr)
			}
			if err != nil {
				return
			}
			if diff := cmp.Diff([]any{tt.op, tt.typ}, []any{op, typ}); diff != "" {
				t.Errorf("Peek (-want +got):\n%s", diff)
			}
		})
	}
}

func TestPeekDoesNotAllocate(t *testing.T) {
	b := reply(lq.LeaseUnknown)
	if n := testing.AllocsPerRun(100, func() { Peek(b) }); n != 0 {
		t.Errorf("Peek allocates %v times per call, want 0", n)
	}
}

func FuzzPeek(f *testing.F) {
	f.Add(reply(lq.LeaseActive))
	f.Add(request(lq.Discover))
	f.Add(msg{op: 2, noCookie: true}.bytes())
	f.Add(msg{op: 2, options: []byte{optOverload, 1, 3}}.bytes())
	f.Fuzz(func(t *testing.T, b []byte) {
		op, typ, err := Peek(b)
		c := Classify(b)
		switch {
		case err != nil && c != Malformed:
			t.Fatalf("Peek failed (%v) but Classify says %v", err, c)
		case err == nil && op == opBootRequest && c != UpstreamRequest:
			t.Fatalf("BOOTREQUEST classified %v", c)
		case err == nil && op == opBootReply && typ.IsLeasequeryReply() != (c == LeasequeryReply):
			t.Fatalf("BOOTREPLY type %d classified %v", typ, c)
		}
	})
}
