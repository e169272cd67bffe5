package bpkm

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"net"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/leaseguard/leaseguard/bpi"
	"github.com/leaseguard/leaseguard/bpi/tsharktest"
)

// Our numbers against Wireshark's own tables (packet-docsis-macmgmt.c:
// mgmt_type_vals, code_field_vals, bpkmattr_tlv_vals, error_code_vals,
// bpi_ver_vals, crypto_suite_attr_vals), as the installed tshark has them.
func TestWiresharkValueTables(t *testing.T) {
	tsharktest.Require(t)
	t.Log(tsharktest.Version(t))
	tables := []struct {
		field string
		want  map[uint64]string
	}{
		{"docsis_mgmt.type", map[uint64]string{
			TypeBPKMReq: "Privacy Key Management Request", TypeBPKMRsp: "Privacy Key Management Response"}},
		{"docsis_bpkm.code", map[uint64]string{
			uint64(AuthRequest): "Auth Request", uint64(AuthReply): "Auth Reply", uint64(AuthReject): "Auth Reject",
			uint64(KeyRequest): "Key Request", uint64(KeyReply): "Key Reply", uint64(KeyReject): "Key Reject",
			uint64(AuthInvalid): "Auth Invalid", uint64(TEKInvalid): "TEK Invalid", uint64(AuthInfo): "Authent Info",
			uint64(SAMapRequest): "Map Request", uint64(SAMapReply): "Map Reply", uint64(SAMapReject): "Map Reject"}},
		{"docsis_bpkm.attr.type", map[uint64]string{
			uint64(AttrSerialNumber): "Serial Number", uint64(AttrManufacturerID): "Manufacturer ID",
			uint64(AttrMACAddress): "MAC Address", uint64(AttrRSAPublicKey): "RSA Public Key",
			uint64(AttrCMIdentification): "CM Identification", uint64(AttrDisplayString): "Display String",
			uint64(AttrAuthKey): "Auth Key", uint64(AttrTEK): "Traffic Encryption Key",
			uint64(AttrKeyLifetime): "Key Lifetime", uint64(AttrKeySequence): "Key Sequence Number",
			uint64(AttrHMACDigest): "HMAC Digest", uint64(AttrSAID): "SAID", uint64(AttrTEKParameters): "TEK Parameters",
			uint64(AttrCBCIV): "CBC IV", uint64(AttrErrorCode): "Error Code", uint64(AttrCACertificate): "CA Certificate",
			uint64(AttrCMCertificate): "CM Certificate", uint64(AttrSecurityCaps): "Security Capabilities",
			uint64(AttrCryptoSuite): "Cryptographic Suite", uint64(AttrBPIVersion): "BPI Version",
			uint64(AttrSADescriptor): "SA Descriptor", uint64(AttrSAType): "SA Type"}},
		{"docsis_bpkm.attr.errcode", map[uint64]string{
			ErrCodeNoInformation: "No Information", ErrCodeUnauthorizedCM: "Unauthorized CM",
			ErrCodeUnauthorizedSAID: "Unauthorized SAID", ErrCodeInvalidKeySeq: "Invalid Key Sequence Number",
			ErrCodeAuthFailure: "Message (Key Request) authentication failure"}},
		{"docsis_bpkm.attr.bpiver", map[uint64]string{1: "BPI+"}},
		{"docsis_bpkm.attr.cryptosuite", map[uint64]string{
			uint64(bpi.SuiteDES56CBC):  "CBC-Mode 56-bit DES, no data authentication",
			uint64(bpi.SuiteAES128CBC): "CBC-Mode 128-bit AES, no data authentication"}},
	}
	for _, tt := range tables {
		vals := tsharktest.Values(t, tt.field)
		got := make(map[uint64]string, len(tt.want))
		for v := range tt.want {
			got[v] = vals[v]
		}
		if diff := cmp.Diff(tt.want, got); diff != "" {
			t.Errorf("%s: ours (-) against Wireshark's (+):\n%s", tt.field, diff)
		}
	}
}

