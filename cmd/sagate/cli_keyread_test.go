package main

import (
	"strings"
	"testing"

	"github.com/sagate/sagate/admin"
	"github.com/sagate/sagate/admin/admintest"
	"github.com/sagate/sagate/keystore"
)

// TestCLIKeyLifecycleAnswers: key get and key find show one key and whether it can pass;
// a retried rotation is refused with already_rotated naming the successor unless --force;
// a CI account rotates its own key with its own key; an account cannot deactivate itself;
// a deactivated account's key is told so.
func TestCLIKeyLifecycleAnswers(t *testing.T) {
	e := admintest.Start(t, admintest.Options{})
	ok(t, e, "", "workspace", "create", "ml")
	ci := okJSON[admin.ServiceAccountWithKey](t, e, "ml", "sa", "create", "ci")
	ok(t, e, "ml", "workspace", "admins", "add", "sa:ci")
	first := ci.APIKey

	got := okJSON[keystore.APIKey](t, e, "ml", "key", "get", "ci", first.Last6)
	if got.ID != first.ID || !got.Usable {
		t.Fatalf("key get -o json = %+v", got)
	}
	if r := ok(t, e, "ml", "key", "get", "ci", first.ID); !strings.Contains(r.stdout, "Usable: yes") {
		t.Fatalf("key get: %q", r.stdout)
	}
	found := okJSON[admin.List[keystore.FoundKey]](t, e, "ml", "key", "find", first.Last6)
	if len(found.Items) != 1 || found.Items[0].ServiceAccount != "ci@ml" {
		t.Fatalf("key find -o json = %+v", found)
	}
	if r := ok(t, e, "ml", "key", "find", first.Last6); !strings.Contains(r.stdout, "ci@ml") {
		t.Fatalf("key find: %q", r.stdout)
	}

	// The CI job rotates its own key, keeping the old one a while; a retry is refused.
	next := okWith[newKey](t, asKey(t, e, first.Key, "ml", "key", "rotate", "ci", first.Last6, "--retain", "10m", "-o", "json"))
	retry := asKey(t, e, first.Key, "ml", "key", "rotate", "ci", first.Last6, "--retain", "10m")
	if retry.code != 1 || !strings.Contains(retry.stderr, next.APIKey.Last6) || !strings.Contains(retry.stderr, "--force") {
		t.Fatalf("a retried rotation: exit %d, %q; want a refusal naming …%s", retry.code, retry.stderr, next.APIKey.Last6)
	}
	jr := asKey(t, e, first.Key, "ml", "key", "rotate", "ci", first.Last6, "-o", "json")
	if !strings.Contains(jr.stderr, `"already_rotated"`) {
		t.Fatalf("a retried rotation in JSON: %q", jr.stderr)
	}
	// Forcing is the admins' (here the operator's).
	if r := asKey(t, e, first.Key, "ml", "key", "rotate", "ci", first.Last6, "--force"); r.code != 1 || !strings.Contains(r.stderr, "cannot force") {
		t.Fatalf("a forced self-rotation: exit %d, %q", r.code, r.stderr)
	}
	ok(t, e, "ml", "key", "rotate", "ci", first.Last6, "--force", "--retain", "5m")

	// It cannot deactivate itself; once deactivated by the operator, its key is told so.
	if r := asKey(t, e, next.APIKey.Key, "ml", "sa", "deactivate", "ci"); r.code != 1 || !strings.Contains(r.stderr, "cannot deactivate itself") {
		t.Fatalf("sa deactivate of itself: exit %d, %q", r.code, r.stderr)
	}
	ok(t, e, "ml", "sa", "deactivate", "ci")
	r := asKey(t, e, next.APIKey.Key, "ml", "whoami")
	if r.code != 1 || !strings.Contains(r.stderr, "ci@ml") || !strings.Contains(r.stderr, "deactivated") || strings.Contains(r.stderr, "admin token") {
		t.Fatalf("whoami with a deactivated account's key: exit %d, %q", r.code, r.stderr)
	}
	if r := ok(t, e, "ml", "key", "list", "ci"); strings.Contains(r.stdout, " active ") {
		t.Fatalf("key list of a deactivated account shows an active key: %q", r.stdout)
	}
	if l := okJSON[admin.List[keystore.APIKey]](t, e, "ml", "key", "list", "ci", "--state", "active", "-o", "json").Items; len(l) != 0 {
		t.Fatalf("key list --state active of a deactivated account: %+v", l)
	}
	if l := okJSON[admin.List[keystore.APIKey]](t, e, "ml", "key", "list", "ci", "--state", "account_deactivated", "-o", "json").Items; len(l) == 0 {
		t.Fatal("key list --state account_deactivated: no key")
	}
	failingWith(t, e, 2, "ml", "--state must be one of", "key", "list", "ci", "--state", "paused")
}

// TestCLIEveryChangeAnswersJSON: admins remove answers in -o json; a repeated admins add
// answers the stored created_at; ls and rm name list and remove.
func TestCLIEveryChangeAnswersJSON(t *testing.T) {
	e := admintest.Start(t, admintest.Options{})
	ok(t, e, "", "workspace", "create", "ml")
	first := okJSON[keystore.WorkspaceAdmin](t, e, "ml", "workspace", "admins", "add", "person:alice")
	again := okJSON[keystore.WorkspaceAdmin](t, e, "ml", "workspace", "admins", "add", "person:alice")
	if first.CreatedAt.IsZero() || !again.CreatedAt.Equal(first.CreatedAt) {
		t.Fatalf("a repeated admins add answers created_at %v, first %v", again.CreatedAt, first.CreatedAt)
	}
	if l := okJSON[admin.List[keystore.WorkspaceAdmin]](t, e, "ml", "workspace", "admins", "ls"); len(l.Items) != 1 {
		t.Fatalf("admins ls = %+v", l)
	}
	r := okJSON[actionResult](t, e, "ml", "workspace", "admins", "rm", "person:alice")
	if r.Action != "admin_removed" || r.Principal != "person:alice" || r.Workspace != "ml" {
		t.Fatalf("admins rm -o json = %+v", r)
	}
}

// TestCLIAuditByName: --actor takes an account's name; an unknown one, or an unknown
// action, is an error that says what exists; the ACTOR column shows names.
func TestCLIAuditByName(t *testing.T) {
	e := admintest.Start(t, admintest.Options{})
	ok(t, e, "", "workspace", "create", "ml")
	ci := okJSON[admin.ServiceAccountWithKey](t, e, "ml", "sa", "create", "ci")
	ok(t, e, "ml", "workspace", "admins", "add", "sa:ci")
	if r := asKey(t, e, ci.APIKey.Key, "ml", "sa", "create", "etl"); r.code != 0 {
		t.Fatalf("sa create as ci: %s", r.stderr)
	}
	r := ok(t, e, "ml", "audit", "--actor", "sa:ci")
	if !strings.Contains(r.stdout, "sa:ci@ml") || !strings.Contains(r.stdout, "service_account.create") {
		t.Fatalf("audit --actor sa:ci: %q", r.stdout)
	}
	failing(t, e, "ml", "terraform", "audit", "--actor", "sa:terraform")
	failing(t, e, "ml", "key.rotate", "audit", "--action", "key.explode")
	failing(t, e, "ml", "operator:admin", "audit", "--actor", "operator:ghost")
	failing(t, e, "ml", "none", "audit", "--actor", "person:ghost")
}
