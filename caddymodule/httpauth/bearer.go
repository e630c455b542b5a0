package httpauth

import (
	"net/http"

	"github.com/sagate/sagate/keystore/wire"
)

// Credential is what the Authorization header of a request amounts to.
type Credential uint8

const (
	// CredNone: no Authorization header, an empty one, or another scheme (Basic, ...).
	CredNone Credential = iota
	// CredAmbiguous: several Authorization headers.
	CredAmbiguous
	// CredMalformed: the Bearer scheme, but no key, extra text, or a key that
	// wire.CheckKey refuses (length, prefix, alphabet, checksum).
	CredMalformed
	// CredKey: one well-formed key with a valid checksum.
	CredKey
)

// BearerKey extracts the key from "Authorization: Bearer <key>". The scheme is
// case-insensitive and separated from the key by one or more spaces or tabs; the
// key must pass wire.CheckKey, so anything around it makes it malformed. It
// does not allocate. A key anywhere else (query string, other headers) is ignored.
func BearerKey(h http.Header) (string, Credential) {
	v, cred := authorization(h)
	if cred != CredKey {
		return "", cred
	}
	return ParseBearer(v)
}

// authorization returns the one Authorization header's value, with CredKey; CredNone
// without one, CredAmbiguous with several.
func authorization(h http.Header) (string, Credential) {
	vs := h["Authorization"]
	switch len(vs) {
	case 0:
		return "", CredNone
	case 1:
		return vs[0], CredKey
	default:
		return "", CredAmbiguous
	}
}

// BearerToken is BearerKey with only the key's length and prefix checked
// (wire.CheckKeyShape): CredKey here means a token shaped like a key, whose
// characters and checksum the caller checks with wire.CheckKey unless its hash is
// found among known keys (which all passed it). It does not allocate.
func BearerToken(h http.Header) (string, Credential) {
	v, cred := authorization(h)
	if cred != CredKey {
		return "", cred
	}
	return parseBearer(v, false)
}

// ParseBearer parses one Authorization header value.
func ParseBearer(v string) (string, Credential) { return parseBearer(v, true) }

// parseBearer parses one Authorization header value, the key checked by
// wire.CheckKey if full, else by wire.CheckKeyShape.
func parseBearer(v string, full bool) (string, Credential) {
	const scheme = "bearer"
	if !hasBearer(v) {
		return "", CredNone
	}
	rest := v[len(scheme):]
	if rest == "" {
		return "", CredMalformed // "Bearer" and nothing else
	}
	if rest[0] != ' ' && rest[0] != '\t' {
		return "", CredNone // "Bearerfoo" is another scheme
	}
	i := 0
	for i < len(rest) && (rest[i] == ' ' || rest[i] == '\t') {
		i++
	}
	key := rest[i:]
	check := wire.CheckKeyShape
	if full {
		check = wire.CheckKey
	}
	if check(key) != nil {
		return "", CredMalformed
	}
	return key, CredKey
}

// hasBearer reports whether v starts with "bearer" in any letter case. Setting bit
// 0x20 lowers an ASCII letter and turns no other byte into one, and "bearer" is all
// letters.
func hasBearer(v string) bool {
	return len(v) >= 6 && v[0]|0x20 == 'b' && v[1]|0x20 == 'e' && v[2]|0x20 == 'a' &&
		v[3]|0x20 == 'r' && v[4]|0x20 == 'e' && v[5]|0x20 == 'r'
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
