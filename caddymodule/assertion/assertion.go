// Package assertion is the identity assertion a sidecar can give the upstream: a
// compact JWS (RFC 7515) signed with EdDSA (Ed25519, RFC 8037) whose claims say which
// service account, key, project and role a request was let in with, for an audience.
// The upstream verifies it against the sidecar's public key, published as a JWKS
// (RFC 7517), and so trusts no header it cannot check.
//
// The signing key is the sidecar's own, never the admin's: a PKCS#8 PEM file
// ("-----BEGIN PRIVATE KEY-----"), as `sagate assertion-key generate FILE` or
// `openssl genpkey -algorithm ed25519` writes it. It needs nothing of Caddy.
package assertion

import (
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"time"
)

// MaxLifetime is the longest an assertion is valid: short, because the upstream
// cannot learn of a revocation after the request it came with.
const MaxLifetime = 5 * time.Minute

// Key is a sidecar's assertion signing key. The zero Key signs nothing.
type Key struct {
	priv ed25519.PrivateKey
	kid  string
	head string // the JWS header, base64url-encoded, with "."
}

// Generate returns a new random key.
func Generate() (Key, error) {
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return Key{}, fmt.Errorf("generating an assertion key: %w", err)
	}
	return newKey(priv), nil
}

func newKey(priv ed25519.PrivateKey) Key {
	k := Key{priv: priv}
	k.kid = thumbprint(k.Public())
	h, _ := json.Marshal(struct {
		Alg string `json:"alg"`
		Kid string `json:"kid"`
		Typ string `json:"typ"`
	}{"EdDSA", k.kid, "JWT"})
	k.head = b64(h) + "."
	return k
}

// Load reads a key from a PKCS#8 PEM file holding an Ed25519 private key. Its errors
// never quote the file's content.
func Load(path string) (Key, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return Key{}, fmt.Errorf("reading the assertion key: %w", err)
	}
	block, _ := pem.Decode(b)
	if block == nil || block.Type != "PRIVATE KEY" {
		return Key{}, fmt.Errorf("assertion key %s: not a PEM \"PRIVATE KEY\" block", path)
	}
	pk, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	if err != nil {
		return Key{}, fmt.Errorf("assertion key %s: not a PKCS#8 private key", path)
	}
	priv, ok := pk.(ed25519.PrivateKey)
	if !ok {
		return Key{}, fmt.Errorf("assertion key %s: a %T, not an Ed25519 key", path, pk)
	}
	return newKey(priv), nil
}

// WriteNew generates a key and writes it to path (mode 0600), which must not exist.
func WriteNew(path string) (Key, error) {
	k, err := Generate()
	if err != nil {
		return Key{}, err
	}
	der, err := x509.MarshalPKCS8PrivateKey(k.priv)
	if err != nil {
		return Key{}, fmt.Errorf("encoding the assertion key: %w", err)
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if errors.Is(err, fs.ErrExist) {
		return Key{}, fmt.Errorf("refusing to overwrite %s: it exists", path)
	}
	if err != nil {
		return Key{}, fmt.Errorf("writing the assertion key: %w", err)
	}
	err = pem.Encode(f, &pem.Block{Type: "PRIVATE KEY", Bytes: der})
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		_ = os.Remove(path)
		return Key{}, fmt.Errorf("writing the assertion key %s: %w", path, err)
	}
	return k, nil
}

// Public returns the public half.
func (k Key) Public() ed25519.PublicKey {
	pub, _ := k.priv.Public().(ed25519.PublicKey)
	return pub
}

// ID is the key's id ("kid"): its JWK thumbprint (RFC 7638), so that anyone with the
// public key computes the same id.
func (k Key) ID() string { return k.kid }

// JWK is one public key of a JWKS document.
type JWK struct {
	Kty string `json:"kty"` // "OKP"
	Crv string `json:"crv"` // "Ed25519"
	X   string `json:"x"`   // the public key, base64url
	Kid string `json:"kid"`
	Alg string `json:"alg"` // "EdDSA"
	Use string `json:"use"` // "sig"
}

// JWKS returns the JWKS document of the public halves of keys: what an upstream
// verifies assertions against. Give several while a sidecar's key is rotated.
func JWKS(keys ...Key) []byte {
	doc := struct {
		Keys []JWK `json:"keys"`
	}{Keys: []JWK{}}
	for _, k := range keys {
		doc.Keys = append(doc.Keys, JWK{Kty: "OKP", Crv: "Ed25519", X: b64(k.Public()), Kid: k.kid, Alg: "EdDSA", Use: "sig"})
	}
	b, _ := json.MarshalIndent(doc, "", "  ")
	return append(b, '\n')
}

// thumbprint is the RFC 7638 thumbprint of an Ed25519 public key: SHA-256 over the
// required members in lexicographic order, base64url.
func thumbprint(pub ed25519.PublicKey) string {
	sum := sha256.Sum256([]byte(`{"crv":"Ed25519","kty":"OKP","x":"` + b64(pub) + `"}`))
	return b64(sum[:])
}

// Claims are what an assertion says. The registered claims follow RFC 7519.
type Claims struct {
	Issuer           string `json:"iss"`               // "sagate"
	Subject          string `json:"sub"`               // the account's full name, name@workspace
	Audience         string `json:"aud"`               // the site's audience
	IssuedAt         int64  `json:"iat"`               // Unix seconds
	Expires          int64  `json:"exp"`               // Unix seconds; at most MaxLifetime after iat
	ServiceAccountID string `json:"sa_id"`             // the account's id
	Workspace        string `json:"workspace"`         // the account's workspace
	KeyID            string `json:"key_id"`            // the id of the key used
	Project          string `json:"project,omitempty"` // the project checked, if the site checks one
	Role             string `json:"role,omitempty"`    // the account's role in it
}

// Issuer is the iss claim of every assertion.
const Issuer = "sagate"

// Sign returns the compact JWS of c.
func (k Key) Sign(c Claims) (string, error) {
	if k.priv == nil {
		return "", errors.New("signing an assertion: no key")
	}
	payload, err := json.Marshal(c)
	if err != nil {
		return "", fmt.Errorf("signing an assertion: %w", err)
	}
	input := k.head + b64(payload)
	return input + "." + b64(ed25519.Sign(k.priv, []byte(input))), nil
}

func b64(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }
