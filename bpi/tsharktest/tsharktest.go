// Package tsharktest cross-checks DOCSIS frames against Wireshark: it
// writes frames to a pcap with the DOCSIS link type and returns what
// tshark's DOCSIS dissectors (packet-docsis.c, packet-docsis-macmgmt.c)
// read from them, and Wireshark's own value tables. Tests that use it are
// skipped when tshark is not installed (Debian package tshark).
//
// It exists because the CableLabs specifications are not at hand: a
// dissector that thousands of operators point at real CMTS captures is the
// best public statement of the wire layout. It confirms layout and
// numbers, never cryptography (Wireshark does not verify HMAC digests or
// decrypt BPI+).
package tsharktest

import (
	"bytes"
	"encoding/binary"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
)

// linkTypeDOCSIS is the pcap link type of DOCSIS MAC frames (DLT_DOCSIS).
const linkTypeDOCSIS = 143

// Require returns the path of tshark, or skips t when it is missing.
func Require(t testing.TB) string {
	t.Helper()
	path, err := exec.LookPath("tshark")
	if err != nil {
		t.Skip("tshark not installed (apt-get install tshark): Wireshark cross-check skipped")
	}
	return path
}

// Version is the first line of `tshark --version`, for test logs.
func Version(t testing.TB) string {
	t.Helper()
	out, err := exec.Command(Require(t), "--version").Output()
	if err != nil {
		t.Fatalf("tshark --version: %v", err)
	}
	line, _, _ := strings.Cut(string(out), "\n")
	return line
}

// Fields decodes frames (each a DOCSIS MAC frame starting at FC) and
// returns, per frame, the value of each requested field; several
// occurrences of a field are joined with commas, a missing one is "".
// The HCS check is on (docsis.check_fcs).
func Fields(t testing.TB, frames [][]byte, fields ...string) []map[string]string {
	t.Helper()
	args := []string{"-r", writePcap(t, frames), "-o", "docsis.check_fcs:TRUE",
		"-T", "fields", "-E", "separator=/t", "-E", "occurrence=a"}
	for _, f := range fields {
		args = append(args, "-e", f)
	}
	lines := run(t, args...)
	if len(lines) != len(frames) {
		t.Fatalf("tshark decoded %d frames, want %d", len(lines), len(frames))
	}
	out := make([]map[string]string, len(lines))
	for i, line := range lines {
		vals := strings.Split(line, "\t")
		out[i] = make(map[string]string, len(fields))
		for j, f := range fields {
			if j < len(vals) {
				out[i][f] = vals[j]
			}
		}
	}
	return out
}

// Values is Wireshark's value table of a field (tshark -G values): value
// to label.
func Values(t testing.TB, field string) map[uint64]string {
	t.Helper()
	valuesOnce.Do(func() { valueLines = run(t, "-G", "values") })
	vals := make(map[uint64]string)
	for _, line := range valueLines {
		rec := strings.Split(line, "\t")
		if len(rec) != 4 || rec[0] != "V" || rec[1] != field {
			continue
		}
		v, err := strconv.ParseUint(rec[2], 0, 64)
		if err != nil {
			t.Fatalf("tshark -G values: %s: value %q: %v", field, rec[2], err)
		}
		vals[v] = rec[3]
	}
	if len(vals) == 0 {
		t.Fatalf("tshark has no value table for %s", field)
	}
	return vals
}

// valueLines caches tshark -G values (seconds to produce) for the test
// binary's life.
var (
	valuesOnce sync.Once
	valueLines []string
)

func run(t testing.TB, args ...string) []string {
	t.Helper()
	cmd := exec.Command(Require(t), args...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("tshark %s: %v: %s", strings.Join(args, " "), err, stderr.Bytes())
	}
	text := strings.TrimRight(string(out), "\n")
	if text == "" {
		return nil
	}
	return strings.Split(text, "\n")
}

// writePcap writes frames to a classic little-endian pcap in t's temporary
// directory and returns its path.
func writePcap(t testing.TB, frames [][]byte) string {
	t.Helper()
	le := binary.LittleEndian
	b := le.AppendUint32(nil, 0xa1b2c3d4) // magic, microsecond timestamps
	b = le.AppendUint16(b, 2)
	b = le.AppendUint16(b, 4)
	b = le.AppendUint64(b, 0) // time zone, accuracy
	b = le.AppendUint32(b, 65535)
	b = le.AppendUint32(b, linkTypeDOCSIS)
	for i, f := range frames {
		b = le.AppendUint32(b, uint32(i)) // seconds
		b = le.AppendUint32(b, 0)
		b = le.AppendUint32(b, uint32(len(f)))
		b = le.AppendUint32(b, uint32(len(f)))
		b = append(b, f...)
	}
	path := filepath.Join(t.TempDir(), "docsis.pcap")
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}
