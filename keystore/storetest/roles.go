package storetest

import (
	"context"
	"testing"

	"github.com/sagate/sagate/keystore"
)

// testOneRoleRule: an account and a person that are owner on "*" and viewer on p9 own
// p9 for the access rules, and the account's record says owner for p9 too; a viewer on
// "*" with owner on p9 owns p9 and nothing else.
func testOneRoleRule(t *testing.T, e *env) {
	e.ws("ws", 0)
	_, boss := e.sa("ws", "boss")
	_, narrow := e.sa("ws", "narrow")
	e.sa("ws", "target")
	for _, g := range []struct {
		sa, project string
		role        keystore.Role
	}{{"boss", "*", keystore.RoleOwner}, {"boss", "p9", keystore.RoleViewer},
		{"narrow", "*", keystore.RoleViewer}, {"narrow", "p9", keystore.RoleOwner}} {
		if _, err := e.svc.SetGrant(e.ctx, "ws", g.project, g.sa, g.role); err != nil {
			t.Fatalf("SetGrant %+v: %v", g, err)
		}
	}
	for _, r := range []struct {
		project string
		role    keystore.Role
	}{{"*", keystore.RoleOwner}, {"p9", keystore.RoleViewer}} {
		if _, err := e.svc.SetPersonRole(e.ctx, "ws", r.project, "pat", r.role); err != nil {
			t.Fatalf("SetPersonRole %+v: %v", r, err)
		}
	}
	e.sync.take()

	recs, _ := e.records(boss, narrow)
	for _, c := range []struct {
		key     keystore.IssuedKey
		project string
		want    keystore.Role
	}{{boss, "p9", keystore.RoleOwner}, {boss, "p1", keystore.RoleOwner},
		{narrow, "p9", keystore.RoleOwner}, {narrow, "p1", keystore.RoleViewer}} {
		r := recs[hash(c.key)]
		if got, ok := r.RoleFor(c.project); !ok || got != c.want {
			t.Errorf("record of …%s: role in %s = %q, %v; want %q", c.key.Last6, c.project, got, ok, c.want)
		}
	}

	pat := keystore.WithPrincipal(context.Background(), keystore.Person("pat", "10.0.0.1"))
	for name, ctx := range map[string]context.Context{"boss": e.caller(boss), "narrow": e.caller(narrow), "pat": pat} {
		if _, err := e.svc.SetGrant(ctx, "ws", "p9", "target", keystore.RoleContributor); err != nil {
			t.Errorf("%s (owner of p9 by the one rule) assigns on p9: %v", name, err)
		}
		if _, _, err := e.svc.ListGrants(ctx, "ws", "p9", keystore.Page{}); err != nil {
			t.Errorf("%s lists p9: %v", name, err)
		}
	}
	e.sync.take()
	_, err := e.svc.SetGrant(e.caller(narrow), "ws", "p1", "target", keystore.RoleViewer)
	wantKind(t, "narrow (viewer on p1 through *) assigns on p1", err, keystore.KindPermissionDenied)
	e.expectNoChange("a refused assignment")
}
