package main

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/sagate/sagate/admin"
	"github.com/sagate/sagate/admin/admintest"
	"github.com/sagate/sagate/keystore"
)

// An account is named by its id, name or full name everywhere, and the full name gives the
// workspace when -w and SAGATE_WORKSPACE are unset.
func TestCLIFullNames(t *testing.T) {
	e := admintest.Start(t, admintest.Options{})
	ok(t, e, "", "workspace", "create", "ml-team")
	ok(t, e, "", "workspace", "create", "other")
	sa := okJSON[admin.ServiceAccountWithKey](t, e, "", "sa", "create", "ci-bot@ml-team", "--no-key").ServiceAccount
	if sa.FullName != "ci-bot@ml-team" {
		t.Fatalf("sa create NAME@WORKSPACE: %+v", sa)
	}
	for _, c := range []struct{ ws, ref string }{{"ml-team", "ci-bot@ml-team"}, {"", "ci-bot@ml-team"}, {"ml-team", sa.ID}, {"ml-team", "ci-bot"}} {
		if got := okJSON[keystore.ServiceAccount](t, e, c.ws, "sa", "get", c.ref); got.ID != sa.ID {
			t.Fatalf("sa get %s (workspace %q): %+v", c.ref, c.ws, got)
		}
	}
	k := okJSON[newKey](t, e, "", "key", "create", "ci-bot@ml-team").APIKey
	t.Cleanup(func() { e.AssertNoSecrets(t, k.Key, e.Token) })
	okJSON[keystore.Grant](t, e, "", "project", "assign", "vision", "ci-bot@ml-team", "--role", "viewer")
	if kl := okJSON[admin.List[keystore.APIKey]](t, e, "", "key", "list", "ci-bot@ml-team"); len(kl.Items) != 1 {
		t.Fatalf("key list by full name: %+v", kl)
	}
	// A full name of another workspace than -w's: the API's 400, which names both.
	r := failing(t, e, "other", `"ci-bot@ml-team" is in workspace "ml-team", not in "other"`, "sa", "get", "ci-bot@ml-team")
	if r.stdout != "" {
		t.Fatalf("stdout on error: %q", r.stdout)
	}
	failingWith(t, e, exitUsage, "other", `is in workspace "ml-team", not in "other"`, "sa", "create", "x@ml-team")
	failingWith(t, e, exitUsage, "", "or name the account in full", "sa", "get", "ci-bot")
}

// sa show prints the account whole: state, the role in each project (grants add up), keys.
func TestCLISAShow(t *testing.T) {
	e := admintest.Start(t, admintest.Options{})
	ok(t, e, "", "workspace", "create", "ml-team")
	out := okJSON[admin.ServiceAccountWithKey](t, e, "ml-team", "sa", "create", "ci-bot", "--all-projects-role", "contributor", "--key-expires-in", "30d")
	t.Cleanup(func() { e.AssertNoSecrets(t, out.APIKey.Key, e.Token) })
	ok(t, e, "ml-team", "project", "assign", "forecasting", "ci-bot", "--role", "viewer")
	ok(t, e, "ml-team", "project", "assign", "billing", "ci-bot", "--role", "owner")

	v := okJSON[accountView](t, e, "", "sa", "show", "ci-bot@ml-team")
	if v.ServiceAccount.State != keystore.AccountActive || len(v.Keys) != 1 || v.Keys[0].Last6 != out.APIKey.Last6 || v.Keys[0].ExpiresAt == nil {
		t.Fatalf("sa show -o json: %+v", v)
	}
	var got []string
	for _, g := range v.Grants {
		got = append(got, g.Project+":"+string(g.Role)+":"+string(g.EffectiveRole))
	}
	if want := "*:contributor:contributor billing:owner:owner forecasting:viewer:contributor"; strings.Join(got, " ") != want {
		t.Fatalf("sa show grants = %q, want %q", strings.Join(got, " "), want)
	}
	r := ok(t, e, "ml-team", "sa", "show", "ci-bot")
	for _, want := range []string{"ci-bot@ml-team", "active", "PROJECT", "contributor (from *)", out.APIKey.Last6, "LAST USED", "never"} {
		if !strings.Contains(r.stdout, want) {
			t.Fatalf("sa show table lacks %q:\n%s", want, r.stdout)
		}
	}
	// A group's grant adds to the account's own, and sa show says which grant gives what.
	ok(t, e, "ml-team", "group", "create", "ops")
	ok(t, e, "ml-team", "group", "add", "ops", "sa:ci-bot")
	ok(t, e, "ml-team", "project", "assign", "forecasting", "--group", "ops", "--role", "owner")
	v = okJSON[accountView](t, e, "ml-team", "sa", "show", "ci-bot")
	got = got[:0]
	for _, g := range v.Grants {
		got = append(got, g.Project+":"+g.Via+":"+string(g.Role)+":"+string(g.EffectiveRole)+":"+g.From)
	}
	if want := "*:direct:contributor:contributor: billing:direct:owner:owner: forecasting:direct:viewer:owner:group:ops forecasting:group:ops:owner:owner:"; strings.Join(got, " ") != want {
		t.Fatalf("sa show grants with a group = %q, want %q", strings.Join(got, " "), want)
	}
	if r := ok(t, e, "ml-team", "sa", "show", "ci-bot"); !strings.Contains(r.stdout, "owner (from group:ops)") || !strings.Contains(r.stdout, "VIA") {
		t.Fatalf("sa show table does not show the group's role:\n%s", r.stdout)
	}
	if keyRE.MatchString(r.stdout) {
		t.Fatalf("sa show printed a secret")
	}
	ok(t, e, "ml-team", "sa", "create", "bare", "--no-key")
	if r := ok(t, e, "ml-team", "sa", "show", "bare"); !strings.Contains(r.stdout, "No project grants") || !strings.Contains(r.stdout, "No keys") {
		t.Fatalf("sa show of a bare account:\n%s", r.stdout)
	}
	if v := okJSON[accountView](t, e, "ml-team", "sa", "show", "bare"); v.Grants == nil || v.Keys == nil {
		t.Fatalf("sa show -o json of a bare account has null lists: %+v", v)
	}
}

