package keystore

import (
	"crypto/rand"
	"fmt"
	"strings"
)

// Object ids: a prefix and idLen random base62 characters from crypto/rand.
const (
	ServiceAccountIDPrefix = "sa_"
	KeyIDPrefix            = "key_"
	idLen                  = 20
	base62                 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
)

// newID returns prefix + idLen random base62 characters, without modulo bias.
func newID(prefix string) (string, error) {
	out := make([]byte, 0, len(prefix)+idLen)
	out = append(out, prefix...)
	var buf [32]byte
	for len(out) < cap(out) {
		if _, err := rand.Read(buf[:]); err != nil {
			return "", fmt.Errorf("generating an id: %w", err)
		}
		for _, b := range buf {
			if b < 248 && len(out) < cap(out) { // 248 = 4*62: keep the distribution uniform
				out = append(out, base62[b%62])
			}
		}
	}
	return string(out), nil
}

// isID reports whether s looks like an id with prefix.
func isID(s, prefix string) bool {
	if !strings.HasPrefix(s, prefix) || len(s) != len(prefix)+idLen {
		return false
	}
	for i := len(prefix); i < len(s); i++ {
		if !isBase62(s[i]) {
			return false
		}
	}
	return true
}

// isBase62 reports whether c is one of base62's characters.
func isBase62(c byte) bool {
	return '0' <= c && c <= '9' || 'A' <= c && c <= 'Z' || 'a' <= c && c <= 'z'
}
