package admin

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"fmt"

	"github.com/sagate/sagate/admin/console"
)

// consoleLabel names the admin token's principal in the console's header.
const consoleLabel = "operator (admin token)"

// mountConsole serves the web console under console.Path.
func (s *Server) mountConsole() error {
	c, err := console.New(console.Config{
		Service:      s.svc,
		Authenticate: s.consoleAuthenticate,
		Logger:       s.log.Named("console"),
	})
	if err != nil {
		return fmt.Errorf("creating admin server: %w", err)
	}
	s.patterns = append(s.patterns, console.Path)
	s.mux.Handle(console.Path, c)
	return nil
}

// consoleAuthenticate is the console's credential check: today the admin token alone,
// acting as the audit actor "admin" like the API. This is the one call to point at the
// principal resolver of the delegation model (operators, managing accounts' sak_ keys).
func (s *Server) consoleAuthenticate(_ context.Context, credential string) (console.Principal, error) {
	got := sha256.Sum256([]byte(credential))
	if subtle.ConstantTimeCompare(got[:], s.tokenHash[:]) != 1 {
		return console.Principal{}, console.ErrBadCredential
	}
	return console.Principal{Actor: defaultActor, Label: consoleLabel}, nil
}
