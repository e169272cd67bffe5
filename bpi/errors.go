package bpi

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
)

// Sentinel errors callers branch on; the typed errors below wrap them.
var (
	// ErrUnsupportedSuite: the cryptographic suite is not implemented.
	ErrUnsupportedSuite = errors.New("unsupported cryptographic suite")
	// ErrUnknownLocation: no binding places the destination IP behind a
	// modem. The caller may start a leasequery for the address.
	ErrUnknownLocation = errors.New("unknown location")
	// ErrUnknownModem: the modem is not in the SA table.
	ErrUnknownModem = errors.New("modem has no security association")
	// ErrNoKey: BPI is enabled for the modem but no TEK is valid now. The
	// frame must not be sent, least of all in clear.
	ErrNoKey = errors.New("no valid traffic encryption key")
	// ErrNoDestination: the frame carries no IP destination to locate.
	ErrNoDestination = errors.New("no IP destination in frame")
)

// LocationError reports a destination IP with no known location.
type LocationError struct{ IP netip.Addr }

func (e *LocationError) Error() string {
	return fmt.Sprintf("destination %v: %v", e.IP, ErrUnknownLocation)
}

func (e *LocationError) Unwrap() error { return ErrUnknownLocation }

// KeyError reports a modem (and its SA) for which no key is usable; Err is
// ErrUnknownModem or ErrNoKey.
type KeyError struct {
	Modem net.HardwareAddr
	SAID  uint16
	Err   error
}

func (e *KeyError) Error() string {
	return fmt.Sprintf("modem %v SAID %d: %v", e.Modem, e.SAID, e.Err)
}

func (e *KeyError) Unwrap() error { return e.Err }
