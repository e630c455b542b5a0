package caddymodule

import (
	"net/http"

	"github.com/sagate/sagate/keystore"
)

// credential is what the Authorization header of a request amounts to.
type credential uint8

const (
	// credNone: no Authorization header, an empty one, or another scheme (Basic, ...).
	credNone credential = iota
	// credAmbiguous: several Authorization headers.
	credAmbiguous
	// credMalformed: the Bearer scheme, but no key, extra text, or a key that
	// keystore.CheckKey refuses (length, prefix, alphabet, checksum).
	credMalformed
	// credKey: one well-formed key with a valid checksum.
	credKey
)

// bearerKey extracts the key from "Authorization: Bearer <key>". The scheme is
// case-insensitive and separated from the key by one or more spaces or tabs; the
// key must pass keystore.CheckKey, so anything around it makes it malformed. It
// does not allocate. A key anywhere else (query string, other headers) is ignored.
func bearerKey(h http.Header) (string, credential) {
	vs := h["Authorization"]
	switch len(vs) {
	case 0:
		return "", credNone
	case 1:
	default:
		return "", credAmbiguous
	}
	return parseBearer(vs[0])
}

// parseBearer parses one Authorization header value.
func parseBearer(v string) (string, credential) {
	const scheme = "bearer"
	if len(v) < len(scheme) || !asciiEqualFold(v[:len(scheme)], scheme) {
		return "", credNone
	}
	rest := v[len(scheme):]
	if rest == "" {
		return "", credMalformed // "Bearer" and nothing else
	}
	if rest[0] != ' ' && rest[0] != '\t' {
		return "", credNone // "Bearerfoo" is another scheme
	}
	i := 0
	for i < len(rest) && (rest[i] == ' ' || rest[i] == '\t') {
		i++
	}
	key := rest[i:]
	if keystore.CheckKey(key) != nil {
		return "", credMalformed
	}
	return key, credKey
}

// asciiEqualFold compares ASCII strings ignoring letter case.
func asciiEqualFold(a, b string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := 0; i < len(a); i++ {
		if lowerASCII(a[i]) != lowerASCII(b[i]) {
			return false
		}
	}
	return true
}

func lowerASCII(c byte) byte {
	if 'A' <= c && c <= 'Z' {
		return c + ('a' - 'A')
	}
	return c
}
