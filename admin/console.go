package admin

import (
	"context"
	"crypto/sha256"
	"fmt"
	"net/http"
	"strings"

	"github.com/sagate/sagate/admin/console"
	"github.com/sagate/sagate/keystore"
)

// mountConsole serves the web console under console.Path; secureCookies is
// Config.ConsoleSecureCookies.
func (s *Server) mountConsole(secureCookies bool) error {
	c, err := console.New(console.Config{
		Service:      s.svc,
		Authenticate: s.consoleAuthenticate,
		Recheck:      s.consoleRecheck,
		FromProxy:    s.consoleFromProxy,
		CredentialHint: "An operator token, or the sak_ key of a service account that administers a workspace or owns a project." +
			" People signed in by the auth proxy need nothing here.",
		Bind: func(ctx context.Context, p console.Principal) context.Context {
			kp, _ := p.Value.(keystore.Principal)
			return keystore.WithPrincipal(ctx, kp)
		},
		Logger:        s.log.Named("console"),
		SecureCookies: secureCookies,
	})
	if err != nil {
		return fmt.Errorf("creating admin server: %w", err)
	}
	s.patterns = append(s.patterns, console.Path)
	s.mux.Handle(console.Path, c)
	return nil
}

// consoleAuthenticate is the console's credential check, the same as the API's: an
// operator token, or a service account's live sak_ key. The principal it returns keeps
// only hashes (the operator token's SHA-256 in Proof; the key's hash inside the keystore
// principal), from which consoleRecheck checks it again on every request of the session.
func (s *Server) consoleAuthenticate(ctx context.Context, credential string) (console.Principal, error) {
	if strings.HasPrefix(credential, keystore.KeyPrefix) {
		p, err := s.svc.Authenticate(ctx, credential)
		if err != nil {
			return console.Principal{}, console.ErrBadCredential
		}
		return consolePrincipal(p), nil
	}
	h := sha256.Sum256([]byte(credential))
	name, ok := s.ops.lookupHash(h)
	if !ok {
		return console.Principal{}, console.ErrBadCredential
	}
	cp := consolePrincipal(keystore.Operator(name))
	cp.Proof = h
	return cp, nil
}

// consoleRecheck checks a session's principal again, as the API checks each request: a
// service account's key (by its hash) must still be live and its account active; an
// operator's token (by its hash) must still be in the operators file or be the admin
// token, under the same name. So a revoked key, a deactivated account or a removed
// operator ends the session at the next click.
func (s *Server) consoleRecheck(ctx context.Context, cp console.Principal) (console.Principal, error) {
	p, ok := cp.Value.(keystore.Principal)
	if !ok {
		return console.Principal{}, console.ErrBadCredential
	}
	switch p.Kind {
	case keystore.PrincipalServiceAccount:
		live, err := s.svc.Check(ctx, p)
		if err != nil {
			return console.Principal{}, console.ErrBadCredential
		}
		return consolePrincipal(live), nil
	case keystore.PrincipalOperator:
		h, ok := cp.Proof.([sha256.Size]byte)
		if !ok {
			return console.Principal{}, console.ErrBadCredential
		}
		if name, ok := s.ops.lookupHash(h); !ok || name != p.Name {
			return console.Principal{}, console.ErrBadCredential
		}
		return cp, nil
	}
	return console.Principal{}, console.ErrBadCredential
}

// consoleFromProxy names the person the configured auth proxy vouches for, as the API
// does (Config.ProxyUserHeader, honoured only from Config.TrustedProxies): ok is false
// when no proxy header is configured or sent; a header from anywhere else is an error.
func (s *Server) consoleFromProxy(r *http.Request) (console.Principal, bool, error) {
	if s.userHeader == "" {
		return console.Principal{}, false, nil
	}
	vals := r.Header.Values(s.userHeader)
	if len(vals) == 0 {
		return console.Principal{}, false, nil
	}
	p, err := s.person(r, vals)
	if err != nil {
		return console.Principal{}, false, err
	}
	return consolePrincipal(p), true, nil
}

// consolePrincipal is the console's view of a keystore principal.
func consolePrincipal(p keystore.Principal) console.Principal {
	label := string(p.Kind) + " " + p.FullName()
	if p.Kind == keystore.PrincipalServiceAccount {
		label = "service account " + p.FullName()
	}
	return console.Principal{Actor: p.Ref(), Label: label, Value: p}
}
