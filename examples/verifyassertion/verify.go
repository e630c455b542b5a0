// Package verifyassertion is an example of an upstream that verifies the identity
// assertion a sagate sidecar sends in Sagate-Assertion, with the standard library
// only: fetch the sidecar's JWKS document once, then check each request's token
// (signature, algorithm, issuer, audience, expiry) and trust its claims, not headers.
// verify.mjs does the same in Node.js with the jose library.
package verifyassertion

import (
	"context"
	"crypto/ed25519"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"
)

// Header is where the sidecar puts the assertion.
const Header = "Sagate-Assertion"

// Claims are what an assertion says.
type Claims struct {
	Issuer           string `json:"iss"`
	Subject          string `json:"sub"` // the service account, name@workspace
	Audience         string `json:"aud"`
	IssuedAt         int64  `json:"iat"`
	Expires          int64  `json:"exp"`
	ServiceAccountID string `json:"sa_id"`
	Workspace        string `json:"workspace"`
	KeyID            string `json:"key_id"`
	Project          string `json:"project,omitempty"`
	Role             string `json:"role,omitempty"`
}

// Keys are the sidecars' public keys by key id, from their JWKS documents.
type Keys map[string]ed25519.PublicKey

// ParseJWKS reads a JWKS document, keeping its Ed25519 keys.
func ParseJWKS(doc []byte) (Keys, error) {
	var set struct {
		Keys []struct {
			Kty, Crv, X, Kid string
		} `json:"keys"`
	}
	if err := json.Unmarshal(doc, &set); err != nil {
		return nil, fmt.Errorf("reading the JWKS: %w", err)
	}
	keys := Keys{}
	for _, k := range set.Keys {
		x, err := base64.RawURLEncoding.DecodeString(k.X)
		if k.Kty != "OKP" || k.Crv != "Ed25519" || err != nil || len(x) != ed25519.PublicKeySize || k.Kid == "" {
			continue
		}
		keys[k.Kid] = ed25519.PublicKey(x)
	}
	if len(keys) == 0 {
		return nil, errors.New("the JWKS holds no Ed25519 key")
	}
	return keys, nil
}

// FetchJWKS gets a JWKS document from url (the sidecar site that serves it).
func FetchJWKS(ctx context.Context, url string) (Keys, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, err
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, fmt.Errorf("fetching the JWKS: %w", err)
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("fetching the JWKS: %s", res.Status)
	}
	b, err := io.ReadAll(io.LimitReader(res.Body, 1<<20))
	if err != nil {
		return nil, fmt.Errorf("fetching the JWKS: %w", err)
	}
	return ParseJWKS(b)
}

// leeway allows for clocks that differ a little between the sidecar and the upstream.
const leeway = 30 * time.Second

// Verify checks token and returns its claims: signed by one of keys with EdDSA,
// issued by sagate for audience, and valid at now.
func (keys Keys) Verify(token, audience string, now time.Time) (Claims, error) {
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		return Claims{}, errors.New("not a compact JWS")
	}
	var head struct {
		Alg, Kid string
		Crit     []string
	}
	if err := decode(parts[0], &head); err != nil {
		return Claims{}, err
	}
	if head.Alg != "EdDSA" || len(head.Crit) > 0 {
		return Claims{}, fmt.Errorf("unexpected algorithm %q", head.Alg)
	}
	pub, ok := keys[head.Kid]
	if !ok {
		return Claims{}, errors.New("signed by an unknown key")
	}
	sig, err := base64.RawURLEncoding.DecodeString(parts[2])
	if err != nil || !ed25519.Verify(pub, []byte(parts[0]+"."+parts[1]), sig) {
		return Claims{}, errors.New("bad signature")
	}
	var c Claims
	if err := decode(parts[1], &c); err != nil {
		return Claims{}, err
	}
	switch {
	case c.Issuer != "sagate":
		return Claims{}, fmt.Errorf("issuer %q, want sagate", c.Issuer)
	case c.Audience != audience:
		return Claims{}, fmt.Errorf("audience %q, want %q", c.Audience, audience)
	case now.Add(-leeway).Unix() >= c.Expires:
		return Claims{}, errors.New("expired")
	case now.Add(leeway).Unix() < c.IssuedAt:
		return Claims{}, errors.New("issued in the future")
	case c.Subject == "":
		return Claims{}, errors.New("no subject")
	}
	return c, nil
}

func decode(part string, v any) error {
	b, err := base64.RawURLEncoding.DecodeString(part)
	if err != nil {
		return errors.New("not base64url")
	}
	if err := json.Unmarshal(b, v); err != nil {
		return fmt.Errorf("not JSON: %w", err)
	}
	return nil
}

type ctxKey struct{}

// Middleware lets through only requests with a valid assertion for audience, whose
// claims next finds with FromContext; others get 401.
func (keys Keys) Middleware(audience string, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := keys.Verify(r.Header.Get(Header), audience, time.Now())
		if err != nil {
			http.Error(w, "no valid identity assertion", http.StatusUnauthorized)
			return
		}
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), ctxKey{}, c)))
	})
}

// FromContext returns the claims Middleware verified.
func FromContext(ctx context.Context) (Claims, bool) {
	c, ok := ctx.Value(ctxKey{}).(Claims)
	return c, ok
}
