package console

import (
	"bytes"
	"crypto/rand"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"golang.org/x/crypto/bcrypt"
)

// testHash is "secret" hashed at the lowest cost, to keep tests fast.
func testHash(t testing.TB) string {
	t.Helper()
	h, err := HashPassword("secret", rand.Reader, minIterations)
	if err != nil {
		t.Fatal(err)
	}
	return h
}

func TestPasswordHashRoundTrip(t *testing.T) {
	s := testHash(t)
	if !strings.HasPrefix(s, "$pbkdf2-sha256$i=1000$") {
		t.Errorf("hash %q lacks the self-describing prefix", s)
	}
	h, err := ParsePasswordHash(s)
	if err != nil {
		t.Fatal(err)
	}
	if h.String() != s {
		t.Errorf("String() = %q, want %q", h.String(), s)
	}
	for pw, want := range map[string]bool{"secret": true, "Secret": false, "secret ": false, "": false} {
		if got := h.Verify([]byte(pw)); got != want {
			t.Errorf("Verify(%q) = %v, want %v", pw, got, want)
		}
	}
	// A fresh salt every time.
	if testHash(t) == s {
		t.Error("two hashes of the same password are equal: no salt")
	}
}

// A known answer from Python's hashlib.pbkdf2_hmac('sha256', b'secret',
// b'saltsaltsaltsalt', 1000), so the format matches other implementations.
func TestPasswordHashKnownAnswer(t *testing.T) {
	const s = "$pbkdf2-sha256$i=1000$c2FsdHNhbHRzYWx0c2FsdA$dClvKSmj66n6MdMWNv3Go4mvH1Ym2WIGiJvquqa+mfE"
	h, err := ParsePasswordHash(s)
	if err != nil {
		t.Fatal(err)
	}
	if !h.Verify([]byte("secret")) {
		t.Error("known-answer hash does not verify")
	}
}

func TestBcryptHashAccepted(t *testing.T) {
	b, err := bcrypt.GenerateFromPassword([]byte("secret"), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	h, err := ParsePasswordHash(string(b))
	if err != nil {
		t.Fatal(err)
	}
	if !h.Verify([]byte("secret")) || h.Verify([]byte("wrong")) {
		t.Error("bcrypt hash verifies wrongly")
	}
}

func TestParsePasswordHashErrors(t *testing.T) {
	tests := []struct{ in, want string }{
		{"", "got 0 '$'-separated fields"},
		{"secret", "got 0"},
		{"$pbkdf2-sha1$i=1000$c2FsdHNhbHQ$c2FsdHNhbHRzYWx0c2FsdA", `scheme "pbkdf2-sha1"`},
		{"$pbkdf2-sha256$i=10$c2FsdHNhbHQ$c2FsdHNhbHRzYWx0c2FsdA", `iterations "i=10"`},
		{"$pbkdf2-sha256$i=99999999999$c2FsdHNhbHQ$c2FsdHNhbHRzYWx0c2FsdA", "iterations"},
		{"$pbkdf2-sha256$n=1000$c2FsdHNhbHQ$c2FsdHNhbHRzYWx0c2FsdA", "iterations"},
		{"$pbkdf2-sha256$i=1000$!!$c2FsdHNhbHRzYWx0c2FsdA", "salt: illegal base64"},
		{"$pbkdf2-sha256$i=1000$c2FsdA$c2FsdHNhbHRzYWx0c2FsdA", "salt is 4 bytes"},
		{"$pbkdf2-sha256$i=1000$c2FsdHNhbHQ$c2FsdA", "key is 4 bytes"},
		{"$2a$31$" + strings.Repeat("a", 53), "bcrypt cost 31"},
		{"$2a$10$short", "too short"},
		{"$2a$10$" + strings.Repeat("a", 54), "61 characters"},
		{"$2x", "bcrypt"},
	}
	for _, tt := range tests {
		_, err := ParsePasswordHash(tt.in)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("ParsePasswordHash(%q) = %v, want an error containing %q", tt.in, err, tt.want)
		}
	}
	if _, err := HashPassword("", rand.Reader, 0); err == nil {
		t.Error("HashPassword accepted an empty password")
	}
	if _, err := HashPassword("x", rand.Reader, 10); err == nil {
		t.Error("HashPassword accepted 10 iterations")
	}
}

func TestLockout(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 3, 0, 0, 0, time.UTC)
	l := lockout{maxFailures: 3, base: time.Minute, ceiling: 5 * time.Minute}
	type step struct {
		at     time.Duration // since t0
		ok     bool
		locks  time.Duration // the lockout this attempt starts
		remain time.Duration // remaining() right after
	}
	steps := []step{
		{0, false, 0, 0},
		{1 * time.Second, false, 0, 0},
		{2 * time.Second, false, time.Minute, time.Minute},
		{62 * time.Second, false, 0, 0}, // lock over; counting again
		{63 * time.Second, false, 0, 0},
		{64 * time.Second, false, 2 * time.Minute, 2 * time.Minute}, // doubled
		{10 * time.Minute, false, 0, 0},
		{10 * time.Minute, false, 0, 0},
		{10 * time.Minute, false, 4 * time.Minute, 4 * time.Minute},
		{20 * time.Minute, false, 0, 0},
		{20 * time.Minute, false, 0, 0},
		{20 * time.Minute, false, 5 * time.Minute, 5 * time.Minute}, // capped
		{30 * time.Minute, true, 0, 0},                              // success forgives
		{31 * time.Minute, false, 0, 0},
		{31 * time.Minute, false, 0, 0},
		{31 * time.Minute, false, time.Minute, time.Minute},
	}
	var got, want []step
	for _, s := range steps {
		now := t0.Add(s.at)
		g := step{at: s.at, ok: s.ok}
		if s.ok {
			l.succeed()
		} else {
			g.locks = l.fail(now)
		}
		g.remain = l.remaining(now)
		got, want = append(got, g), append(want, s)
	}
	if diff := cmp.Diff(want, got, cmp.AllowUnexported(step{})); diff != "" {
		t.Errorf("lockout steps (-want +got):\n%s", diff)
	}
}

func TestHashPasswordCommandFromPipe(t *testing.T) {
	var out, prompt bytes.Buffer
	if err := HashPasswordCommand(strings.NewReader("secret\n"), &prompt, &out, rand.Reader); err != nil {
		t.Fatal(err)
	}
	h, err := ParsePasswordHash(strings.TrimSpace(out.String()))
	if err != nil {
		t.Fatal(err)
	}
	if !h.Verify([]byte("secret")) {
		t.Error("the hash printed does not verify the password given")
	}
	if prompt.Len() != 0 {
		t.Errorf("prompted %q when not on a terminal", prompt.String())
	}
	if err := HashPasswordCommand(strings.NewReader(""), &prompt, &out, rand.Reader); err == nil {
		t.Error("no password read, no error")
	}
}
