package httpauth

import (
	"net/http"
	"strings"
)

// Sanitizer removes client-sent identity headers from a request, so that the only
// identity the upstream sees is the one sagate sets.
//
// A name matches in any letter case and with '_' in place of '-' (and the other way
// round), because many frameworks read X_Service_Account as X-Service-Account
// (oauth2-proxy CVE-2025-64484). Matching names are also taken out of every
// Connection header, or a proxy would drop the headers sagate sets as hop-by-hop
// (Fabio CVE-2025-48865). It is immutable after construction and safe for
// concurrent use.
type Sanitizer struct {
	names []string // lower case, '-' form, unique
	// lens has bit n set when a name is n bytes long (n < 64; longer names set bit
	// 63 and are compared): most header names are told apart by length alone.
	lens uint64
}

// NewSanitizer returns a Sanitizer for the given header names.
func NewSanitizer(names []string) Sanitizer {
	var s Sanitizer
	for _, n := range names {
		n = strings.ToLower(strings.ReplaceAll(n, "_", "-"))
		if n != "" && !containsString(s.names, n) {
			s.names = append(s.names, n)
			s.lens |= lenBit(len(n))
		}
	}
	return s
}

func containsString(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

// IsIdentity reports whether the header name k is one of the identity names in
// any spelling.
func (s Sanitizer) IsIdentity(k string) bool {
	if s.lens&lenBit(len(k)) == 0 {
		return false
	}
	for _, n := range s.names {
		if headerNameEqual(k, n) {
			return true
		}
	}
	return false
}

// lenBit is the bit of lens for a name n bytes long.
func lenBit(n int) uint64 { return 1 << min(n, 63) }

// headerNameEqual compares a header name with a lower-case '-' form name, ignoring
// case and treating '_' as '-'.
func headerNameEqual(k, lowerDash string) bool {
	if len(k) != len(lowerDash) {
		return false
	}
	for i := 0; i < len(k); i++ {
		c := lowerASCII(k[i])
		if c == '_' {
			c = '-'
		}
		if c != lowerDash[i] {
			return false
		}
	}
	return true
}

// sanitize deletes every identity header from h and every identity name from the
// Connection headers. It allocates only when a Connection header has to be rewritten.
func (s Sanitizer) Sanitize(h http.Header) {
	for k, vs := range h {
		switch {
		case s.IsIdentity(k):
			delete(h, k)
		case len(k) == len("Connection") && asciiEqualFold(k, "Connection"):
			if cleaned, changed := s.cleanConnection(vs); changed {
				if len(cleaned) == 0 {
					delete(h, k)
				} else {
					h[k] = cleaned
				}
			}
		}
	}
}

// cleanConnection returns the Connection values without identity names, and
// whether anything was removed.
func (s Sanitizer) cleanConnection(vs []string) ([]string, bool) {
	found := false
	for _, v := range vs {
		if s.connectionHasIdentity(v) {
			found = true
			break
		}
	}
	if !found {
		return vs, false
	}
	out := make([]string, 0, len(vs))
	for _, v := range vs {
		var kept []string
		for tok := range strings.SplitSeq(v, ",") {
			tok = trimSpaceTab(tok)
			if tok != "" && !s.IsIdentity(tok) {
				kept = append(kept, tok)
			}
		}
		if len(kept) > 0 {
			out = append(out, strings.Join(kept, ", "))
		}
	}
	return out, true
}

// connectionHasIdentity reports whether one Connection value names an identity header.
// It does not allocate: Connection: keep-alive is on most requests.
func (s Sanitizer) connectionHasIdentity(v string) bool {
	for v != "" {
		tok := v
		if i := strings.IndexByte(v, ','); i >= 0 {
			tok, v = v[:i], v[i+1:]
		} else {
			v = ""
		}
		if s.IsIdentity(trimSpaceTab(tok)) {
			return true
		}
	}
	return false
}

// trimSpaceTab removes the spaces and tabs around s: strings.Trim without the set it
// builds on every call, for the Connection header of every request.
func trimSpaceTab(s string) string {
	for s != "" && (s[0] == ' ' || s[0] == '\t') {
		s = s[1:]
	}
	for s != "" && (s[len(s)-1] == ' ' || s[len(s)-1] == '\t') {
		s = s[:len(s)-1]
	}
	return s
}
