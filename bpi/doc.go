// Package bpi is DOCSIS Baseline Privacy (BPI/BPI+) for the CMTS side of a
// line card: the per-modem data encryption of DOCSIS packet PDUs, the MAC
// header and privacy extended header that carry it, the security
// associations (SAs) with their two traffic encryption keys (TEKs), and the
// selection of an SA from location data (destination IP -> binding ->
// modem -> primary SA -> current TEK).
//
// The protocol logic here does no I/O and takes time and randomness as
// parameters. The virtual RF link that carries the frames is in
// bpi/rflink, the modem emulator used by tests and the demo in bpi/modem,
// and the key-management message codec (BPKM) in bpi/bpkm.
//
// Sources: Wireshark's DOCSIS dissectors, the DOCSIS cipher code and
// known-answer vectors of DPDK and intel-ipsec-mb, RFC 4131. Wire layouts
// are cross-checked by running tshark over the frames we build (package
// bpi/tsharktest; tests skip without tshark). Facts that neither the
// CableLabs specifications (CM-SP-SECv3.1 / CM-SP-MULPIv3.1, not at hand)
// nor a public implementation confirm are marked UNVERIFIED where they are
// used, with what was looked at.
package bpi