// Every mutating command prints what it did, in the table and in JSON.
func TestCLIMutationsSayWhatTheyDid(t *testing.T) {
	e := admintest.Start(t, admintest.Options{})
	var issued []string
	t.Cleanup(func() { e.AssertNoSecrets(t, append(issued, e.Token)...) })
	ok(t, e, "", "workspace", "create", "ml-team")
	ok(t, e, "ml-team", "sa", "create", "bot", "--no-key")
	k1 := okJSON[newKey](t, e, "ml-team", "key", "create", "bot").APIKey
	issued = append(issued, k1.Key)

	// key rotate --retain: the new key, and until when the old one stays valid.
	r := ok(t, e, "ml-team", "key", "rotate", "bot", k1.Last6, "--retain", "60m")
	k2 := keyRE.FindString(r.stdout)
	issued = append(issued, k2)
	if k2 == "" || !strings.Contains(r.stdout, "The old key "+k1.Last6+" ("+k1.ID+") stays valid until ") {
		t.Fatalf("key rotate --retain: %q", r.stdout)
	}
	e.LiveRecord(t, k1.Key)

	// One place for a new key: .api_key, after sa create, sa reactivate, key create and key rotate.
	for _, args := range [][]string{
		{"sa", "create", "other"},
		{"key", "create", "bot"},
		{"key", "rotate", "bot", keystore.Last6(k2)},
	} {
		r := ok(t, e, "ml-team", append(args, "-o", "json")...)
		var v struct {
			APIKey struct {
				Key string `json:"key"`
			} `json:"api_key"`
		}
		if err := json.Unmarshal([]byte(r.stdout), &v); err != nil || keystore.CheckKey(v.APIKey.Key) != nil {
			t.Fatalf("sagate %s -o json: no key at .api_key.key: %s", strings.Join(args, " "), r.stdout)
		}
		issued = append(issued, v.APIKey.Key)
	}

	// key revoke: a line, a JSON object; again: "already revoked", exit 0.
	if r := ok(t, e, "ml-team", "key", "revoke", "bot", k1.ID); !strings.Contains(r.stdout, "revoked key "+k1.ID+" of bot@ml-team") {
		t.Fatalf("key revoke: %q", r.stdout)
	}
	if r := ok(t, e, "ml-team", "key", "revoke", "bot", k1.ID); !strings.Contains(r.stdout, "is already revoked") {
		t.Fatalf("key revoke twice: %q", r.stdout)
	}
	if v := okJSON[actionResult](t, e, "ml-team", "key", "revoke", "bot", k1.Last6); v.Action != "already_revoked" || v.ServiceAccount != "bot@ml-team" {
		t.Fatalf("key revoke twice -o json: %+v", v)
	}
	failing(t, e, "ml-team", "not found", "key", "revoke", "bot", "key_00000000000000000000")

	// key revoke --all: how many keys it ended.
	if r := ok(t, e, "ml-team", "key", "revoke", "bot", "--all"); !strings.Contains(r.stdout, "revoked 2 key(s) of bot@ml-team") {
		t.Fatalf("key revoke --all: %q", r.stdout)
	}
	if v := okJSON[admin.RevokeAllResponse](t, e, "ml-team", "key", "revoke", "bot", "--all"); v.Revoked != 0 || v.FullName != "bot@ml-team" {
		t.Fatalf("key revoke --all -o json: %+v", v)
	}

	ok(t, e, "ml-team", "project", "assign", "vision", "bot", "--role", "viewer")
	if v := okJSON[actionResult](t, e, "ml-team", "project", "unassign", "vision", "bot"); v != (actionResult{Action: "unassigned", ServiceAccount: "bot@ml-team", Project: "vision"}) {
		t.Fatalf("project unassign -o json: %+v", v)
	}
	if r := ok(t, e, "ml-team", "sa", "delete", "bot@ml-team"); !strings.Contains(r.stdout, "deleted service account bot@ml-team") {
		t.Fatalf("sa delete: %q", r.stdout)
	}
}

