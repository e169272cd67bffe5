package bpkm

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"sync"
	"time"

	"github.com/leaseguard/leaseguard/bpi"
)

// Error codes of Key Reject and friends. Checked against Wireshark
// epan/dissectors/packet-docsis-macmgmt.c (error_code_vals: 0 no
// information, 1 unauthorized CM, 2 unauthorized SAID, 4 invalid key
// sequence number, 5 Key Request authentication failure; commit 0c8b0164)
// and tshark 4.0.17's table (TestWiresharkValueTables).
const (
	ErrCodeNoInformation    = 0
	ErrCodeUnauthorizedCM   = 1
	ErrCodeUnauthorizedSAID = 2
	ErrCodeInvalidKeySeq    = 4
	ErrCodeAuthFailure      = 5
)

// AuthKey is an authorization key as both ends hold it after the
// Authorization exchange.
type AuthKey struct {
	Key     []byte // AKLen bytes
	Seq     uint8  // AK key sequence number, 0-15
	Expires time.Time
}

// SAKeys gives the current keys of an SA; bpi.Table and bpi.Manager
// satisfy it.
type SAKeys interface {
	SA(said uint16) (*bpi.SA, bool)
}

// Rejected is a Key Reject returned by the server: the caller sends Reply.
type Rejected struct {
	Code  uint8
	Reply []byte
}

func (r *Rejected) Error() string { return fmt.Sprintf("key request rejected, error code %d", r.Code) }

// KeyServer answers Key Requests on the CMTS. It is safe for concurrent
// use.
type KeyServer struct {
	modems *bpi.Table
	keys   SAKeys

	mu        sync.RWMutex
	aks       map[string]authState
	authorize Authorizer
}

type authState struct {
	ak   AuthKey
	keys Keys
}

// NewKeyServer returns a server that checks requests against the modems in
// modems and hands out the TEKs of keys, wrapped under each modem's KEK.
func NewKeyServer(modems *bpi.Table, keys SAKeys) *KeyServer {
	return &KeyServer{modems: modems, keys: keys, aks: make(map[string]authState)}
}

// SetAuthKey records the AK authorized for a modem. Until the Authorization
// exchange (RSA-wrapped AK) is implemented, AKs are provisioned.
func (s *KeyServer) SetAuthKey(modem net.HardwareAddr, ak AuthKey) error {
	if len(ak.Key) != AKLen {
		return fmt.Errorf("AK for %v: %d bytes, want %d", modem, len(ak.Key), AKLen)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.aks[string(modem)] = authState{ak: ak, keys: Derive(ak.Key)}
	return nil
}

// HandleKeyRequest answers one Key Request from modem (its MAC from the
// management message's source address) at now. It returns the encoded
// Key Reply, or a *Rejected carrying the encoded Key Reject, or another
// error when no reply can be signed (unknown modem or AK).
func (s *KeyServer) HandleKeyRequest(modem net.HardwareAddr, raw []byte, now time.Time) ([]byte, error) {
	s.mu.RLock()
	st, ok := s.aks[string(modem)]
	s.mu.RUnlock()
	if !ok || !now.Before(st.ak.Expires) {
		return nil, fmt.Errorf("key request from %v: no valid AK", modem)
	}
	req, err := Verify(raw, st.keys.HMACUp)
	if err != nil {
		return nil, fmt.Errorf("key request from %v: %w", modem, err)
	}
	said, code := s.checkRequest(modem, req, st.ak)
	if code != 0 {
		return s.reject(req, said, code, st)
	}
	sa, ok := s.keys.SA(said)
	if !ok || sa.Older == nil || sa.Newer == nil {
		return s.reject(req, said, ErrCodeNoInformation, st)
	}
	attrs := []Attr{Uint8Attr(AttrKeySequence, st.ak.Seq), Uint16Attr(AttrSAID, said)}
	for _, tek := range []*bpi.TEK{sa.Older, sa.Newer} {
		p, err := tekParameters(tek, st.keys.KEK, now)
		if err != nil {
			return nil, fmt.Errorf("key reply to %v SAID %d: %w", modem, said, err)
		}
		attrs = append(attrs, p)
	}
	return Sign(nil, Message{Code: KeyReply, Identifier: req.Identifier, Attrs: attrs}, st.keys.HMACDown)
}

// checkRequest validates a verified Key Request; a non-zero code rejects.
func (s *KeyServer) checkRequest(modem net.HardwareAddr, req Message, ak AuthKey) (said uint16, code uint8) {
	if req.Code != KeyRequest {
		return 0, ErrCodeNoInformation
	}
	v, err := fixed(req.Attrs, AttrSAID, 2)
	if err != nil {
		return 0, ErrCodeNoInformation
	}
	said = binary.BigEndian.Uint16(v)
	// The CMTS knows the modem by the source MAC of the frame; the
	// CM-Identification, full or MAC-only, must agree with it (see
	// requestIdentity for what the specification's CMTS checks besides).
	if _, _, err := requestIdentity(modem, req.Attrs); err != nil {
		return said, ErrCodeUnauthorizedCM
	}
	if seq, err := fixed(req.Attrs, AttrKeySequence, 1); err != nil || seq[0]&0x0f != ak.Seq {
		return said, ErrCodeInvalidKeySeq
	}
	m, ok := s.modems.Modem(modem)
	if !ok {
		return said, ErrCodeUnauthorizedCM
	}
	if m.PrimarySAID != said {
		return said, ErrCodeUnauthorizedSAID
	}
	return said, 0
}

func (s *KeyServer) reject(req Message, said uint16, code uint8, st authState) ([]byte, error) {
	b, err := Sign(nil, Message{Code: KeyReject, Identifier: req.Identifier, Attrs: []Attr{
		Uint8Attr(AttrKeySequence, st.ak.Seq), Uint16Attr(AttrSAID, said), Uint8Attr(AttrErrorCode, code),
	}}, st.keys.HMACDown)
	if err != nil {
		return nil, err
	}
	return nil, &Rejected{Code: code, Reply: b}
}

// tekParameters builds the TEK-Parameters attribute: the wrapped TEK, its
// remaining lifetime in seconds, its sequence number and its CBC-IV.
func tekParameters(tek *bpi.TEK, kek [16]byte, now time.Time) (Attr, error) {
	wrapped, err := WrapTEK(tek.Suite, kek, tek.Key())
	if err != nil {
		return Attr{}, err
	}
	left := max(tek.Expires.Sub(now)/time.Second, 0)
	return Compound(AttrTEKParameters,
		Attr{AttrTEK, wrapped},
		Uint32Attr(AttrKeyLifetime, uint32(min(left, 1<<32-1))),
		Uint8Attr(AttrKeySequence, tek.Seq),
		Attr{AttrCBCIV, tek.IV()})
}

// ErrKeyReject: the CMTS answered a Key Request with a Key Reject.
var ErrKeyReject = errors.New("key reject")
