package lq

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"net/netip"
)

// NewAgentInfo returns the option 82 a cable or DSL relay usually sends:
// circuit ID, then remote ID when remoteID is not nil.
func NewAgentInfo(circuitID, remoteID []byte) (AgentInfo, error) {
	var a AgentInfo
	if err := a.Set(SubCircuitID, circuitID); err != nil {
		return nil, err
	}
	if remoteID != nil {
		if err := a.Set(SubRemoteID, remoteID); err != nil {
			return nil, err
		}
	}
	return a, nil
}

// Set stores a copy of data as sub-option code after checking its format:
// it replaces the first sub-option with that code in place, or appends.
func (a *AgentInfo) Set(code uint8, data []byte) error {
	if err := checkSubOption(code, data); err != nil {
		return fmt.Errorf("set option 82 %w", err)
	}
	data = bytes.Clone(data)
	if data == nil {
		data = []byte{}
	}
	for i := range *a {
		if (*a)[i].Code == code {
			(*a)[i].Data = data
			return nil
		}
	}
	*a = append(*a, SubOption{Code: code, Data: data})
	return nil
}

// Del removes every sub-option code.
func (a *AgentInfo) Del(code uint8) {
	kept := (*a)[:0]
	for _, s := range *a {
		if s.Code != code {
			kept = append(kept, s)
		}
	}
	clear((*a)[len(kept):])
	*a = kept
}

// SetCircuitID sets sub-option 1.
func (a *AgentInfo) SetCircuitID(id []byte) error { return a.Set(SubCircuitID, id) }

// SetRemoteID sets sub-option 2.
func (a *AgentInfo) SetRemoteID(id []byte) error { return a.Set(SubRemoteID, id) }

// SetRelayID sets sub-option 12 (RFC 6925).
func (a *AgentInfo) SetRelayID(id []byte) error { return a.Set(SubRelayID, id) }

// SetSubscriberID sets sub-option 6 (RFC 3993): NVT ASCII, not empty.
func (a *AgentInfo) SetSubscriberID(id string) error { return a.Set(SubSubscriberID, []byte(id)) }

// SetDeviceClass sets sub-option 4 (RFC 3256).
func (a *AgentInfo) SetDeviceClass(c DeviceClass) {
	_ = a.Set(SubDeviceClass, binary.BigEndian.AppendUint32(nil, uint32(c)))
}

// SetLinkSelection sets sub-option 5 (RFC 3527) to an IPv4 subnet address.
func (a *AgentInfo) SetLinkSelection(subnet netip.Addr) error {
	return a.setAddr(SubLinkSelection, subnet)
}

// SetServerIDOverride sets sub-option 11 (RFC 5107) to an IPv4 address.
func (a *AgentInfo) SetServerIDOverride(server netip.Addr) error {
	return a.setAddr(SubServerIDOverride, server)
}

func (a *AgentInfo) setAddr(code uint8, addr netip.Addr) error {
	if !addr.Is4() {
		return fmt.Errorf("set option 82 sub-option %d: %v is not an IPv4 address", code, addr)
	}
	a4 := addr.As4()
	return a.Set(code, a4[:])
}