// workspace update raises the limit the 409 names.
func TestCLIWorkspaceUpdate(t *testing.T) {
	e := admintest.Start(t, admintest.Options{})
	ok(t, e, "", "workspace", "create", "ml-team", "--max-service-accounts", "1")
	ok(t, e, "ml-team", "sa", "create", "one", "--no-key")
	r := failing(t, e, "ml-team", "sagate workspace update ml-team --max-service-accounts 2", "sa", "create", "two", "--no-key")
	if !strings.Contains(r.stderr, "maximum of 1 service accounts") {
		t.Fatalf("limit error: %q", r.stderr)
	}
	if w := okJSON[keystore.Workspace](t, e, "", "workspace", "update", "ml-team", "--max-service-accounts", "2"); w.MaxServiceAccounts != 2 {
		t.Fatalf("workspace update: %+v", w)
	}
	ok(t, e, "ml-team", "sa", "create", "two", "--no-key")
	if r := ok(t, e, "", "workspace", "update", "ml-team", "--max-service-accounts", "5"); !strings.Contains(r.stdout, "5") {
		t.Fatalf("workspace update table: %q", r.stdout)
	}
	failingWith(t, e, exitUsage, "", "needs --max-service-accounts", "workspace", "update", "ml-team")
	failing(t, e, "", "--max-service-accounts: must be between 1 and", "workspace", "update", "ml-team", "--max-service-accounts", "0")
	failing(t, e, "", `workspace "nope" not found`, "workspace", "update", "nope", "--max-service-accounts", "3")
}

