package admin

import (
	"fmt"
	"math"

	"github.com/trustelem/zxcvbn"
)

// MinTokenLen is the shortest operator token the server accepts.
const MinTokenLen = 16

// MaxTokenLen is the longest operator token the server accepts (the estimator's work
// grows with the length).
const MaxTokenLen = 512

// MinTokenBits is the least strength, in bits, of an admin token or a plain operator
// token the server accepts, as TokenBits estimates it. `openssl rand -hex 32` gives
// about 210, `openssl rand -base64 32` about 145; `openssl rand -hex 16` (about 105) is
// too little.
const MinTokenBits = 128

// CheckToken reports whether tok is acceptable as the admin token or a plain operator
// token: MinTokenLen to MaxTokenLen characters and at least MinTokenBits by TokenBits.
// The error never holds the token.
func CheckToken(tok string) error {
	switch {
	case len(tok) < MinTokenLen:
		return fmt.Errorf("the token is shorter than %d characters; use a long random one (e.g. openssl rand -hex 32)", MinTokenLen)
	case len(tok) > MaxTokenLen:
		return fmt.Errorf("the token is longer than %d characters", MaxTokenLen)
	}
	if bits := TokenBits(tok); bits < MinTokenBits {
		return fmt.Errorf("the token is too predictable (about %.0f bits, want at least %d); use a long random one (e.g. openssl rand -hex 32)", bits, MinTokenBits)
	}
	return nil
}

// TokenBits estimates how hard tok is to guess, in bits: log2 of the guesses zxcvbn
// (the reference algorithm, release 4.4.2) says the cheapest way to build tok needs,
// from dictionary words (English, names, common passwords, with l33t and capitals),
// keyboard patterns, repeats, sequences, dates and random characters. Words strung
// together ("thequickbrownfox…", "my-super-secret-admin-token") score low however long
// they are; random characters about 3.3 bits each, whatever their alphabet.
func TokenBits(tok string) float64 {
	return math.Log2(zxcvbn.PasswordStrength(tok, nil).Guesses)
}
