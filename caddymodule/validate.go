package caddymodule

import (
	"fmt"
	"slices"
	"strings"
)

// validRealm reports whether s can be quoted in WWW-Authenticate as is.
func validRealm(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < 0x20 || c > 0x7e || c == '"' || c == '\\' {
			return false
		}
	}
	return true
}

// validHeaderName reports whether s is an RFC 9110 token.
func validHeaderName(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 0x80 || c <= 0x20 || c == 0x7f || strings.IndexByte(`"(),/:;<=>?@[\]{}`, c) >= 0 {
			return false
		}
	}
	return true
}

// validateOmitHeaders checks that each name is one of headerFields, once.
func validateOmitHeaders(names []string) error {
	for i, n := range names {
		if !slices.Contains(headerFields[:], n) {
			return fmt.Errorf("omit_headers: unknown header %q (want %s)", n, strings.Join(headerFields[:], ", "))
		}
		if slices.Contains(names[:i], n) {
			return fmt.Errorf("omit_headers: %s given more than once", n)
		}
	}
	return nil
}
