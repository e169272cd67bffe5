package leasequery_test

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
)

type sweepSummary struct {
	Total, Active, Unassigned, Unknown, Timeout int
	DurationS                                   float64 `json:"duration_s"`
	AnswersPerS                                 float64 `json:"answers_per_s"`
	Transmitted                                 uint64  `json:"transmitted"`
	Retransmitted                               uint64  `json:"retransmitted"`
}

func decodeSweep(t testing.TB, stdout string) sweepSummary {
	t.Helper()
	var s sweepSummary
	if err := json.NewDecoder(strings.NewReader(stdout)).Decode(&s); err != nil {
		t.Fatalf("decode sweep summary %q: %v", stdout, err)
	}
	return s
}

func ip30(i int) string { return fmt.Sprintf("192.168.30.%d", i) }

func mac(i int) string { return fmt.Sprintf("02:00:00:00:%02x:%02x", i>>8, i&0xff) }
