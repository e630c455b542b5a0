package wire

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"strings"
)

// Signed state. Everything a sidecar trusts in Redis (key records, events, the epoch
// marker and the revision marker) is signed by the admin with an Ed25519 key that only
// the admin holds; sidecars hold the public half and refuse what does not verify. A
// writer to Redis that is not the admin can delete or replay what the admin wrote, but
// cannot forge a record, an identity, a role or an event.
//
// A signature covers a domain (what kind of value it is), a name (what it is about: the
// key hash of a record) and the payload, so that a signed value cannot be moved to
// another Redis key or read as another kind of value.
//
// A sealed value is the signature followed by the payload:
//
//	s1:<signer id, 16 hex>:<signature, 86 base64url>:<payload>
//
// so that its payload starts at a fixed offset (SealedPrefixLen), where Lua scripts
// and the record decoder find it without parsing the signature.

// Domains of signed values.
const (
	DomainRecord = "record" // a key record; name: the key hash in hex
	DomainEvent  = "event"  // an events stream entry; name: ""
	DomainEpoch  = "epoch"  // the epoch marker; name: ""
	DomainRev    = "rev"    // a revision marker; name: "" (RedisRev) or the shard marker's key
)

// Formats of keys and signatures.
const (
	sigVersion = "s1"
	// SignerIDLen is the length of a signer id: the first 8 bytes of the SHA-256 of the
	// public key, in hex.
	SignerIDLen = 16
	sigB64Len   = 86 // base64url without padding of 64 bytes
	// SignatureLen is the length of a detached signature (Sign): "s1:<id>:<sig>".
	SignatureLen = len(sigVersion) + 1 + SignerIDLen + 1 + sigB64Len
	// SealedPrefixLen is the length of what precedes the payload in a sealed value.
	SealedPrefixLen = SignatureLen + 1

	publicKeyPrefix  = "sagate-ed25519:"
	privateKeyPrefix = "sagate-ed25519-private:"
)

// Errors of verification. They never quote the value.
var (
	ErrUnsigned      = errors.New("value is not signed")
	ErrUnknownSigner = errors.New("value is signed by a key this verifier does not trust")
	ErrBadSignature  = errors.New("signature does not verify")
)

// b64 encodes keys, signatures and hashes. Signatures and hashes are decoded strictly
// (b64.Strict()): the unused low bits of the last character must be zero, so that a
// verified value has exactly one spelling.
var b64 = base64.RawURLEncoding

// SigningKey is the admin's private signing key. Its zero value signs nothing (Valid
// reports false).
type SigningKey struct {
	priv ed25519.PrivateKey
	id   string
}

// PublicKey verifies what a SigningKey signed.
type PublicKey struct {
	key ed25519.PublicKey
	id  string
}

// GenerateSigningKey returns a new random signing key.
func GenerateSigningKey() (SigningKey, error) {
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return SigningKey{}, fmt.Errorf("generating a signing key: %w", err)
	}
	return newSigningKey(priv), nil
}

// SigningKeyFromSeed returns the signing key of a 32-byte seed (tests use fixed seeds).
func SigningKeyFromSeed(seed []byte) (SigningKey, error) {
	if len(seed) != ed25519.SeedSize {
		return SigningKey{}, fmt.Errorf("a signing key seed has %d bytes, not %d", ed25519.SeedSize, len(seed))
	}
	return newSigningKey(ed25519.NewKeyFromSeed(seed)), nil
}

func newSigningKey(priv ed25519.PrivateKey) SigningKey {
	return SigningKey{priv: priv, id: signerID(priv.Public().(ed25519.PublicKey))}
}

// signerID is the first 8 bytes of the SHA-256 of pub, in hex.
func signerID(pub ed25519.PublicKey) string {
	sum := sha256.Sum256(pub)
	return hex.EncodeToString(sum[:SignerIDLen/2])
}

// ParseSigningKey parses the text MarshalText gives: "sagate-ed25519-private:<base64url
// seed>", surrounding white space ignored.
func ParseSigningKey(text []byte) (SigningKey, error) {
	s := strings.TrimSpace(string(text))
	rest, ok := strings.CutPrefix(s, privateKeyPrefix)
	if !ok {
		return SigningKey{}, fmt.Errorf("not a sagate signing key (want %s…)", privateKeyPrefix)
	}
	seed, err := b64.DecodeString(rest)
	if err != nil || len(seed) != ed25519.SeedSize {
		return SigningKey{}, errors.New("malformed sagate signing key")
	}
	return SigningKeyFromSeed(seed)
}

// LoadSigningKey reads a signing key from a file, which must not be readable by
// group or others.
func LoadSigningKey(path string) (SigningKey, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return SigningKey{}, fmt.Errorf("reading the signing key: %w", err)
	}
	if fi.Mode().Perm()&0o077 != 0 {
		return SigningKey{}, fmt.Errorf("the signing key file %s is readable by others (mode %v); chmod 600 it", path, fi.Mode().Perm())
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return SigningKey{}, fmt.Errorf("reading the signing key: %w", err)
	}
	k, err := ParseSigningKey(b)
	if err != nil {
		return SigningKey{}, fmt.Errorf("reading the signing key %s: %w", path, err)
	}
	return k, nil
}

