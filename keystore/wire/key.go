package wire

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash/crc32"
	"math/big"
)

// Key format (docs/architecture.md):
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
	if err := CheckKeyShape(key); err != nil {
		return err
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

// CheckKeyShape checks the first part of what CheckKey checks, the key's length and
// prefix, and not its characters or checksum. Every key ever issued passed CheckKey,
// so a key whose hash is found among known keys needs no more; a key that is not found
// must pass CheckKey before it is looked up any further. It does not allocate.
func CheckKeyShape(key string) error {
	if len(key) != KeyLen {
		return ErrKeyLength
	}
	if key[:len(KeyPrefix)] != KeyPrefix {
		return ErrKeyPrefix
	}
	return nil
}

func isBase62(c byte) bool { return base62Set[c] }

// base62Set marks the bytes of the base62 alphabet: one load per character on the hot path.
var base62Set = func() (set [256]bool) {
	for i := 0; i < len(base62); i++ {
		set[base62[i]] = true
	}
	return set
}()

// KeyHash is the SHA-256 of a key's full text: the only form in which a key is stored.
type KeyHash [sha256.Size]byte

// HashKey returns the SHA-256 of the key text. For a key of the usual length it does
// not allocate: []byte(key) would copy a string longer than the compiler's 32-byte
// stack buffer to the heap, so the key is copied into an array on the stack first.
func HashKey(key string) KeyHash {
	if len(key) <= KeyLen {
		var buf [KeyLen]byte
		n := copy(buf[:], key)
		return sha256.Sum256(buf[:n])
	}
	return sha256.Sum256([]byte(key))
}

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

// crcString is CRC-32/IEEE of s, computed slicing-by-8 straight from the string:
// crc32.ChecksumIEEE would need a []byte, and the conversion (or a stack copy handed to
// its indirect, architecture-specific call) escapes to the heap on every request
// (BenchmarkKeyCRC compares them).
func crcString(s string) uint32 {
	crc := ^uint32(0)
	for len(s) >= 8 {
		crc ^= uint32(s[0]) | uint32(s[1])<<8 | uint32(s[2])<<16 | uint32(s[3])<<24
		crc = crcTables[0][s[7]] ^ crcTables[1][s[6]] ^ crcTables[2][s[5]] ^ crcTables[3][s[4]] ^
			crcTables[4][crc>>24] ^ crcTables[5][(crc>>16)&0xff] ^ crcTables[6][(crc>>8)&0xff] ^ crcTables[7][crc&0xff]
		s = s[8:]
	}
	for i := 0; i < len(s); i++ {
		crc = crcTables[0][byte(crc)^s[i]] ^ (crc >> 8)
	}
	return ^crc
}

// crcTables are the slicing-by-8 tables of CRC-32/IEEE (reflected polynomial 0xedb88320).
var crcTables = func() (t [8][256]uint32) {
	t[0] = *crc32.IEEETable
	for i := 0; i < 256; i++ {
		c := t[0][i]
		for j := 1; j < 8; j++ {
			c = t[0][c&0xff] ^ (c >> 8)
			t[j][i] = c
		}
	}
	return t
}()
