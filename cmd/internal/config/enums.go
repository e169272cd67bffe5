package config

import "fmt"

// PortKind says what sits behind a subscriber port.
type PortKind string

const (
	Cable    PortKind = "cable"    // a DOCSIS modem: remote-id is the modem MAC
	DSL      PortKind = "dsl"      // a DSL line or ATM/Ethernet VC: remote-id configured
	Ethernet PortKind = "ethernet" // a plain access port
)

func (k *PortKind) UnmarshalText(b []byte) error {
	return oneOf((*string)(k), b, string(Cable), string(DSL), string(Ethernet))
}

// Trust says whether a port's clients may send their own option 82.
type Trust string

const (
	Untrusted Trust = "untrusted" // the default: option 82 or giaddr from a client is dropped
	Trusted   Trust = "trusted"   // the port faces another relay; its option 82 is handled by the policy
)

func (t *Trust) UnmarshalText(b []byte) error {
	return oneOf((*string)(t), b, string(Untrusted), string(Trusted))
}

// Option82Policy is what a trusted port does with a client packet that
// already carries option 82, like ISC dhcrelay's -m.
type Option82Policy string

const (
	PolicyDrop    Option82Policy = "drop"    // drop the packet (and count it)
	PolicyReplace Option82Policy = "replace" // replace it with ours
	PolicyKeep    Option82Policy = "keep"    // forward it unchanged, add nothing
)

func (p *Option82Policy) UnmarshalText(b []byte) error {
	return oneOf((*string)(p), b, string(PolicyDrop), string(PolicyReplace), string(PolicyKeep))
}

func oneOf(dst *string, b []byte, allowed ...string) error {
	for _, a := range allowed {
		if string(b) == a {
			*dst = a
			return nil
		}
	}
	return fmt.Errorf("%q is not one of %q", b, allowed)
}
