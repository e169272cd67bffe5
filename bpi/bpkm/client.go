package bpkm

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"time"

	"github.com/leaseguard/leaseguard/bpi"
)

// KeyClient is the modem side of the TEK exchange: it builds Key Requests
// for its primary SA and installs the TEKs of verified Key Replies into a
// key sink (the modem emulator).
type KeyClient struct {
	mac   net.HardwareAddr
	said  uint16
	suite bpi.Suite
	ak    AuthKey
	keys  Keys
	sink  bpi.KeySink
	id    *CMIdentity // nil: the short CM-Identification, see cmIDAttr
}

// NewKeyClient returns a client for the modem mac and its primary SAID,
// installing TEKs of the given suite into sink. ak is a provisioned AK, or
// the zero AuthKey when the client will get its AK by HandleAuthReply.
func NewKeyClient(mac net.HardwareAddr, said uint16, suite bpi.Suite, ak AuthKey, sink bpi.KeySink) (*KeyClient, error) {
	if len(ak.Key) != AKLen && len(ak.Key) != 0 {
		return nil, fmt.Errorf("key client %v: AK of %d bytes, want %d", mac, len(ak.Key), AKLen)
	}
	return &KeyClient{mac: mac, said: said, suite: suite, ak: ak, keys: Derive(ak.Key), sink: sink}, nil
}

// ErrNoAK: the client has no authorization key yet.
var ErrNoAK = errors.New("no authorization key")

// Request encodes a Key Request: CM-Identification (the full one when the
// client has an identity, else the MAC address alone), the AK sequence
// number, the SAID, signed with HMAC_KEY_U.
func (c *KeyClient) Request(id uint8) ([]byte, error) {
	if len(c.ak.Key) == 0 {
		return nil, fmt.Errorf("key request from %v: %w", c.mac, ErrNoAK)
	}
	cmID, err := c.cmIDAttr(nil)
	if err != nil {
		return nil, err
	}
	return Sign(nil, Message{Code: KeyRequest, Identifier: id, Attrs: []Attr{
		cmID, Uint8Attr(AttrKeySequence, c.ak.Seq), Uint16Attr(AttrSAID, c.said),
	}}, c.keys.HMACUp)
}

// HandleReply verifies a Key Reply (or Key Reject) received at now and
// installs its two TEKs, expiring their announced lifetimes after now.
func (c *KeyClient) HandleReply(raw []byte, now time.Time) error {
	m, err := Verify(raw, c.keys.HMACDown)
	if err != nil {
		return fmt.Errorf("key reply to %v: %w", c.mac, err)
	}
	if m.Code == KeyReject {
		code, _ := Find(m.Attrs, AttrErrorCode)
		return fmt.Errorf("key reply to %v: error code %v: %w", c.mac, code, ErrKeyReject)
	}
	if m.Code != KeyReply {
		return fmt.Errorf("key reply to %v: code %d", c.mac, m.Code)
	}
	if v, err := fixed(m.Attrs, AttrSAID, 2); err != nil || binary.BigEndian.Uint16(v) != c.said {
		return fmt.Errorf("key reply to %v: not for SAID %d", c.mac, c.said)
	}
	params := FindAll(m.Attrs, AttrTEKParameters)
	if len(params) != 2 {
		return fmt.Errorf("key reply to %v: %d TEK-Parameters, want 2", c.mac, len(params))
	}
	var teks [2]*bpi.TEK
	for i, p := range params {
		if teks[i], err = c.parseTEK(p, now); err != nil {
			return fmt.Errorf("key reply to %v: TEK-Parameters %d: %w", c.mac, i, err)
		}
	}
	return c.sink.SetTEKs(c.said, teks[0], teks[1])
}

func (c *KeyClient) parseTEK(v []byte, now time.Time) (*bpi.TEK, error) {
	attrs, err := ParseAttrs(v)
	if err != nil {
		return nil, err
	}
	n := c.suite.KeyLen()
	wrapped, err := fixed(attrs, AttrTEK, n)
	if err != nil {
		return nil, err
	}
	life, err := fixed(attrs, AttrKeyLifetime, 4)
	if err != nil {
		return nil, err
	}
	seq, err := fixed(attrs, AttrKeySequence, 1)
	if err != nil {
		return nil, err
	}
	iv, err := fixed(attrs, AttrCBCIV, n)
	if err != nil {
		return nil, err
	}
	key, err := UnwrapTEK(c.suite, c.keys.KEK, wrapped)
	if err != nil {
		return nil, err
	}
	expires := now.Add(time.Duration(binary.BigEndian.Uint32(life)) * time.Second)
	return bpi.NewTEK(c.suite, key, iv, seq[0]&0x0f, expires)
}
