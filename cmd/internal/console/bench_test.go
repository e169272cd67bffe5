package console

import (
	"crypto/rand"
	"testing"

	"golang.org/x/crypto/bcrypt"
)

// The cost of one login check: the PBKDF2 hash HashPassword makes, beside
// bcrypt at its default cost (what `mkpasswd -m bcrypt` makes).
func BenchmarkVerifyPassword(b *testing.B) {
	pb, err := HashPassword("secret", rand.Reader, DefaultIterations)
	if err != nil {
		b.Fatal(err)
	}
	bc, err := bcrypt.GenerateFromPassword([]byte("secret"), bcrypt.DefaultCost)
	if err != nil {
		b.Fatal(err)
	}
	for _, tt := range []struct{ name, hash string }{
		{"pbkdf2-sha256-100k", pb},
		{"bcrypt-10", string(bc)},
	} {
		h, err := ParsePasswordHash(tt.hash)
		if err != nil {
			b.Fatal(err)
		}
		b.Run(tt.name, func(b *testing.B) {
			for b.Loop() {
				if !h.Verify([]byte("secret")) {
					b.Fatal("does not verify")
				}
			}
		})
	}
}
