package main

import (
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/sagate/sagate/admin"
	"github.com/sagate/sagate/admin/admintest"
	"github.com/sagate/sagate/keystore"
)

var keyRE = regexp.MustCompile(keystore.KeyRegexp)

func TestCLIWorkspaceAndAccounts(t *testing.T) {
	e := admintest.Start(t, admintest.Options{})
	var issued []string
	t.Cleanup(func() { e.AssertNoSecrets(t, append(issued, e.Token)...) })

	r := ok(t, e, "", "workspace", "create", "ml-team", "--max-service-accounts", "10")
	if !strings.Contains(r.stdout, "ml-team") || !strings.Contains(r.stdout, "10") {
		t.Fatalf("workspace create: %s", r.stdout)
	}
	ws := okJSON[keystore.Workspace](t, e, "", "workspace", "create", "other")
	if ws.Name != "other" || ws.MaxServiceAccounts != keystore.DefaultMaxServiceAccounts {
		t.Fatalf("workspace create -o json: %+v", ws)
	}
	wl := okJSON[admin.List[keystore.Workspace]](t, e, "", "workspace", "list")
	if len(wl.Items) != 2 {
		t.Fatalf("workspace list: %+v", wl)
	}
	if r := ok(t, e, "", "workspace", "list"); !strings.Contains(r.stdout, "NAME") || !strings.Contains(r.stdout, "other") {
		t.Fatalf("workspace list table: %s", r.stdout)
	}

	// sa create in table mode: the key once on stdout, the note on stderr.
	r = ok(t, e, "ml-team", "sa", "create", "ci-bot", "--description", "CI", "--all-projects-role", "viewer", "--key-expires-in", "90d")
	keys := keyRE.FindAllString(r.stdout, -1)
	if len(keys) != 1 || !strings.Contains(r.stderr, "will not be shown again") || !strings.Contains(r.stdout, "ci-bot@ml-team") {
		t.Fatalf("sa create: stdout %q stderr %q", r.stdout, r.stderr)
	}
	issued = append(issued, keys[0])
	rec := e.LiveRecord(t, keys[0])
	if rec.Roles["*"] != keystore.RoleViewer || rec.Exp == 0 {
		t.Fatalf("record of the CLI-issued key: %+v", rec)
	}
	// -w wins over SAGATE_WORKSPACE; -o json gives the API's shape; --no-key gives api_key null.
	out := okJSON[admin.ServiceAccountWithKey](t, e, "nope", "-w", "ml-team", "sa", "create", "no-key", "--no-key")
	if out.APIKey != nil || out.ServiceAccount.FullName != "no-key@ml-team" {
		t.Fatalf("sa create --no-key: %+v", out)
	}
	if r := ok(t, e, "ml-team", "sa", "create", "json-bot", "-o", "json"); !strings.Contains(r.stdout, `"api_key": {`) || r.stderr != "" {
		t.Fatalf("sa create -o json: stdout %q stderr %q", r.stdout, r.stderr)
	} else {
		issued = append(issued, keyRE.FindAllString(r.stdout, -1)...)
	}

	sl := okJSON[admin.List[keystore.ServiceAccount]](t, e, "ml-team", "sa", "list")
	if len(sl.Items) != 3 {
		t.Fatalf("sa list: %+v", sl)
	}
	if r := ok(t, e, "ml-team", "sa", "list"); strings.Count(r.stdout, "\n") != 4 || !strings.Contains(r.stdout, "json-bot@ml-team") {
		t.Fatalf("sa list table: %q", r.stdout)
	}
	if sa := okJSON[keystore.ServiceAccount](t, e, "ml-team", "sa", "get", "ci-bot"); sa.Description != "CI" {
		t.Fatalf("sa get: %+v", sa)
	}
	if sa := okJSON[keystore.ServiceAccount](t, e, "ml-team", "sa", "update", "ci-bot", "--description", "builds"); sa.Description != "builds" {
		t.Fatalf("sa update: %+v", sa)
	}
	if sa := okJSON[keystore.ServiceAccount](t, e, "ml-team", "sa", "deactivate", "ci-bot"); sa.State != keystore.AccountDeactivated {
		t.Fatalf("sa deactivate: %+v", sa)
	}
	e.AssertNotLive(t, keys[0])
	r = ok(t, e, "ml-team", "sa", "reactivate", "ci-bot")
	fresh := keyRE.FindAllString(r.stdout, -1)
	if len(fresh) != 1 || fresh[0] == keys[0] || !strings.Contains(r.stderr, "will not be shown again") {
		t.Fatalf("sa reactivate: %q %q", r.stdout, r.stderr)
	}
	issued = append(issued, fresh...)
	e.LiveRecord(t, fresh[0])
	e.AssertNotLive(t, keys[0])
	if r := ok(t, e, "ml-team", "sa", "delete", "ci-bot"); !strings.Contains(r.stdout, "deleted") {
		t.Fatalf("sa delete: %q", r.stdout)
	}
	e.AssertNotLive(t, fresh[0])
	failing(t, e, "ml-team", `service account "ci-bot@ml-team" not found`, "sa", "get", "ci-bot")
	if d := okJSON[actionResult](t, e, "ml-team", "sa", "delete", "no-key"); d != (actionResult{Action: "deleted", ServiceAccount: "no-key@ml-team"}) {
		t.Fatalf("sa delete -o json: %+v", d)
	}
}

