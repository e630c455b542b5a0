package main

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/sagate/sagate/admin"
	"github.com/sagate/sagate/admin/admintest"
	"github.com/sagate/sagate/keystore"
)

// asKey runs the CLI against e with key, a service account's sak_ key, as its only credential.
func asKey(t *testing.T, e *admintest.Env, key, ws string, args ...string) result {
	t.Helper()
	return runWith(t, map[string]string{envAdminURL: e.URL, envAdminToken: key, envWorkspace: ws}, args...)
}

// TestCLIServiceAccountKey: a CI account that administers its workspace runs the CLI with
// its own key only: it creates an account, issues its key, assigns it to a project and
// gives a person a role, and is refused outside its workspace and above its rights.
func TestCLIServiceAccountKey(t *testing.T) {
	e := admintest.Start(t, admintest.Options{})
	ok(t, e, "", "workspace", "create", "ml")
	ok(t, e, "", "workspace", "create", "other")
	ci := okJSON[admin.ServiceAccountWithKey](t, e, "ml", "sa", "create", "ci")
	if ci.APIKey == nil {
		t.Fatal("no key for ci")
	}
	ok(t, e, "ml", "workspace", "admins", "add", "sa:ci")
	key := ci.APIKey.Key

	run := func(ws string, args ...string) result {
		t.Helper()
		r := asKey(t, e, key, ws, args...)
		if r.code != 0 {
			t.Fatalf("sagate %s as ci: exit %d: %s", strings.Join(args, " "), r.code, r.stderr)
		}
		return r
	}
	r := run("ml", "whoami")
	if !strings.Contains(r.stdout, "sa:"+ci.ServiceAccount.ID) || !strings.Contains(r.stdout, "ci@ml") || !strings.Contains(r.stdout, ci.APIKey.Last6) {
		t.Fatalf("whoami as ci: %q", r.stdout)
	}
	if who := okWith[admin.WhoAmI](t, run("ml", "whoami", "-o", "json")); who.Kind != keystore.PrincipalServiceAccount || who.Workspace != "ml" {
		t.Fatalf("whoami -o json as ci: %+v", who)
	}
	etl := okWith[admin.ServiceAccountWithKey](t, run("ml", "sa", "create", "etl", "--no-key", "-o", "json"))
	k := okWith[struct {
		APIKey keystore.IssuedKey `json:"api_key"`
	}](t, run("ml", "key", "create", "etl", "-o", "json")).APIKey
	if !strings.HasPrefix(k.Key, keystore.KeyPrefix) {
		t.Fatalf("key create as ci: %+v", k)
	}
	run("ml", "project", "assign", "vision", "etl", "--role", "contributor")
	run("ml", "project", "assign", "vision", "--person", "alice", "--role", "owner")
	r = run("ml", "project", "list", "vision")
	if !strings.Contains(r.stdout, "etl@ml") || !strings.Contains(r.stdout, "alice") {
		t.Fatalf("project list as ci: %q", r.stdout)
	}
	if r := run("ml", "workspace", "admins", "list"); !strings.Contains(r.stdout, "ci@ml") {
		t.Fatalf("admins list as ci: %q", r.stdout)
	}
	if r := run("ml", "audit"); !strings.Contains(r.stdout, "sa:ci@ml") || !strings.Contains(r.stdout, etl.ServiceAccount.ID) {
		t.Fatalf("audit of ml as ci: %q", r.stdout)
	}

	refused := func(ws, want string, args ...string) {
		t.Helper()
		r := asKey(t, e, key, ws, args...)
		if r.code != 1 || !strings.Contains(r.stderr, want) {
			t.Fatalf("sagate %s as ci: exit %d, stderr %q; want a refusal with %q", strings.Join(args, " "), r.code, r.stderr, want)
		}
	}
	refused("other", "needs workspace admin on other", "sa", "create", "intruder")
	refused("other", "needs workspace admin on other", "sa", "list")
	refused("", "needs an operator token", "workspace", "create", "mine")
	refused("", "needs an operator token", "workspace", "list")
	refused("", "operator", "audit")
	refused("ml", "cannot give itself a role", "project", "assign", "vision", "ci", "--role", "owner")
	if sl := okJSON[admin.List[keystore.ServiceAccount]](t, e, "other", "sa", "list"); len(sl.Items) != 0 {
		t.Fatalf("other's accounts after the refusals: %+v", sl.Items)
	}
	admintest.AssertNoSecrets(t, e.Logs, key, k.Key)
}

// okWith decodes a CLI run's JSON output.
func okWith[T any](t *testing.T, r result) T {
	t.Helper()
	var v T
	if err := json.Unmarshal([]byte(r.stdout), &v); err != nil {
		t.Fatalf("decoding %T: %v\n%s", v, err, r.stdout)
	}
	return v
}
