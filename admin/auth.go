package admin

import (
	"crypto/sha256"
	"crypto/subtle"
	"fmt"
	"math"
	"net/http"
	"strings"
	"unicode"
	"unicode/utf8"
)

// MinTokenLen is the shortest admin token the server accepts.
const MinTokenLen = 16

// MinTokenBits is the least estimated entropy, in bits, of an admin token the server
// accepts (see TokenBits). `openssl rand -hex 32` gives about 225, `openssl rand -base64 32`
// about 265.
const MinTokenBits = 96

// CheckToken reports whether tok is acceptable as the admin token: at least MinTokenLen
// characters and at least MinTokenBits of estimated entropy. The error never holds the token.
func CheckToken(tok string) error {
	if len(tok) < MinTokenLen {
		return fmt.Errorf("the admin token is shorter than %d characters; use a long random one (e.g. openssl rand -hex 32)", MinTokenLen)
	}
	if bits := TokenBits(tok); bits < MinTokenBits {
		return fmt.Errorf("the admin token is too predictable (about %.0f bits, want at least %d); use a long random one (e.g. openssl rand -hex 32)", bits, MinTokenBits)
	}
	return nil
}

// TokenBits estimates the entropy of tok in bits, roughly: bits per character times the
// number of characters that start a pair of neighbours not seen before in tok (so that
// repeats, "passwordpassword" or "ab12ab12…", count once). Bits per character are log2 of
// the smaller of two alphabet sizes, each estimated from how many distinct values tok
// shows (as if drawn at random): that of its characters (few distinct: "aaaa…") and that
// of the steps between neighbours (runs: "0123456789abcdef…"). A random token of 24 bytes
// or more, hex or base64, is well above MinTokenBits; one of 16 bytes is at times below.
// Words and keyboard rows are overestimated: this keeps out plainly weak tokens only.
func TokenBits(tok string) float64 {
	rs := []rune(tok)
	if len(rs) < 2 {
		return 0
	}
	chars := make(map[rune]bool, len(rs))
	steps := make(map[rune]bool, len(rs))
	pairs := make(map[[2]rune]bool, len(rs))
	chars[rs[0]] = true
	for i := 1; i < len(rs); i++ {
		chars[rs[i]] = true
		steps[rs[i]-rs[i-1]] = true
		pairs[[2]rune{rs[i-1], rs[i]}] = true
	}
	k := min(alphabetSize(len(chars), len(rs)), alphabetSize(len(steps), len(rs)-1))
	return float64(1+len(pairs)) * math.Log2(k)
}

// maxAlphabet caps the alphabet size TokenBits estimates: more than the printable ASCII
// characters, so that it never limits a random ASCII token.
const maxAlphabet = 256

// alphabetSize estimates the size k of the alphabet that n values drawn at random show
// distinct of: the k whose expected count of distinct values, k·(1−(1−1/k)ⁿ), is distinct.
func alphabetSize(distinct, n int) float64 {
	switch {
	case distinct <= 1:
		return 1
	case distinct >= n:
		return maxAlphabet
	}
	expected := func(k float64) float64 { return k * (1 - math.Pow(1-1/k, float64(n))) }
	lo, hi := float64(distinct), float64(maxAlphabet)
	if expected(hi) < float64(distinct) {
		return maxAlphabet
	}
	for range 40 { // bisection; expected grows with k
		mid := (lo + hi) / 2
		if expected(mid) < float64(distinct) {
			lo = mid
		} else {
			hi = mid
		}
	}
	return hi
}

// ActorHeader names the header that sets the audit actor of a mutation.
const ActorHeader = "X-Sagate-Actor"

// maxActorLen bounds the X-Sagate-Actor header, in characters.
const maxActorLen = 64

// defaultActor is the audit actor when the request names none.
const defaultActor = "admin"

// realm is the WWW-Authenticate realm of the admin API.
const realm = "sagate-admin"

// tokenOK reports whether the request carries the admin token as a Bearer credential.
// Both sides are hashed first so that the comparison takes the same time whatever the
// lengths (subtle.ConstantTimeCompare returns early on a length mismatch).
func (s *Server) tokenOK(r *http.Request) bool {
	vals := r.Header.Values("Authorization")
	if len(vals) != 1 {
		return false
	}
	scheme, cred, ok := strings.Cut(vals[0], " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return false
	}
	got := sha256.Sum256([]byte(strings.TrimSpace(cred)))
	return subtle.ConstantTimeCompare(got[:], s.tokenHash[:]) == 1
}

// unauthenticated answers 401 with a Bearer challenge. The message never echoes what was sent.
func unauthenticated(w http.ResponseWriter) {
	w.Header().Set("WWW-Authenticate", `Bearer realm="`+realm+`"`)
	writeErrorBody(w, http.StatusUnauthorized, CodeUnauthenticated,
		"missing or invalid admin token: send Authorization: Bearer <admin token>")
}

// actorOf returns the audit actor named by the request: the X-Sagate-Actor header when
// present (non-empty, valid UTF-8, printable, at most 64 characters), else "admin".
func actorOf(r *http.Request) (string, error) {
	vals := r.Header.Values(ActorHeader)
	switch len(vals) {
	case 0:
		return defaultActor, nil
	case 1:
	default:
		return "", badRequest(ActorHeader + ": must be given at most once")
	}
	a := strings.TrimSpace(vals[0])
	if a == "" || !utf8.ValidString(a) || utf8.RuneCountInString(a) > maxActorLen {
		return "", badRequest(ActorHeader + ": must be 1 to 64 printable characters")
	}
	for _, c := range a {
		if !unicode.IsPrint(c) {
			return "", badRequest(ActorHeader + ": must be 1 to 64 printable characters")
		}
	}
	return a, nil
}
