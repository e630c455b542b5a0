package admin

import (
	"errors"
	"fmt"
	"math"
	"net/http"
	"net/netip"
	"strings"

	"github.com/sagate/sagate/keystore"
)

// MinTokenLen is the shortest operator token the server accepts.
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

// ActorHeader names a header older clients sent to name the audit actor. The audit trail
// now records the authenticated principal, so a request that carries it is refused (400)
// rather than have its claim silently dropped.
const ActorHeader = "X-Sagate-Actor"

// realm is the WWW-Authenticate realm of the admin API.
const realm = "sagate-admin"

// authError is a failed authentication; its message is safe to show and never echoes a credential.
type authError struct{ msg string }

func (e *authError) Error() string { return e.msg }

const msgNoCredential = "missing or invalid credential: send Authorization: Bearer <operator token or sak_ service-account key>"

// authenticate returns the principal of r:
//   - a person, when the proxy user header is configured, present, and r comes from a
//     trusted proxy (the same header from any other address is refused, not ignored);
//   - else the service account of a sak_ Bearer key, checked live against the store here,
//     for every route alike (the Service method reads it again in its own transaction,
//     so a key revoked in between is refused there too);
//   - else the operator whose token is the Bearer credential.
func (s *Server) authenticate(r *http.Request) (keystore.Principal, error) {
	if s.userHeader != "" {
		if vals := r.Header.Values(s.userHeader); len(vals) > 0 {
			return s.person(r, vals)
		}
	}
	vals := r.Header.Values("Authorization")
	if len(vals) != 1 {
		return keystore.Principal{}, &authError{msgNoCredential}
	}
	scheme, cred, ok := strings.Cut(vals[0], " ")
	cred = strings.TrimSpace(cred)
	if !ok || !strings.EqualFold(scheme, "Bearer") || cred == "" {
		return keystore.Principal{}, &authError{msgNoCredential}
	}
	if strings.HasPrefix(cred, keystore.KeyPrefix) {
		p, err := s.svc.Authenticate(r.Context(), cred)
		var ke *keystore.Error
		if errors.As(err, &ke) && ke.Kind == keystore.KindUnauthenticated {
			return keystore.Principal{}, &authError{ke.Message}
		}
		return p, err
	}
	name, ok := s.ops.lookup(cred)
	if !ok {
		return keystore.Principal{}, &authError{msgNoCredential}
	}
	return keystore.Operator(name), nil
}

// person takes a person's name from the proxy user header, if r comes from a trusted proxy.
func (s *Server) person(r *http.Request, vals []string) (keystore.Principal, error) {
	ap, err := netip.ParseAddrPort(r.RemoteAddr)
	if err != nil || !s.trusted(ap.Addr().Unmap()) {
		return keystore.Principal{}, &authError{s.userHeader + " is accepted only from a trusted proxy (--trusted-proxies); this request did not come through one"}
	}
	if len(vals) != 1 {
		return keystore.Principal{}, &authError{s.userHeader + " must be given once"}
	}
	name := strings.TrimSpace(vals[0])
	if keystore.ValidatePersonName(name) != nil {
		return keystore.Principal{}, &authError{s.userHeader + " must be 1 to 128 printable characters without spaces"}
	}
	return keystore.Person(name, ap.Addr().Unmap().String()), nil
}

// trusted reports whether a is in a trusted proxy prefix.
func (s *Server) trusted(a netip.Addr) bool {
	for _, p := range s.trustedProxies {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// unauthenticated answers 401 with a Bearer challenge and msg, which never echoes what was sent.
func unauthenticated(w http.ResponseWriter, msg string) {
	w.Header().Set("WWW-Authenticate", `Bearer realm="`+realm+`"`)
	writeErrorBody(w, http.StatusUnauthorized, CodeUnauthenticated, msg)
}

// ParseTrustedProxies parses a comma-separated list of CIDR prefixes or single addresses
// ("10.0.0.0/8,127.0.0.1").
func ParseTrustedProxies(s string) ([]netip.Prefix, error) {
	var out []netip.Prefix
	for _, f := range strings.Split(s, ",") {
		f = strings.TrimSpace(f)
		if f == "" {
			continue
		}
		if !strings.Contains(f, "/") {
			a, err := netip.ParseAddr(f)
			if err != nil {
				return nil, errors.New("trusted proxies: " + f + " is neither an address nor a CIDR prefix")
			}
			out = append(out, netip.PrefixFrom(a.Unmap(), a.Unmap().BitLen()))
			continue
		}
		p, err := netip.ParsePrefix(f)
		if err != nil {
			return nil, errors.New("trusted proxies: " + f + " is neither an address nor a CIDR prefix")
		}
		out = append(out, p.Masked())
	}
	return out, nil
}
