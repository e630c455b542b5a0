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
// accepts (see TokenBits). `openssl rand -hex 32` gives about 240, `openssl rand -base64 32`
// about 215.
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

// TokenBits estimates the entropy of tok in bits: the lower of two Shannon entropies per
// character, that of its characters and that of the differences between neighbouring
// characters, times the number of characters that start a pair of neighbours not seen
// before in tok. The first entropy catches few distinct characters ("aaaa…"), the second
// runs ("0123456789abcdef…"), and counting only new pairs catches repeats
// ("passwordpassword", "ab12ab12…"). It is a rough lower bound for random tokens and an
// overestimate for words, so it only keeps out tokens that are plainly weak.
func TokenBits(tok string) float64 {
	rs := []rune(tok)
	if len(rs) < 2 {
		return 0
	}
	chars := make(map[rune]int, len(rs))
	steps := make(map[rune]int, len(rs))
	pairs := make(map[[2]rune]bool, len(rs))
	chars[rs[0]]++
	for i := 1; i < len(rs); i++ {
		chars[rs[i]]++
		steps[rs[i]-rs[i-1]]++
		pairs[[2]rune{rs[i-1], rs[i]}] = true
	}
	perChar := min(shannon(chars, len(rs)), shannon(steps, len(rs)-1))
	return float64(1+len(pairs)) * perChar
}

// shannon is the Shannon entropy, in bits per symbol, of n symbols counted in counts.
func shannon(counts map[rune]int, n int) float64 {
	h := 0.0
	for _, c := range counts {
		p := float64(c) / float64(n)
		h -= p * math.Log2(p)
	}
	return h
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