// -o json errors are JSON on stderr with a stable code; usage errors exit 2, others 1;
// messages name the flag or variable that fixes them.
func TestCLIErrorsSayWhatToDo(t *testing.T) {
	e := admintest.Start(t, admintest.Options{})
	ok(t, e, "", "workspace", "create", "ml-team")
	ok(t, e, "ml-team", "sa", "create", "bot", "--no-key")

	jsonErr := func(t *testing.T, r result) admin.ErrorDetail {
		t.Helper()
		var v admin.ErrorBody
		if err := json.Unmarshal([]byte(r.stderr), &v); err != nil || v.Error.Code == "" || v.Error.Message == "" || r.stdout != "" {
			t.Fatalf("not a JSON error on stderr: stdout %q stderr %q", r.stdout, r.stderr)
		}
		return v.Error
	}
	for _, c := range []struct {
		name, ws, code, want string
		exit                 int
		args                 []string
	}{
		{"not found", "ml-team", "not_found", "not found", exitError, []string{"sa", "get", "ghost", "-o", "json"}},
		{"usage", "ml-team", "usage", "takes 1 argument", exitUsage, []string{"-o", "json", "sa", "get"}},
		{"flag error before -o", "ml-team", "usage", "unknown flag", exitUsage, []string{"sa", "list", "--bogus", "-o", "json"}},
		{"already exists", "ml-team", "already_exists", "already exists", exitError, []string{"sa", "create", "bot", "-o", "json"}},
		{"unknown workspace", "nope", "not_found", "-w or " + envWorkspace, exitError, []string{"sa", "list", "-o", "json"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			r := sagate(t, e, c.ws, c.args...)
			if r.code != c.exit {
				t.Fatalf("exit %d, want %d: %q", r.code, c.exit, r.stderr)
			}
			if d := jsonErr(t, r); d.Code != c.code || !strings.Contains(d.Message, c.want) {
				t.Fatalf("error %+v, want code %q and %q", d, c.code, c.want)
			}
		})
	}
	t.Run("unreachable, json", func(t *testing.T) {
		r := runWith(t, map[string]string{envAdminURL: "http://127.0.0.1:1", envAdminToken: e.Token}, "workspace", "list", "-o", "json")
		if d := jsonErr(t, r); r.code != exitError || d.Code != codeUnavailable || !strings.Contains(d.Message, envAdminURL) {
			t.Fatalf("%+v %+v", r, d)
		}
	})

	for _, c := range []struct {
		name, ws, want string
		exit           int
		args           []string
	}{
		{"suggestion under sa", "ml-team", "did you mean create?", exitUsage, []string{"sa", "craete", "x"}},
		{"suggestion under key", "ml-team", "did you mean rotate?", exitUsage, []string{"key", "roatte"}},
		{"suggestion at the root", "", "did you mean workspace?", exitUsage, []string{"worksapce", "list"}},
		{"help of the subcommand", "ml-team", "Run 'sagate key rotate --help' for usage.", exitUsage, []string{"key", "rotate", "bot"}},
		{"help of the group", "ml-team", "Run 'sagate sa --help' for usage.", exitUsage, []string{"sa", "craete"}},
		{"role flag", "ml-team", `--all-projects-role must be one of viewer, contributor, owner (got "admin")`, exitUsage, []string{"sa", "create", "x", "--all-projects-role", "admin"}},
		{"api field as flag", "ml-team", "--retain:", exitError, []string{"key", "rotate", "bot", "abcdef", "--retain", "forever"}},
		{"api field as argument", "ml-team", "NAME: must be an id (sa_…), a name, or a full name", exitError, []string{"sa", "get", "Bad_Name"}},
		{"bad workspace names -w", "Bad_WS", "-w WORKSPACE (or " + envWorkspace + "): must", exitError, []string{"sa", "get", "bot"}},
		{"bad workspace names NAME", "", "NAME: must", exitError, []string{"workspace", "update", "Bad_WS", "--max-service-accounts", "3"}},
		{"no workspace", "", "-w WORKSPACE", exitUsage, []string{"sa", "list"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			r := failingWith(t, e, c.exit, c.ws, c.want, c.args...)
			if strings.Contains(r.stderr, "all_projects_role") {
				t.Fatalf("the API's field name reached the user: %q", r.stderr)
			}
		})
	}
	t.Run("bad CA file names the flag", func(t *testing.T) {
		r := runWith(t, map[string]string{envAdminURL: e.URL, envAdminToken: e.Token, envAdminCA: "/nonexistent/ca.pem"}, "workspace", "list")
		if r.code != exitUsage || !strings.Contains(r.stderr, "--ca-file or "+envAdminCA) {
			t.Fatalf("%+v", r)
		}
	})
}

func TestWantsJSON(t *testing.T) {
	for _, c := range []struct {
		args []string
		want bool
	}{
		{[]string{"sa", "list", "-o", "json"}, true},
		{[]string{"-ojson", "sa", "list"}, true},
		{[]string{"sa", "list", "-o=json"}, true},
		{[]string{"sa", "list", "--output", "json"}, true},
		{[]string{"sa", "list", "--output=json"}, true},
		{[]string{"sa", "list", "-o", "table"}, false},
		{[]string{"sa", "list", "-o"}, false},
		{[]string{"sa", "get", "--", "-o", "json"}, false},
		{[]string{"sa", "get", "json"}, false},
	} {
		if got := wantsJSON(c.args); got != c.want {
			t.Errorf("wantsJSON(%q) = %v, want %v", c.args, got, c.want)
		}
	}
}
