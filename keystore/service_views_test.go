package keystore_test

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/sagate/sagate/internal/pgtest"
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
	ctx := keystore.WithActor(context.Background(), "alice")
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
	_, _, err = svc.CreateServiceAccount(keystore.WithActor(ctx, "bob"), "acme", keystore.CreateServiceAccountInput{Name: "deploy"})
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

	grants, err := svc.GrantsOfAccount(ctx, "acme", "ci-bot")
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
		{"other workspace", keystore.AuditFilter{Workspace: "other"}, 0},
		{"action", keystore.AuditFilter{Action: "service_account.create"}, 3},
		{"action prefix", keystore.AuditFilter{Action: "service_account."}, 4},
		{"actor", keystore.AuditFilter{Actor: "bob"}, 1},
		{"since", keystore.AuditFilter{Since: now}, 0},
		{"until", keystore.AuditFilter{Until: now}, 7},
	} {
		evs, _, err := svc.ListAuditFiltered(ctx, c.f, keystore.Page{})
		if err != nil || len(evs) != c.want {
			t.Errorf("%s: %d events, err %v; want %d", c.name, len(evs), err, c.want)
		}
	}
	evs, next, err := svc.ListAuditFiltered(ctx, keystore.AuditFilter{Actor: "alice"}, keystore.Page{Size: 4})
	must(err)
	rest, _, err := svc.ListAuditFiltered(ctx, keystore.AuditFilter{Actor: "alice"}, keystore.Page{Size: 4, Token: next})
	must(err)
	if len(evs) != 4 || len(rest) != 2 || rest[0].ID >= evs[3].ID {
		t.Errorf("audit paging: %d then %d", len(evs), len(rest))
	}
	if _, _, err := svc.ListAuditFiltered(ctx, keystore.AuditFilter{Workspace: "<script>"}, keystore.Page{}); keystore.KindOf(err) != keystore.KindInvalid {
		t.Errorf("bad workspace filter: %v", err)
	}
}