func TestCLIKeysProjectsAudit(t *testing.T) {
	e := admintest.Start(t, admintest.Options{})
	var issued []string
	t.Cleanup(func() { e.AssertNoSecrets(t, append(issued, e.Token)...) })
	ok(t, e, "", "workspace", "create", "ml-team")
	ok(t, e, "ml-team", "sa", "create", "bot", "--no-key")

	k := okJSON[newKey](t, e, "ml-team", "key", "create", "bot", "--name", "deploy", "--expires-in", "30d").APIKey
	issued = append(issued, k.Key)
	if k.Name != "deploy" || k.ExpiresAt == nil || keystore.CheckKey(k.Key) != nil {
		t.Fatalf("key create: %+v", k)
	}
	e.LiveRecord(t, k.Key)
	r := ok(t, e, "ml-team", "key", "create", "bot")
	k2 := keyRE.FindString(r.stdout)
	issued = append(issued, k2)
	if k2 == "" || !strings.Contains(r.stderr, "will not be shown again") {
		t.Fatalf("key create (table): %q %q", r.stdout, r.stderr)
	}

	kl := okJSON[admin.List[keystore.APIKey]](t, e, "ml-team", "key", "list", "bot")
	if len(kl.Items) != 2 {
		t.Fatalf("key list: %+v", kl)
	}
	if r := ok(t, e, "ml-team", "key", "list", "bot"); keyRE.MatchString(r.stdout) || !strings.Contains(r.stdout, k.Last6) {
		t.Fatalf("key list table: %q", r.stdout)
	}
	if ak := okJSON[keystore.APIKey](t, e, "ml-team", "key", "deactivate", "bot", k.Last6); ak.State != keystore.KeyDeactivated {
		t.Fatalf("key deactivate: %+v", ak)
	}
	e.AssertNotLive(t, k.Key)
	if ak := okJSON[keystore.APIKey](t, e, "ml-team", "key", "activate", "bot", k.ID); ak.State != keystore.KeyActive {
		t.Fatalf("key activate: %+v", ak)
	}
	rot := okJSON[newKey](t, e, "ml-team", "key", "rotate", "bot", k.Last6, "--retain", "60m", "--expires-in", "7d")
	succ := rot.APIKey
	issued = append(issued, succ.Key)
	if succ.Name != "deploy" || rot.PreviousKey == nil || rot.PreviousKey.ID != k.ID || rot.PreviousKey.State != keystore.KeyActive ||
		rot.PreviousKey.ExpiresAt == nil || time.Until(*rot.PreviousKey.ExpiresAt) > time.Hour || time.Until(*rot.PreviousKey.ExpiresAt) < 50*time.Minute {
		t.Fatalf("key rotate: %+v", rot)
	}
	e.LiveRecord(t, k.Key)
	e.LiveRecord(t, succ.Key)
	r = ok(t, e, "ml-team", "key", "rotate", "bot", succ.ID)
	succ2 := keyRE.FindString(r.stdout)
	if !strings.Contains(r.stdout, "The old key "+succ.Last6+" ("+succ.ID+") is revoked.") {
		t.Fatalf("key rotate without --retain does not say the old key is revoked: %q", r.stdout)
	}
	issued = append(issued, succ2)
	e.AssertNotLive(t, succ.Key)
	e.LiveRecord(t, succ2)
	if r := ok(t, e, "ml-team", "key", "revoke", "bot", k.ID); !strings.Contains(r.stdout, "revoked") {
		t.Fatalf("key revoke: %q", r.stdout)
	}
	e.AssertNotLive(t, k.Key)
	ra := okJSON[admin.RevokeAllResponse](t, e, "ml-team", "key", "revoke", "bot", "--all")
	if ra.Revoked != 2 {
		t.Fatalf("key revoke --all: %+v", ra)
	}
	e.AssertNotLive(t, k2)
	e.AssertNotLive(t, succ2)

	g := okJSON[keystore.Grant](t, e, "ml-team", "project", "assign", "vision", "bot", "--role", "owner")
	if g.Role != keystore.RoleOwner || g.Project != "vision" {
		t.Fatalf("project assign: %+v", g)
	}
	ok(t, e, "ml-team", "project", "assign", "*", "bot", "--role", "viewer")
	gl := okJSON[admin.List[keystore.Grant]](t, e, "ml-team", "project", "list", "vision")
	if len(gl.Items) != 2 {
		t.Fatalf("project list: %+v", gl)
	}
	if r := ok(t, e, "ml-team", "project", "list", "vision"); !strings.Contains(r.stdout, "owner") || !strings.Contains(r.stdout, "bot@ml-team") {
		t.Fatalf("project list table: %q", r.stdout)
	}
	if r := ok(t, e, "ml-team", "project", "unassign", "vision", "bot"); !strings.Contains(r.stdout, "removed the grant of bot@ml-team on project vision") {
		t.Fatalf("project unassign: %q", r.stdout)
	}
	if gl := okJSON[admin.List[keystore.Grant]](t, e, "ml-team", "project", "list", "vision"); len(gl.Items) != 1 {
		t.Fatalf("project list after unassign: %+v", gl)
	}

	al := okJSON[admin.List[keystore.AuditEvent]](t, e, "", "audit", "--limit", "2")
	if len(al.Items) != 2 || al.Items[0].Action == "" || al.Items[0].Actor != "operator:admin" {
		t.Fatalf("audit: %+v", al)
	}
	if r := ok(t, e, "", "audit"); !strings.Contains(r.stdout, "ACTION") || !strings.Contains(r.stdout, "workspace.create") {
		t.Fatalf("audit table: %q", r.stdout)
	}
	since := time.Now().Add(-time.Hour).UTC().Format(time.RFC3339)
	fl := okJSON[admin.List[keystore.AuditEvent]](t, e, "ml-team", "audit", "--action", "grant.", "--actor", "operator:admin", "--since", since)
	if len(fl.Items) == 0 {
		t.Fatal("filtered audit: no event")
	}
	for _, ev := range fl.Items {
		if !strings.HasPrefix(ev.Action, "grant.") || ev.Workspace != "ml-team" || ev.Actor != "operator:admin" {
			t.Fatalf("filtered audit let through %+v", ev)
		}
	}
	failing(t, e, "", "person:nobody has no recorded action in any workspace", "audit", "--actor", "person:nobody")
}