// bpkmFrames builds one of each BPKM message our code sends, each in a
// whole DOCSIS MAC management frame, with the attributes each carries
// flattened in wire order (compound attributes before their contents).
func bpkmFrames(t *testing.T) (frames [][]byte, msgs []Message) {
	t.Helper()
	srv, mac, _, _ := keyFixture(t, bpi.SuiteAES128CBC)
	priv, err := rsa.GenerateKey(rand.Reader, 1024)
	if err != nil {
		t.Fatal(err)
	}
	srv.SetAuthorizer(func(net.HardwareAddr, *rsa.PublicKey) error { return nil })
	cl, err := NewKeyClient(mac, 33, bpi.SuiteAES128CBC, AuthKey{}, &captureSink{})
	if err != nil {
		t.Fatal(err)
	}
	if err := cl.SetIdentity(CMIdentity{SerialNumber: "LG0001", ManufacturerID: [3]byte{0x00, 0x10, 0x95},
		MAC: mac, PublicKey: &priv.PublicKey}); err != nil {
		t.Fatal(err)
	}
	authReq, err := cl.AuthRequest(1, &priv.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	authReply, err := srv.HandleAuthRequest(mac, authReq, t0, bpi.DefaultAKLifetime, rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	if err := cl.HandleAuthReply(authReply, priv, t0); err != nil {
		t.Fatal(err)
	}
	keyReq, err := cl.Request(2)
	if err != nil {
		t.Fatal(err)
	}
	keyReply, err := srv.HandleKeyRequest(mac, keyReq, t0.Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	other, _ := NewKeyClient(mac, 34, bpi.SuiteAES128CBC, cl.ak, &captureSink{})
	if err := other.SetIdentity(*cl.id); err != nil {
		t.Fatal(err)
	}
	otherReq, _ := other.Request(3)
	_, err = srv.HandleKeyRequest(mac, otherReq, t0.Add(time.Hour))
	var rej *Rejected
	if !errors.As(err, &rej) {
		t.Fatalf("request for another SAID: %v, want a Key Reject", err)
	}
	cmts := net.HardwareAddr{2, 0xcc, 0, 0, 0, 1}
	for _, raw := range [][]byte{authReq, authReply, keyReq, keyReply, rej.Reply} {
		m, err := ParseMessage(raw)
		if err != nil {
			t.Fatal(err)
		}
		da, sa := cmts, mac
		if m.Code.MgmtType() == TypeBPKMRsp {
			da, sa = mac, cmts
		}
		f, err := AppendMgmtFrame(nil, Mgmt{DA: da, SA: sa, Version: MgmtVersion, Type: m.Code.MgmtType(), Payload: raw})
		if err != nil {
			t.Fatal(err)
		}
		frames, msgs = append(frames, f), append(msgs, m)
	}
	return frames, msgs
}

// flatten lists the attributes depth first, compound ones before their
// contents, as Wireshark's dissect_attrs walks them.
func flatten(t *testing.T, attrs []Attr) []Attr {
	var out []Attr
	for _, a := range attrs {
		out = append(out, a)
		switch a.Type {
		case AttrCMIdentification, AttrTEKParameters, AttrSADescriptor, AttrSecurityCaps:
			sub, err := ParseAttrs(a.Value)
			if err != nil {
				t.Fatal(err)
			}
			out = append(out, flatten(t, sub)...)
		}
	}
	return out
}

// wsFields maps the attributes whose values we check to the tshark field
// that shows them, and renders our value as tshark prints it.
var wsFields = map[AttrType]struct {
	field  string
	render func([]byte) string
}{
	AttrCMIdentification: {"docsis_bpkm.attr.cmid", hex.EncodeToString},
	AttrSerialNumber:     {"docsis_bpkm.attr.serialnum", func(v []byte) string { return string(v) }},
	AttrManufacturerID:   {"docsis_bpkm.attr.manfid", hex.EncodeToString},
	AttrMACAddress:       {"docsis_bpkm.attr.macaddr", func(v []byte) string { return net.HardwareAddr(v).String() }},
	AttrRSAPublicKey:     {"docsis_bpkm.attr.rsa_pub_key", hex.EncodeToString},
	AttrAuthKey:          {"docsis_bpkm.attr.auth_key", hex.EncodeToString},
	AttrTEK:              {"docsis_bpkm.attr.tek", hex.EncodeToString},
	AttrKeyLifetime:      {"docsis_bpkm.attr.keylife", beUint},
	AttrKeySequence:      {"docsis_bpkm.attr.keyseq", beUint},
	AttrHMACDigest:       {"docsis_bpkm.attr.hmacdigest", hex.EncodeToString},
	AttrSAID:             {"docsis_bpkm.attr.said", beUint},
	AttrCBCIV:            {"docsis_bpkm.attr.cbciv", hex.EncodeToString},
	AttrErrorCode:        {"docsis_bpkm.attr.errcode", beUint},
	AttrCryptoSuite:      {"docsis_bpkm.attr.cryptosuite", func(v []byte) string { return "0x" + hex.EncodeToString(v) }},
	AttrSAType:           {"docsis_bpkm.attr.satype", beUint},
}

func beUint(v []byte) string {
	var n uint64
	for _, b := range v {
		n = n<<8 | uint64(b)
	}
	return strconv.FormatUint(n, 10)
}

// Wireshark reads the BPKM messages we send, in their MAC management
// frames, as we meant them: HCS correct; DSAP 0, SSAP 0, control 3, our
// version and type; the message length ending where the BPKM message
// ends (the current packet-docsis-macmgmt.c flags a BPKM Length that
// disagrees with it); code, identifier, length; every attribute with its
// type and value; no malformed packet and no expert warning. Our modem
// has an identity, so the Auth Request and the Key Request carry the
// full CM-Identification (serial number, manufacturer ID, MAC address,
// public key), at least MinCMIDLen bytes: tshark 4.0 does not check that
// minimum, the current packet-docsis-macmgmt.c flags anything shorter, so
// the test checks it itself.
func TestWiresharkReadsBPKM(t *testing.T) {
	tsharktest.Require(t)
	frames, msgs := bpkmFrames(t)
	hdr := []string{"docsis.hcs.status", "docsis_mgmt.dsap", "docsis_mgmt.ssap", "docsis_mgmt.control",
		"docsis_mgmt.version", "docsis_mgmt.type", "docsis_mgmt.rsvd", "docsis_mgmt.msglen",
		"docsis_bpkm.code", "docsis_bpkm.ident", "docsis_bpkm.length", "docsis_bpkm.attr.type", "docsis_bpkm.attr.length",
		"_ws.malformed", "_ws.expert.message"}
	fields := append([]string(nil), hdr...)
	for _, w := range wsFields {
		fields = append(fields, w.field)
	}
	got := tsharktest.Fields(t, frames, fields...)
	for i, m := range msgs {
		t.Run(strconv.Itoa(int(m.Code)), func(t *testing.T) {
			raw, _ := m.Append(nil)
			want := map[string]string{
				"docsis.hcs.status": "1", "docsis_mgmt.dsap": "0x00", "docsis_mgmt.ssap": "0x00",
				"docsis_mgmt.control": "0x03", "docsis_mgmt.version": strconv.Itoa(MgmtVersion),
				"docsis_mgmt.type": strconv.Itoa(int(m.Code.MgmtType())), "docsis_mgmt.rsvd": "0",
				"docsis_mgmt.msglen": strconv.Itoa(6 + len(raw)),
				"docsis_bpkm.code":   strconv.Itoa(int(m.Code)),
				"docsis_bpkm.ident":  strconv.Itoa(int(m.Identifier)),
				"docsis_bpkm.length": strconv.Itoa(len(raw) - messageHeaderLen),
				"_ws.malformed":      "",
				"_ws.expert.message": "",
			}
			var types, lengths []string
			values := make(map[string][]string)
			for _, a := range flatten(t, m.Attrs) {
				types = append(types, strconv.Itoa(int(a.Type)))
				lengths = append(lengths, strconv.Itoa(len(a.Value)))
				if w, ok := wsFields[a.Type]; ok {
					values[w.field] = append(values[w.field], w.render(a.Value))
				}
			}
			want["docsis_bpkm.attr.type"] = strings.Join(types, ",")
			want["docsis_bpkm.attr.length"] = strings.Join(lengths, ",")
			for _, w := range wsFields {
				want[w.field] = strings.Join(values[w.field], ",")
			}
			if m.Code == AuthRequest || m.Code == KeyRequest {
				v, _ := Find(m.Attrs, AttrCMIdentification)
				if _, err := ParseCMIdentity(v); err != nil || len(v) < MinCMIDLen {
					t.Errorf("CM-Identification of %d bytes is not the full one: %v", len(v), err)
				}
			}
			if diff := cmp.Diff(want, got[i]); diff != "" {
				t.Errorf("tshark's reading of %x (-want +got):\n%s", frames[i], diff)
			}
		})
	}
}

// A MAC management frame carrying a Key Reject, byte for byte up to the
// end of the BPKM message (what Wireshark reads; the trailing CRC-32 is
// not, see mgmt.go): MAC header c2 00 | LEN 0x0029 (the 41 bytes after the
// HCS) | HCS b2 42; DA, SA; msg LEN 0x0017 (23: DSAP through the payload);
// DSAP 00, SSAP 00, control 03, version 01, type 0d, reserved 00; Key
// Reject 09, identifier 07, length 0x000d; Key-Sequence-Number 0a 0001 02,
// SAID 0c 0002 0021, Error-Code 10 0001 02. tshark 4.0.17 reads it as
// "HCS correct, Privacy Key Management Response, Key Reject, Key Sequence
// Number 2, SAID 33, Error Code: Unauthorized SAID (2)"
// (TestWiresharkReadsKnownKeyReject).
const knownKeyRejectFrame = "c2000029" + "b242" +
	"001095000001" + "02cc00000001" + "0017" + "000003010d00" +
	"0907000d" + "0a000102" + "0c00020021" + "10000102"

func TestMgmtFrameKnownAnswer(t *testing.T) {
	payload, err := Message{Code: KeyReject, Identifier: 7, Attrs: []Attr{
		Uint8Attr(AttrKeySequence, 2), Uint16Attr(AttrSAID, 33), Uint8Attr(AttrErrorCode, ErrCodeUnauthorizedSAID),
	}}.Append(nil)
	if err != nil {
		t.Fatal(err)
	}
	f, err := AppendMgmtFrame(nil, Mgmt{DA: net.HardwareAddr{0, 0x10, 0x95, 0, 0, 1}, SA: net.HardwareAddr{2, 0xcc, 0, 0, 0, 1},
		Version: MgmtVersion, Type: TypeBPKMRsp, Payload: payload})
	if err != nil {
		t.Fatal(err)
	}
	if len(f) != len(knownKeyRejectFrame)/2+mgmtCRCLen {
		t.Fatalf("frame of %d bytes, want %d and a CRC", len(f), len(knownKeyRejectFrame)/2)
	}
	if diff := cmp.Diff(knownKeyRejectFrame, hex.EncodeToString(f[:len(f)-mgmtCRCLen])); diff != "" {
		t.Errorf("frame (-want +got):\n%s", diff)
	}
	if got := binary.BigEndian.Uint16(f[2:4]); int(got) != len(f)-6 {
		t.Errorf("MAC header LEN %d, want the %d bytes after the HCS", got, len(f)-6)
	}
}

func TestWiresharkReadsKnownKeyReject(t *testing.T) {
	known, err := hex.DecodeString(knownKeyRejectFrame)
	if err != nil {
		t.Fatal(err)
	}
	f := append(known, 0, 0, 0, 0) // the CRC's place; Wireshark does not read it
	got := tsharktest.Fields(t, [][]byte{f}, "docsis.hcs.status", "docsis_mgmt.type", "docsis_bpkm.code",
		"docsis_bpkm.attr.keyseq", "docsis_bpkm.attr.said", "docsis_bpkm.attr.errcode", "_ws.expert.message")
	want := map[string]string{"docsis.hcs.status": "1", "docsis_mgmt.type": "13", "docsis_bpkm.code": "9",
		"docsis_bpkm.attr.keyseq": "2", "docsis_bpkm.attr.said": "33", "docsis_bpkm.attr.errcode": "2", "_ws.expert.message": ""}
	if diff := cmp.Diff(want, got[0]); diff != "" {
		t.Errorf("tshark's reading (-want +got):\n%s", diff)
	}
}

// The RSA-Public-Key sub-attribute is a PKCS#1 RSAPublicKey: Wireshark
// dissects it with dissect_pkixalgs_RSAPublicKey. tshark 4.0 shows it as
// bytes (TestWiresharkReadsBPKM); here the encoding itself.
func TestRSAPublicKeyIsPKCS1(t *testing.T) {
	priv, err := rsa.GenerateKey(rand.Reader, 1024)
	if err != nil {
		t.Fatal(err)
	}
	cl, _ := NewKeyClient(net.HardwareAddr{0, 1, 2, 3, 4, 5}, 5, bpi.SuiteAES128CBC, AuthKey{}, &captureSink{})
	raw, err := cl.AuthRequest(1, &priv.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	m, _ := ParseMessage(raw)
	id, _ := Find(m.Attrs, AttrCMIdentification)
	sub, _ := ParseAttrs(id)
	der, ok := Find(sub, AttrRSAPublicKey)
	if !ok {
		t.Fatal("no RSA-Public-Key in the CM-Identification")
	}
	pub, err := x509.ParsePKCS1PublicKey(der)
	if err != nil || !pub.Equal(&priv.PublicKey) {
		t.Fatalf("RSA-Public-Key is not our key as PKCS#1: %v", err)
	}
}

// tshark reads the known-answer CM-Identification (cmid_test.go) in an
// Auth Request as we laid it out: serial number "SN1", manufacturer ID
// 001095, MAC address, the PKCS#1 key, lengths 130, 3, 3, 6, 106.
func TestWiresharkReadsKnownCMID(t *testing.T) {
	tsharktest.Require(t)
	cmid, err := hex.DecodeString(knownCMID)
	if err != nil {
		t.Fatal(err)
	}
	payload, err := Message{Code: AuthRequest, Identifier: 1,
		Attrs: []Attr{{AttrCMIdentification, cmid[3:]}, Uint16Attr(AttrSAID, 33)}}.Append(nil)
	if err != nil {
		t.Fatal(err)
	}
	id := knownIdentity()
	f, err := AppendMgmtFrame(nil, Mgmt{DA: net.HardwareAddr{2, 0xcc, 0, 0, 0, 1}, SA: id.MAC,
		Version: MgmtVersion, Type: TypeBPKMReq, Payload: payload})
	if err != nil {
		t.Fatal(err)
	}
	got := tsharktest.Fields(t, [][]byte{f}, "docsis_bpkm.attr.type", "docsis_bpkm.attr.length",
		"docsis_bpkm.attr.serialnum", "docsis_bpkm.attr.manfid", "docsis_bpkm.attr.macaddr",
		"docsis_bpkm.attr.rsa_pub_key", "_ws.malformed", "_ws.expert.message")
	want := map[string]string{
		"docsis_bpkm.attr.type": "5,1,2,3,4,12", "docsis_bpkm.attr.length": "130,3,3,6,106,2",
		"docsis_bpkm.attr.serialnum": "SN1", "docsis_bpkm.attr.manfid": "001095",
		"docsis_bpkm.attr.macaddr": "00:10:95:00:00:01", "docsis_bpkm.attr.rsa_pub_key": knownCMID[len(knownCMID)-2*106:],
		"_ws.malformed": "", "_ws.expert.message": "",
	}
	if diff := cmp.Diff(want, got[0]); diff != "" {
		t.Errorf("tshark's reading (-want +got):\n%s", diff)
	}
}
