package caddymodule

import (
	"os/exec"
	"slices"
	"strings"
	"testing"
)

// The sidecar decides on records it reads from Redis and never opens a store nor
// runs the admin's rules: the Caddy binary users build must not link the domain
// (package keystore: Service and its access rules), the admin, its console, the SQL
// stores or the SQLite driver. It shares only keystore/wire (the Redis format) and
// keystore/redisurl and keystore/redisops (reaching Redis) with the admin. pgx is
// not checked: Caddy itself links it (through github.com/smallstep/nosql/postgresql,
// used by its PKI app).
func TestSidecarLinksNoStore(t *testing.T) {
	const mod = "github.com/sagate/sagate/"
	forbidden := []struct {
		pkg     string
		subtree bool // its sub-packages too
	}{
		{mod + "keystore", false},
		{mod + "keystore/sqlstore", true},
		{mod + "keystore/redissync", true},
		{mod + "keystore/storetest", true},
		{mod + "admin", true},
		{"modernc.org/sqlite", true},
	}
	for _, pkg := range []string{mod + "caddymodule", mod + "cmd/caddy"} {
		t.Run(pkg, func(t *testing.T) {
			out, err := exec.Command("go", "list", "-deps", pkg).Output()
			if err != nil {
				t.Fatalf("go list -deps %s: %v", pkg, err)
			}
			deps := strings.Fields(string(out))
			if len(deps) == 0 || deps[len(deps)-1] != pkg {
				t.Fatalf("go list -deps %s did not list the package itself last: %q", pkg, deps)
			}
			if !slices.Contains(deps, mod+"keystore/wire") {
				t.Errorf("%s does not depend on %skeystore/wire: the check below proves nothing", pkg, mod)
			}
			for _, d := range deps {
				for _, f := range forbidden {
					if d == f.pkg || f.subtree && strings.HasPrefix(d, f.pkg+"/") {
						t.Errorf("%s depends on %s", pkg, d)
					}
				}
			}
		})
	}
}
