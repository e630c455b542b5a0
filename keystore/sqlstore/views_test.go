package sqlstore_test

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/sagate/sagate/internal/testing/pgtest"
	"github.com/sagate/sagate/keystore"
)

// TestViews checks the summary views on SQLite and PostgreSQL with the same cases.
func TestViews(t *testing.T) {
	t.Run("SQLite", func(t *testing.T) {
		testViews(t, openSQLite(t, filepath.Join(t.TempDir(), "v.db")))
	})
	t.Run("PostgreSQL", func(t *testing.T) {
		testViews(t, openPostgres(t, pgtest.NewDatabase(t, pgtest.Start(t))))
	})
}

func testViews(t *testing.T, st keystore.Store) {
	t.Cleanup(func() { _ = st.Close() })
	now := time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)
	svc, err := keystore.NewService(st, keystore.ServiceOptions{Now: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	ctx := keystore.WithPrincipal(context.Background(), keystore.Operator("alice"))
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	_, err = svc.CreateWorkspace(ctx, "acme", 0)
	must(err)
	_, _, err = svc.CreateServiceAccount(ctx, "acme", keystore.CreateServiceAccountInput{Name: "ci-bot", CreateKey: true, AllProjectsRole: keystore.RoleViewer})
	must(err)
	_, err = svc.CreateKey(ctx, "acme", "ci-bot", keystore.CreateKeyInput{Name: "short", ExpiresIn: time.Hour})
	must(err)
	_, err = svc.SetGrant(ctx, "acme", "billing", "ci-bot", keystore.RoleOwner)
	must(err)
	_, _, err = svc.CreateServiceAccount(keystore.WithPrincipal(ctx, keystore.Operator("bob")), "acme", keystore.CreateServiceAccountInput{Name: "deploy"})
	must(err)
	_, _, err = svc.CreateServiceAccount(ctx, "acme", keystore.CreateServiceAccountInput{Name: "zz-bot", CreateKey: true})
	must(err)
	_, err = svc.DeactivateServiceAccount(ctx, "acme", "zz-bot")
	must(err)

	now = now.Add(2 * time.Hour) // the "short" key has expired
	all, next, err := svc.ListAccountSummaries(ctx, "acme", "", keystore.Page{})
	must(err)
	if len(all) != 3 || next != "" {
		t.Fatalf("summaries: %d, next %q; want 3 and no next page", len(all), next)
	}
	ci := all[0]
	if ci.Name != "ci-bot" || ci.LiveKeys != 1 || len(ci.Projects) != 2 ||
		ci.Projects[0] != (keystore.ProjectRole{Project: "*", Role: keystore.RoleViewer}) ||
		ci.Projects[1] != (keystore.ProjectRole{Project: "billing", Role: keystore.RoleOwner}) {
		t.Errorf("ci-bot summary = %+v", ci)
	}
	if all[1].Name != "deploy" || all[1].LiveKeys != 0 || all[1].Projects != nil || all[1].LastUsedAt != nil {
		t.Errorf("deploy summary = %+v", all[1])
	}
	if all[2].State != keystore.AccountDeactivated || all[2].LiveKeys != 0 {
		t.Errorf("zz-bot summary = %+v", all[2])
	}

	page1, next, err := svc.ListAccountSummaries(ctx, "acme", "BOT", keystore.Page{Size: 1})
	must(err)
	if len(page1) != 1 || page1[0].Name != "ci-bot" || next == "" {
		t.Fatalf("filtered page 1 = %+v, next %q", page1, next)
	}
	page2, next, err := svc.ListAccountSummaries(ctx, "acme", "BOT", keystore.Page{Size: 1, Token: next})
	must(err)
	if len(page2) != 1 || page2[0].Name != "zz-bot" || next != "" {
		t.Fatalf("filtered page 2 = %+v, next %q", page2, next)
	}
	for _, bad := range []string{"a\u202eb", "x\x00", string(make([]byte, 65))} {
		if _, _, err := svc.ListAccountSummaries(ctx, "acme", bad, keystore.Page{}); keystore.KindOf(err) != keystore.KindInvalid {
			t.Errorf("filter %q: err %v, want invalid", bad, err)
		}
	}
	if _, _, err := svc.ListAccountSummaries(ctx, "nope", "", keystore.Page{}); keystore.KindOf(err) != keystore.KindNotFound {
		t.Errorf("unknown workspace: %v", err)
	}

	grants, _, err := svc.ListAccountGrants(ctx, "acme", "ci-bot", keystore.Page{})
	must(err)
	if len(grants) != 2 || grants[1].Project != "billing" || grants[1].ServiceAccount != "ci-bot@acme" {
		t.Errorf("grants = %+v", grants)
	}

	for _, c := range []struct {
		name string
		f    keystore.AuditFilter
		want int
	}{
		{"all", keystore.AuditFilter{}, 7},
		{"workspace", keystore.AuditFilter{Workspace: "acme"}, 7},
		{"action", keystore.AuditFilter{Action: "service_account.create"}, 3},
		{"action prefix", keystore.AuditFilter{Action: "service_account."}, 4},
		{"actor", keystore.AuditFilter{Actor: "operator:bob"}, 1},
		{"since", keystore.AuditFilter{Since: now}, 0},
		{"until", keystore.AuditFilter{Until: now}, 7},
	} {
		evs, _, err := svc.ListAudit(ctx, c.f, keystore.Page{})
		if err != nil || len(evs) != c.want {
			t.Errorf("%s: %d events, err %v; want %d", c.name, len(evs), err, c.want)
		}
	}
	// A workspace that does not exist is an error that says so, not an empty trail.
	if _, _, err := svc.ListAudit(ctx, keystore.AuditFilter{Workspace: "other"}, keystore.Page{}); keystore.KindOf(err) != keystore.KindNotFound {
		t.Errorf("audit of an unknown workspace: err %v, want not found", err)
	}
	evs, next, err := svc.ListAudit(ctx, keystore.AuditFilter{Actor: "operator:alice"}, keystore.Page{Size: 4})
	must(err)
	rest, _, err := svc.ListAudit(ctx, keystore.AuditFilter{Actor: "operator:alice"}, keystore.Page{Size: 4, Token: next})
	must(err)
	if len(evs) != 4 || len(rest) != 2 || rest[0].ID >= evs[3].ID {
		t.Errorf("audit paging: %d then %d", len(evs), len(rest))
	}
	if evs[0].Principal == nil || evs[0].Principal.Name != "alice" || evs[0].Actor != "operator:alice" {
		t.Errorf("a filtered event's principal = %+v, actor %q", evs[0].Principal, evs[0].Actor)
	}
	for _, bad := range []keystore.AuditFilter{{Workspace: "<script>"}, {Actor: "alice"}, {Actor: "root:x"}, {Actor: "sa:"},
		{Actor: "person:a b"}, {Since: now, Until: now}} {
		if _, _, err := svc.ListAudit(ctx, bad, keystore.Page{}); keystore.KindOf(err) != keystore.KindInvalid {
			t.Errorf("filter %+v: %v, want invalid", bad, err)
		}
	}
}

// TestReach checks what each kind of principal is told it manages, on SQLite and PostgreSQL.
func TestReach(t *testing.T) {
	t.Run("SQLite", func(t *testing.T) {
		testReach(t, openSQLite(t, filepath.Join(t.TempDir(), "r.db")))
	})
	t.Run("PostgreSQL", func(t *testing.T) {
		testReach(t, openPostgres(t, pgtest.NewDatabase(t, pgtest.Start(t))))
	})
}

func testReach(t *testing.T, st keystore.Store) {
	t.Cleanup(func() { _ = st.Close() })
	svc, err := keystore.NewService(st, keystore.ServiceOptions{})
	if err != nil {
		t.Fatal(err)
	}
	op := keystore.WithPrincipal(context.Background(), keystore.Operator("alice"))
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	for _, ws := range []string{"acme", "beta"} {
		_, err = svc.CreateWorkspace(op, ws, 0)
		must(err)
	}
	_, adminKey, err := svc.CreateServiceAccount(op, "acme", keystore.CreateServiceAccountInput{Name: "boss", CreateKey: true})
	must(err)
	_, ownerKey, err := svc.CreateServiceAccount(op, "acme", keystore.CreateServiceAccountInput{Name: "lead", CreateKey: true})
	must(err)
	_, _, err = svc.SetWorkspaceAdmin(op, "acme", "sa:boss")
	must(err)
	for project, role := range map[string]keystore.Role{"p1": keystore.RoleOwner, "p2": keystore.RoleViewer} {
		_, err = svc.SetGrant(op, "acme", project, "lead", role)
		must(err)
	}
	_, _, err = svc.SetWorkspaceAdmin(op, "beta", "person:carol")
	must(err)
	_, err = svc.SetPersonRole(op, "acme", "p3", "carol", keystore.RoleOwner)
	must(err)

	reach := func(p keystore.Principal) keystore.Reach {
		t.Helper()
		r, err := svc.Reach(keystore.WithPrincipal(context.Background(), p))
		must(err)
		return r
	}
	if r := reach(keystore.Operator("alice")); !r.Every || r.Admin != nil || r.Owner != nil {
		t.Errorf("operator: %+v", r)
	}
	key := func(k *keystore.IssuedKey) keystore.Principal {
		p, err := keystore.KeyPrincipal(k.Key)
		must(err)
		return p
	}
	if r := reach(key(adminKey)); r.Every || len(r.Admin) != 1 || r.Admin[0] != "acme" || r.Owner != nil || r.Principal.Name != "boss" {
		t.Errorf("workspace admin: %+v", r)
	}
	if r := reach(key(ownerKey)); r.Admin != nil || len(r.Owner) != 1 || r.Owner[0] != (keystore.ProjectRef{Workspace: "acme", Project: "p1"}) {
		t.Errorf("project owner: %+v", r)
	}
	if r := reach(keystore.Person("carol", "10.0.0.1")); len(r.Admin) != 1 || r.Admin[0] != "beta" ||
		len(r.Owner) != 1 || r.Owner[0] != (keystore.ProjectRef{Workspace: "acme", Project: "p3"}) {
		t.Errorf("person: %+v", r)
	}
	if r := reach(keystore.Person("dave", "10.0.0.1")); r.Admin != nil || r.Owner != nil {
		t.Errorf("a person without roles: %+v", r)
	}
	_, err = svc.DeactivateServiceAccount(op, "acme", "lead")
	must(err)
	if _, err := svc.Reach(keystore.WithPrincipal(context.Background(), key(ownerKey))); keystore.KindOf(err) != keystore.KindUnauthenticated {
		t.Errorf("a deactivated account's reach: %v", err)
	}
}