func TestCLIErrors(t *testing.T) {
	e := admintest.Start(t, admintest.Options{})
	ok(t, e, "", "workspace", "create", "ml-team")
	ok(t, e, "ml-team", "sa", "create", "bot", "--no-key")
	cases := []struct {
		name, ws, want string
		code           int
		args           []string
	}{
		{"unknown command", "", "unknown command", exitUsage, []string{"frobnicate"}},
		{"unknown flag", "ml-team", "unknown flag", exitUsage, []string{"sa", "list", "--bogus"}},
		{"group alone", "", "needs a subcommand", exitUsage, []string{"key"}},
		{"missing arg", "ml-team", "takes 1 argument", exitUsage, []string{"sa", "get"}},
		{"extra arg", "ml-team", "takes 2 argument", exitUsage, []string{"key", "rotate", "bot"}},
		{"no workspace", "", "no workspace", exitUsage, []string{"sa", "list"}},
		{"bad output", "", "-o must be table or json", exitUsage, []string{"workspace", "list", "-o", "yaml"}},
		{"revoke without key", "ml-team", "SA KEY, or SA --all", exitUsage, []string{"key", "revoke", "bot"}},
		{"revoke key and all", "ml-team", "only the service account", exitUsage, []string{"key", "revoke", "bot", "abcdef", "--all"}},
		{"assign without role", "ml-team", "role", exitUsage, []string{"project", "assign", "vision", "bot"}},
		{"no-key with expiry", "ml-team", "cannot be used with --no-key", exitUsage, []string{"sa", "create", "x", "--no-key", "--key-expires-in", "1d"}},
		{"api 404", "ml-team", "not found", exitError, []string{"sa", "get", "nobody"}},
		{"api 400", "ml-team", "NAME: must", exitError, []string{"sa", "create", "Bad_Name"}},
		{"api 409", "ml-team", "already exists", exitError, []string{"sa", "create", "bot"}},
		{"api 422", "ml-team", "already active", exitError, []string{"sa", "reactivate", "bot"}},
		{"bad role", "ml-team", "--role must be one of viewer, contributor, owner", exitUsage, []string{"project", "assign", "vision", "bot", "--role", "god"}},
		{"bad duration", "ml-team", "--expires-in: \"-3d\" is not a duration", exitError, []string{"key", "create", "bot", "--expires-in", "-3d"}},
		{"bad audit limit", "", "--limit", exitUsage, []string{"audit", "--limit", "0"}},
		{"bad audit since", "", "--since must be an RFC 3339 time", exitUsage, []string{"audit", "--since", "yesterday"}},
		{"bad audit actor", "", "actor", exitError, []string{"audit", "--actor", "alice"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := failingWith(t, e, c.code, c.ws, c.want, c.args...)
			if r.stdout != "" && !strings.Contains(c.name, "group") {
				t.Fatalf("output on stdout on error: %q", r.stdout)
			}
		})
	}
	t.Run("no token", func(t *testing.T) {
		r := runWith(t, map[string]string{envAdminURL: e.URL}, "workspace", "list")
		if r.code != exitUsage || !strings.Contains(r.stderr, envAdminToken) {
			t.Fatalf("%+v", r)
		}
	})
	t.Run("bad token", func(t *testing.T) {
		r := runWith(t, map[string]string{envAdminURL: e.URL, envAdminToken: "not-the-token-at-all"}, "workspace", "list")
		if r.code != exitError || !strings.Contains(r.stderr, "check "+envAdminToken) || strings.Contains(r.stderr, "not-the-token") {
			t.Fatalf("%+v", r)
		}
	})
	t.Run("admin down", func(t *testing.T) {
		r := runWith(t, map[string]string{envAdminURL: "http://127.0.0.1:1", envAdminToken: e.Token}, "workspace", "list")
		want := "is sagate serve running? set " + envAdminURL + " or --admin-url (now http://127.0.0.1:1)"
		if r.code != exitError || !strings.Contains(r.stderr, want) || strings.Contains(r.stderr, e.Token) {
			t.Fatalf("%+v", r)
		}
	})
	t.Run("version", func(t *testing.T) {
		r := runWith(t, nil, "--version")
		if r.code != 0 || !strings.Contains(r.stdout, version) {
			t.Fatalf("%+v", r)
		}
	})
}
