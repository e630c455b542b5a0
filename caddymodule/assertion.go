package caddymodule

import (
	"errors"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
	"go.uber.org/zap"

	"github.com/sagate/sagate/caddymodule/assertion"
)

// AssertionHeader carries the identity assertion to the upstream. A client's copy is
// always removed.
const AssertionHeader = "Sagate-Assertion"

// Assertion configures the identity assertion: a short-lived JWS, signed with the
// sidecar's own key, that tells the upstream who was let in (package assertion).
type Assertion struct {
	// The sidecar's signing key: a PKCS#8 PEM file holding an Ed25519 private key, as
	// `sagate assertion-key generate FILE` writes it. Required. Never the admin's
	// signing key: a sidecar that is compromised must not be able to sign what Redis
	// holds. `sagate assertion-key public FILE` prints the JWKS document for upstreams.
	KeyFile string `json:"key_file,omitempty"`

	// The "aud" claim: who the assertion is for, set per site so that an assertion
	// given to one API is refused by another. Required.
	Audience string `json:"audience,omitempty"`
}

// Assertion timing. An assertion is valid for assertionLifetime and reused for
// assertionReuse, so the upstream always gets one with at least 4 minutes left.
const (
	assertionLifetime = assertion.MaxLifetime
	assertionReuse    = time.Minute
	// assertionCacheSize bounds the signed assertions a site keeps (identities seen
	// within the last assertionReuse); past it, arbitrary entries make room.
	assertionCacheSize = 4096
)

// validate checks the block; it is pure.
func (a *Assertion) validate() error {
	if a.KeyFile == "" {
		return errors.New("assertion: key_file is required (`sagate assertion-key generate FILE` makes one)")
	}
	if a.Audience == "" || strings.ContainsAny(a.Audience, "\x00\r\n") {
		return errors.New("assertion: audience is required, on one line")
	}
	return nil
}

// asserter signs the assertions of one site, at most once per identity and
// assertionReuse. Safe for concurrent use.
type asserter struct {
	key      assertion.Key
	audience string
	mu       sync.RWMutex
	cache    map[assertionID]signedAssertion
}

// assertionID is what an assertion says besides the time: the key names the account.
type assertionID struct {
	keyID, project, role string
}

type signedAssertion struct {
	token string
	at    int64 // UnixNano of signing
}

// newAsserter loads the key of a.
func newAsserter(a *Assertion) (*asserter, error) {
	k, err := assertion.Load(a.KeyFile)
	if err != nil {
		return nil, err
	}
	return &asserter{key: k, audience: a.Audience, cache: make(map[assertionID]signedAssertion)}, nil
}

// token returns the assertion of id at now: a cached one signed less than
// assertionReuse ago, or a new one.
func (s *asserter) token(id *identity, now time.Time) (string, error) {
	k := assertionID{keyID: id.vals[idKeyID], project: id.vals[idProject], role: id.vals[idRole]}
	t := now.UnixNano()
	s.mu.RLock()
	c, ok := s.cache[k]
	s.mu.RUnlock()
	if ok && t-c.at < int64(assertionReuse) && t >= c.at {
		return c.token, nil
	}
	tok, err := s.key.Sign(assertion.Claims{
		Issuer:           assertion.Issuer,
		Subject:          id.vals[idSA],
		Audience:         s.audience,
		IssuedAt:         now.Unix(),
		Expires:          now.Add(assertionLifetime).Unix(),
		ServiceAccountID: id.vals[idSAID],
		Workspace:        id.vals[idWorkspace],
		KeyID:            id.vals[idKeyID],
		Project:          id.vals[idProject],
		Role:             id.vals[idRole],
	})
	if err != nil {
		return "", err
	}
	// The key id points into the request's identity: keep a copy of its own.
	k.keyID = strings.Clone(k.keyID)
	s.mu.Lock()
	if len(s.cache) >= assertionCacheSize {
		for old := range s.cache {
			delete(s.cache, old)
			if len(s.cache) < assertionCacheSize*3/4 {
				break
			}
		}
	}
	s.cache[k] = signedAssertion{token: tok, at: t}
	s.mu.Unlock()
	return tok, nil
}

// provisionAssertion loads the assertion key, if the site gives assertions. Call
// after Validate.
func (h *Handler) provisionAssertion() error {
	if h.Assertion == nil {
		return nil
	}
	s, err := newAsserter(h.Assertion)
	if err != nil {
		return err
	}
	h.asserter = s
	h.logger.Info("identity assertions on", zap.String("key_id", s.key.ID()), zap.String("audience", s.audience))
	return nil
}

// assert sets the assertion of an allowed request.
func (h *Handler) assert(r *http.Request, id *identity, now time.Time) error {
	tok, err := h.asserter.token(id, now)
	if err != nil {
		return caddyhttp.Error(http.StatusInternalServerError, err)
	}
	r.Header[AssertionHeader] = []string{tok}
	return nil
}

// unmarshal parses the assertion { key_file FILE; audience AUD } block.
func (a *Assertion) unmarshal(d *caddyfile.Dispenser) error {
	if d.NextArg() {
		return d.ArgErr()
	}
	for nesting := d.Nesting(); d.NextBlock(nesting); {
		var f *string
		switch d.Val() {
		case "key_file":
			f = &a.KeyFile
		case "audience":
			f = &a.Audience
		default:
			return d.Errf("sagate: unknown option %q in assertion (want key_file, audience)", d.Val())
		}
		if *f != "" {
			return d.Errf("sagate: assertion %s given more than once", d.Val())
		}
		v, err := oneArg(d)
		if err != nil {
			return err
		}
		*f = v
	}
	if err := a.validate(); err != nil {
		return d.Errf("sagate: %v", err)
	}
	return nil
}
