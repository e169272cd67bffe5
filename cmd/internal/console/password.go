package console

import (
	"crypto/pbkdf2"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"fmt"
	"io"
	"strconv"
	"strings"

	"golang.org/x/crypto/bcrypt"
)

// HashPassword writes PBKDF2-HMAC-SHA256 (RFC 8018, standard library) in
// the PHC string format, so the string says how to check it:
//
//	$pbkdf2-sha256$i=100000$<salt>$<key>
//
// salt and key in unpadded standard base64. bcrypt hashes ($2a$, $2b$,
// $2y$, 60 characters) are accepted too, so that standard tools such as
// `mkpasswd -m bcrypt` or `htpasswd -nB` can make one.
const (
	hashScheme = "pbkdf2-sha256"
	// DefaultIterations is the PBKDF2 cost HashPassword uses: about 75 ms
	// per login on the amd64 build host, a quarter of bcrypt at cost 10
	// (BenchmarkVerifyPassword). OWASP asks 600000 for SHA-256, but a
	// login on a line card's slower CPU (not measured) must still answer
	// promptly; the lockout throttles online guessing, and the iterations
	// only slow an offline attack on a leaked config.
	DefaultIterations = 100_000
	minIterations     = 1_000
	maxIterations     = 10_000_000 // a config cannot make a login hang
	saltLen           = 16
	keyLen            = 32
	maxBcryptCost     = 14 // about a second on amd64, much more on a line card
)

// PasswordHash is a parsed password hash string.
type PasswordHash struct {
	iterations int
	salt, key  []byte
	bcrypt     []byte // the whole hash when it is a bcrypt one
}

// ParsePasswordHash parses a hash made by HashPassword, or a bcrypt hash.
func ParsePasswordHash(s string) (*PasswordHash, error) {
	if strings.HasPrefix(s, "$2") {
		return parseBcrypt(s)
	}
	f := strings.Split(s, "$")
	if len(f) != 5 || f[0] != "" {
		return nil, fmt.Errorf("password hash: want $%s$i=N$salt$key, got %d '$'-separated fields", hashScheme, len(f)-1)
	}
	if f[1] != hashScheme {
		return nil, fmt.Errorf("password hash: scheme %q, want %q", f[1], hashScheme)
	}
	it, ok := strings.CutPrefix(f[2], "i=")
	n, err := strconv.Atoi(it)
	if !ok || err != nil || n < minIterations || n > maxIterations {
		return nil, fmt.Errorf("password hash: iterations %q, want i=N with N from %d to %d", f[2], minIterations, maxIterations)
	}
	h := &PasswordHash{iterations: n}
	if h.salt, err = decodeHashField("salt", f[3], 8, 64); err != nil {
		return nil, err
	}
	if h.key, err = decodeHashField("key", f[4], 16, 64); err != nil {
		return nil, err
	}
	return h, nil
}

func decodeHashField(name, s string, lo, hi int) ([]byte, error) {
	b, err := base64.RawStdEncoding.DecodeString(s)
	switch {
	case err != nil:
		return nil, fmt.Errorf("password hash: %s: %v", name, err)
	case len(b) < lo || len(b) > hi:
		return nil, fmt.Errorf("password hash: %s is %d bytes, want %d to %d", name, len(b), lo, hi)
	}
	return b, nil
}

func parseBcrypt(s string) (*PasswordHash, error) {
	cost, err := bcrypt.Cost([]byte(s))
	switch {
	case err != nil:
		return nil, fmt.Errorf("password hash: bcrypt: %v", err)
	case len(s) != 60:
		return nil, fmt.Errorf("password hash: bcrypt hash is %d characters, want 60", len(s))
	case cost > maxBcryptCost:
		return nil, fmt.Errorf("password hash: bcrypt cost %d, want at most %d", cost, maxBcryptCost)
	}
	return &PasswordHash{bcrypt: []byte(s)}, nil
}

// String is the hash in its string form.
func (h *PasswordHash) String() string {
	if h.bcrypt != nil {
		return string(h.bcrypt)
	}
	enc := base64.RawStdEncoding
	return fmt.Sprintf("$%s$i=%d$%s$%s", hashScheme, h.iterations, enc.EncodeToString(h.salt), enc.EncodeToString(h.key))
}

// Verify reports whether password is the one hashed, in time independent
// of where a wrong password differs.
func (h *PasswordHash) Verify(password []byte) bool {
	if h.bcrypt != nil {
		return bcrypt.CompareHashAndPassword(h.bcrypt, password) == nil
	}
	k, err := pbkdf2.Key(sha256.New, string(password), h.salt, h.iterations, len(h.key))
	return err == nil && subtle.ConstantTimeCompare(k, h.key) == 1
}

// HashPassword hashes password with a salt read from rnd (crypto/rand.Reader
// in production) and the given PBKDF2 iterations (DefaultIterations if 0).
func HashPassword(password string, rnd io.Reader, iterations int) (string, error) {
	if iterations == 0 {
		iterations = DefaultIterations
	}
	if iterations < minIterations || iterations > maxIterations {
		return "", fmt.Errorf("password hash: %d iterations, want %d to %d", iterations, minIterations, maxIterations)
	}
	if password == "" {
		return "", fmt.Errorf("password hash: empty password")
	}
	h := &PasswordHash{iterations: iterations, salt: make([]byte, saltLen)}
	if _, err := io.ReadFull(rnd, h.salt); err != nil {
		return "", fmt.Errorf("password hash: salt: %w", err)
	}
	k, err := pbkdf2.Key(sha256.New, password, h.salt, iterations, keyLen)
	if err != nil {
		return "", fmt.Errorf("password hash: %w", err)
	}
	h.key = k
	return h.String(), nil
}
