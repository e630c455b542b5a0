package keystore

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash/crc32"
	"math/big"
)

// Key format (DESIGN.md "Key format"):
//
//	sak_ + base62(32 random bytes, big-endian, left-padded to 43) + base62(CRC32-IEEE of the text before it, padded to 6)
//
// The alphabet is 0-9A-Za-z in that order. A key is always KeyLen (53) ASCII characters.
const (
	// KeyPrefix starts every sagate API key.
	KeyPrefix = "sak_"
	// KeyLen is the length of every well-formed key.
	KeyLen = len(KeyPrefix) + keyBodyLen + keyCRCLen
	// KeyRegexp is the regular expression secret scanners use to find leaked keys.
	KeyRegexp = `\bsak_[0-9A-Za-z]{49}\b`

	keyBodyLen = 43
	keyCRCLen  = 6
	base62     = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
)

// Errors returned by CheckKey. They never contain the key.
var (
	ErrKeyLength   = errors.New("key has the wrong length")
	ErrKeyPrefix   = errors.New("key does not start with sak_")
	ErrKeyCharset  = errors.New("key contains a character outside 0-9A-Za-z")
	ErrKeyChecksum = errors.New("key checksum does not match")
)

// GenerateKey returns a new random API key. The secret must be shown to its
// owner once and then forgotten: only HashKey(secret) is ever stored.
func GenerateKey() (string, error) {
	var raw [32]byte
	if _, err := rand.Read(raw[:]); err != nil {
		return "", fmt.Errorf("reading random bytes: %w", err)
	}
	return keyFromBytes(raw), nil
}

// keyFromBytes builds the key text for 32 given bytes (used by GenerateKey and tests).
func keyFromBytes(raw [32]byte) string {
	buf := make([]byte, KeyLen)
	copy(buf, KeyPrefix)
	n := new(big.Int).SetBytes(raw[:])
	body := buf[len(KeyPrefix) : len(KeyPrefix)+keyBodyLen]
	for i := range body {
		body[i] = '0'
	}
	b62 := big.NewInt(62)
	mod := new(big.Int)
	for i := keyBodyLen - 1; i >= 0 && n.Sign() > 0; i-- {
		n.DivMod(n, b62, mod)
		body[i] = base62[mod.Int64()]
	}
	putCRC(buf[len(KeyPrefix)+keyBodyLen:], crc32.ChecksumIEEE(buf[:len(KeyPrefix)+keyBodyLen]))
	return string(buf)
}

// putCRC writes c in base62, left-padded with '0', into dst (len keyCRCLen).
func putCRC(dst []byte, c uint32) {
	for i := keyCRCLen - 1; i >= 0; i-- {
		dst[i] = base62[c%62]
		c /= 62
	}
}

// CheckKey verifies the format and checksum of a presented key without any
// store or network access. It does not allocate.
func CheckKey(key string) error {
	if len(key) != KeyLen {
		return ErrKeyLength
	}
	if key[:len(KeyPrefix)] != KeyPrefix {
		return ErrKeyPrefix
	}
	for i := len(KeyPrefix); i < KeyLen; i++ {
		if !isBase62(key[i]) {
			return ErrKeyCharset
		}
	}
	var want [keyCRCLen]byte
	putCRC(want[:], crcString(key[:len(KeyPrefix)+keyBodyLen]))
	if string(want[:]) != key[len(KeyPrefix)+keyBodyLen:] {
		return ErrKeyChecksum
	}
	return nil
}

func isBase62(c byte) bool {
	return (c >= '0' && c <= '9') || (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z')
}

// KeyHash is the SHA-256 of a key's full text: the only form in which a key is stored.
type KeyHash [sha256.Size]byte

// HashKey returns the SHA-256 of the key text.
func HashKey(key string) KeyHash { return sha256.Sum256([]byte(key)) }

// String returns the lower-case hex form used in the store and in Redis.
func (h KeyHash) String() string { return hex.EncodeToString(h[:]) }

// ParseKeyHash parses the 64-character hex form of a KeyHash.
func ParseKeyHash(s string) (KeyHash, error) {
	var h KeyHash
	if len(s) != 2*len(h) {
		return h, fmt.Errorf("key hash must be %d hex characters", 2*len(h))
	}
	if _, err := hex.Decode(h[:], []byte(s)); err != nil {
		return h, fmt.Errorf("key hash is not hex: %w", err)
	}
	return h, nil
}

// Last6 returns the last six characters of a key, which humans use to tell keys apart.
// It is safe to log; the full key never is.
func Last6(key string) string {
	if len(key) < 6 {
		return ""
	}
	return key[len(key)-6:]
}

// crcString is CRC-32/IEEE of s without converting it to a []byte (which would allocate).
func crcString(s string) uint32 {
	crc := ^uint32(0)
	for i := 0; i < len(s); i++ {
		crc = crc32.IEEETable[byte(crc)^s[i]] ^ (crc >> 8)
	}
	return ^crc
}