// MarshalText returns the key as text, for a file only the admin can read.
func (k SigningKey) MarshalText() ([]byte, error) {
	if !k.Valid() {
		return nil, errors.New("empty signing key")
	}
	return []byte(privateKeyPrefix + b64.EncodeToString(k.priv.Seed())), nil
}

// Valid reports whether k holds a key.
func (k SigningKey) Valid() bool { return len(k.priv) == ed25519.PrivateKeySize }

// ID returns the signer id that its signatures carry.
func (k SigningKey) ID() string { return k.id }

// Public returns the public half, which sidecars are configured with.
func (k SigningKey) Public() PublicKey {
	pub := k.priv.Public().(ed25519.PublicKey)
	return PublicKey{key: pub, id: k.id}
}

// message is what a signature covers.
func message(domain, name string, payload []byte) []byte {
	m := make([]byte, 0, len("sagate\x00s1\x00")+len(domain)+len(name)+2+len(payload))
	m = append(m, "sagate\x00"+sigVersion+"\x00"...)
	m = append(m, domain...)
	m = append(m, 0)
	m = append(m, name...)
	m = append(m, 0)
	return append(m, payload...)
}

// Sign returns the detached signature of payload (SignatureLen characters), for
// values that carry it in a field of their own (events).
func (k SigningKey) Sign(domain, name string, payload []byte) string {
	sig := ed25519.Sign(k.priv, message(domain, name, payload))
	return sigVersion + ":" + k.id + ":" + b64.EncodeToString(sig)
}

// Seal returns the sealed value: the signature, ':', then payload.
func (k SigningKey) Seal(domain, name string, payload []byte) []byte {
	sig := k.Sign(domain, name, payload)
	out := make([]byte, 0, len(sig)+1+len(payload))
	out = append(out, sig...)
	out = append(out, ':')
	return append(out, payload...)
}

// ParsePublicKey parses "sagate-ed25519:<base64url key>", as PublicKey.String gives it.
func ParsePublicKey(s string) (PublicKey, error) {
	rest, ok := strings.CutPrefix(strings.TrimSpace(s), publicKeyPrefix)
	if !ok {
		return PublicKey{}, fmt.Errorf("not a sagate public key (want %s…)", publicKeyPrefix)
	}
	key, err := b64.DecodeString(rest)
	if err != nil || len(key) != ed25519.PublicKeySize {
		return PublicKey{}, errors.New("malformed sagate public key")
	}
	pub := ed25519.PublicKey(key)
	return PublicKey{key: pub, id: signerID(pub)}, nil
}

// String returns the key in the form ParsePublicKey reads.
func (p PublicKey) String() string { return publicKeyPrefix + b64.EncodeToString(p.key) }

// ID returns the signer id of the key.
func (p PublicKey) ID() string { return p.id }

// Verifier checks signatures against a set of trusted public keys; several keys let
// the admin's signing key be rotated without downtime (trust the new key everywhere,
// switch the admin to it, then drop the old one). It is safe for concurrent use.
type Verifier struct {
	keys  map[string]ed25519.PublicKey
	roots rootCache // roots of groups (SealBatch) that verified
}

// NewVerifier returns a verifier trusting keys.
func NewVerifier(keys ...PublicKey) *Verifier {
	v := &Verifier{keys: make(map[string]ed25519.PublicKey, len(keys))}
	for _, k := range keys {
		if len(k.key) == ed25519.PublicKeySize {
			v.keys[k.id] = k.key
		}
	}
	return v
}

// Len returns the number of trusted keys.
func (v *Verifier) Len() int { return len(v.keys) }

// Verify checks a detached signature (Sign) of payload.
func (v *Verifier) Verify(domain, name string, payload []byte, sig string) error {
	if len(sig) != SignatureLen || !strings.HasPrefix(sig, sigVersion+":") || sig[len(sigVersion)+1+SignerIDLen] != ':' {
		return ErrUnsigned
	}
	key, ok := v.keys[sig[len(sigVersion)+1:len(sigVersion)+1+SignerIDLen]]
	if !ok {
		return ErrUnknownSigner
	}
	raw, err := b64.Strict().DecodeString(sig[len(sigVersion)+1+SignerIDLen+1:])
	if err != nil || len(raw) != ed25519.SignatureSize {
		return ErrBadSignature
	}
	if !ed25519.Verify(key, message(domain, name, payload), raw) {
		return ErrBadSignature
	}
	return nil
}

// Open verifies a sealed value and returns its payload (a subslice of sealed).
// A value sealed in a group (SealBatch) verifies the same way.
func (v *Verifier) Open(domain, name string, sealed []byte) ([]byte, error) {
	if bytes.HasPrefix(sealed, []byte(treeVersion+":")) {
		return v.openTree(domain, name, sealed)
	}
	sig, payload, ok := SplitSealed(sealed)
	if !ok {
		return nil, ErrUnsigned
	}
	if err := v.Verify(domain, name, payload, string(sig)); err != nil {
		return nil, err
	}
	return payload, nil
}

// SplitSealed splits a single sealed value (Seal) into its signature and payload without
// verifying anything; ok is false when it does not have that form.
func SplitSealed(sealed []byte) (sig, payload []byte, ok bool) {
	if len(sealed) < SealedPrefixLen || !bytes.HasPrefix(sealed, []byte(sigVersion+":")) || sealed[SignatureLen] != ':' {
		return nil, nil, false
	}
	return sealed[:SignatureLen], sealed[SealedPrefixLen:], true
}
