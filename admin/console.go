package admin

import (
	"context"
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
// operator token, or a service account's live sak_ key. The console calls it again on
// every request of the session, so a revoked key, or a deactivated account, ends the
// session at the next click; the Service checks the key again in each call as well.
func (s *Server) consoleAuthenticate(ctx context.Context, credential string) (console.Principal, error) {
	if strings.HasPrefix(credential, keystore.KeyPrefix) {
		p, err := s.svc.Authenticate(ctx, credential)
		if err != nil {
			return console.Principal{}, console.ErrBadCredential
		}
		return consolePrincipal(p), nil
	}
	name, ok := s.ops.lookup(credential)
	if !ok {
		return console.Principal{}, console.ErrBadCredential
	}
	return consolePrincipal(keystore.Operator(name)), nil
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
