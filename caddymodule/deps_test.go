package caddymodule

import (
	"os/exec"
	"strings"
	"testing"
)

// The sidecar never opens a store: the Caddy binary users build must not link the
// SQL stores or the SQLite driver. pgx is not checked: Caddy itself links it (through
// github.com/smallstep/nosql/postgresql, used by its PKI app).
func TestSidecarLinksNoStore(t *testing.T) {
	forbidden := []string{
		"github.com/sagate/sagate/keystore/sqlstore",
		"modernc.org/sqlite",
	}
	for _, pkg := range []string{"github.com/sagate/sagate/caddymodule", "github.com/sagate/sagate/cmd/caddy"} {
		t.Run(pkg, func(t *testing.T) {
			out, err := exec.Command("go", "list", "-deps", pkg).Output()
			if err != nil {
				t.Fatalf("go list -deps %s: %v", pkg, err)
			}
			deps := strings.Fields(string(out))
			if len(deps) == 0 || deps[len(deps)-1] != pkg {
				t.Fatalf("go list -deps %s did not list the package itself last: %q", pkg, deps)
			}
			for _, d := range deps {
				for _, f := range forbidden {
					if d == f || strings.HasPrefix(d, f+"/") {
						t.Errorf("%s depends on %s", pkg, d)
					}
				}
			}
		})
	}
}
