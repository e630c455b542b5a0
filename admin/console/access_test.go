package console_test

import (
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/sagate/sagate/admin/console"
	"github.com/sagate/sagate/keystore"
)

// TestServiceAccountsInTheConsole signs in with sak_ keys: a project owner sees and
// changes only its project, a workspace admin lands on its workspace, and a revoked
// key ends the session at the next click.
func TestServiceAccountsInTheConsole(t *testing.T) {
	var svc *keystore.Service
	e := newEnv(t, withKeys(&svc))
	svc = e.svc
	must := mustOK(t)
	_, lead, err := e.svc.CreateServiceAccount(e.op, "acme", keystore.CreateServiceAccountInput{Name: "lead", CreateKey: true})
	must(err)
	_, boss, err := e.svc.CreateServiceAccount(e.op, "acme", keystore.CreateServiceAccountInput{Name: "boss", CreateKey: true})
	must(err)
	_, _, err = e.svc.CreateServiceAccount(e.op, "acme", keystore.CreateServiceAccountInput{Name: "bot"})
	must(err)
	_, err = e.svc.SetGrant(e.op, "acme", "p1", "lead", keystore.RoleOwner)
	must(err)
	_, err = e.svc.SetGrant(e.op, "acme", "p2", "lead", keystore.RoleViewer)
	must(err)
	_, _, err = e.svc.SetWorkspaceAdmin(e.op, "acme", "sa:boss")
	must(err)

	// The project owner lands on its one project and may change it.
	b := e.browser()
	if loc := b.signInWith(lead.Key); loc != "/console/w/acme/projects/p1" {
		t.Fatalf("the project owner lands on %q", loc)
	}
	if resp, _ := b.post("/console/w/acme/projects/p1/assign", url.Values{"account": {"bot"}, "role": {"contributor"}}); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("assign on p1: %d", resp.StatusCode)
	}
	resp, body := b.get("/console/w/acme/projects/p1")
	if resp.StatusCode != http.StatusOK || !strings.Contains(body, "bot@acme is now contributor of project p1") || strings.Contains(body, "Audit trail") {
		t.Fatalf("p1 after assigning: %d", resp.StatusCode)
	}
	// p2 is refused, with keystore's words, and nothing changes.
	resp, body = b.post("/console/w/acme/projects/p2/assign", url.Values{"account": {"bot"}, "role": {"owner"}})
	if resp.StatusCode != http.StatusForbidden || strings.Count(body, "permission denied: needs owner of project p2") != 1 {
		t.Fatalf("assign on p2: %d", resp.StatusCode)
	}
	if gs := e.grants("bot"); len(gs) != 1 || gs[0].Project != "p1" {
		t.Fatalf("bot's grants after the refusal: %+v", gs)
	}
	if resp, _ := b.get("/console/w/acme/projects/p2"); resp.StatusCode != http.StatusForbidden {
		t.Fatalf("p2's page: %d", resp.StatusCode)
	}
	if resp, _ := b.get("/console/w/acme/accounts"); resp.StatusCode != http.StatusForbidden {
		t.Fatalf("the accounts of acme, as a project owner: %d", resp.StatusCode)
	}
	resp, body = b.get("/console/workspaces")
	if resp.StatusCode != http.StatusOK || !strings.Contains(body, `href="/console/w/acme/projects/p1"`) || strings.Contains(body, "p2") {
		t.Fatalf("the overview of the project owner: %d", resp.StatusCode)
	}
	b.get("/console/w/acme/projects/p1")
	if resp, _ := b.post("/console/w/acme/projects/p1/unassign", url.Values{"account": {"bot"}}); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("unassign on p1: %d", resp.StatusCode)
	}
	if gs := e.grants("bot"); len(gs) != 0 {
		t.Fatalf("bot's grants after unassigning: %+v", gs)
	}

	// The workspace admin lands on its workspace and reads its audit trail.
	a := e.browser()
	if loc := a.signInWith(boss.Key); loc != "/console/w/acme/accounts" {
		t.Fatalf("the workspace admin lands on %q", loc)
	}
	resp, body = a.get("/console/audit")
	if resp.StatusCode != http.StatusOK || !strings.Contains(body, "grant.remove") {
		t.Fatalf("audit as the workspace admin: %d", resp.StatusCode)
	}
	if resp, _ := a.get("/console/audit?workspace="); resp.StatusCode != http.StatusForbidden {
		t.Fatalf("every workspace's audit as the workspace admin: %d", resp.StatusCode)
	}

	// Revoking the owner's key ends its session at the next click.
	keys, _, err := e.svc.ListKeys(e.op, "acme", "lead", keystore.Page{})
	must(err)
	must(e.svc.RevokeKey(e.op, "acme", "lead", keys[0].ID))
	if resp, _ := b.get("/console/w/acme/projects/p1"); resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/console/sign-in?ended=1" {
		t.Fatalf("after the key was revoked: %d to %q", resp.StatusCode, resp.Header.Get("Location"))
	}
	// Deactivating the admin's account does the same.
	_, err = e.svc.DeactivateServiceAccount(e.op, "acme", "boss")
	must(err)
	if resp, _ := a.get("/console/w/acme/accounts"); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("after the account was deactivated: %d", resp.StatusCode)
	}
}

// TestProjectPageShowsPeople: the project page lists the people with a role in the
// project (there or on "*") to whoever may read the project's grants: an operator, the
// project's owner (a service account or a person); to anyone else it shows no one (the
// header names a person signed in through the proxy, so rows are looked for, not names).
func TestProjectPageShowsPeople(t *testing.T) {
	var svc *keystore.Service
	e := newEnv(t, withKeys(&svc), func(c *console.Config) {
		c.FromProxy = func(r *http.Request) (console.Principal, bool, error) {
			u := r.Header.Get("X-Test-User")
			return console.Principal{Actor: "person:" + u, Label: u, Value: keystore.Person(u, "127.0.0.1")}, u != "", nil
		}
	})
	svc = e.svc
	must := mustOK(t)
	_, lead, err := e.svc.CreateServiceAccount(e.op, "acme", keystore.CreateServiceAccountInput{Name: "lead", CreateKey: true})
	must(err)
	_, err = e.svc.SetGrant(e.op, "acme", "p1", "lead", keystore.RoleOwner)
	must(err)
	_, err = e.svc.SetGrant(e.op, "acme", "p2", "lead", keystore.RoleViewer)
	must(err)
	for _, r := range []struct {
		project, person string
		role            keystore.Role
	}{{"p1", "carol", keystore.RoleOwner}, {"*", "dave", keystore.RoleViewer}, {"p2", "erin", keystore.RoleContributor}} {
		_, err = e.svc.SetPersonRole(e.op, "acme", r.project, r.person, r.role)
		must(err)
	}
	row := func(person, role, through string) *regexp.Regexp {
		// A role on the project itself is a form that changes it; one on "*" is text.
		return regexp.MustCompile(`(?s)<td>` + person + `</td>\s*<td>(?:` + role + `|<form[^>]*>(?:[^<]|<[^/]|</[^f])*?<option value="` + role + `" selected>.*?</form>)</td>\s*<td>` + regexp.QuoteMeta(through) + `</td>`)
	}
	sees := func(who string, status int, body string) {
		t.Helper()
		if status != http.StatusOK || !strings.Contains(body, "People and their roles") ||
			!row("carol", "owner", "this project").MatchString(body) || !row("dave", "viewer", "every project (*)").MatchString(body) ||
			strings.Contains(body, "erin") {
			t.Errorf("p1's people, as %s: %d, want carol (owner, this project) and dave (viewer, *), not erin", who, status)
		}
	}
	seesNoOne := func(who string, status int, body string) {
		t.Helper()
		if status != http.StatusForbidden || strings.Contains(body, "People and their roles") ||
			strings.Contains(body, "<td>carol</td>") || strings.Contains(body, "dave") || strings.Contains(body, "erin") {
			t.Errorf("p2's people, as %s: %d, want 403 and no one", who, status)
		}
	}

	op := e.browser()
	op.signIn()
	resp, body := op.get("/console/w/acme/projects/p1")
	sees("an operator", resp.StatusCode, body)

	// The owner of p1, a service account: p1's people, none of p2's, where it is a viewer.
	sa := e.browser()
	sa.signInWith(lead.Key)
	resp, body = sa.get("/console/w/acme/projects/p1")
	sees("p1's owning account", resp.StatusCode, body)
	resp, body = sa.get("/console/w/acme/projects/p2")
	seesNoOne("p1's owning account", resp.StatusCode, body)

	// People through the proxy: carol owns p1; dave is only a viewer everywhere.
	person := func(name, path string) (int, string) {
		t.Helper()
		req, _ := http.NewRequest(http.MethodGet, e.srv.URL+path, nil)
		req.Header.Set("X-Test-User", name)
		resp, body := e.browser().do(req)
		return resp.StatusCode, body
	}
	code, body := person("carol", "/console/w/acme/projects/p1")
	sees("carol", code, body)
	code, body = person("carol", "/console/w/acme/projects/p2")
	seesNoOne("carol", code, body)
	code, body = person("dave", "/console/w/acme/projects/p1")
	if code != http.StatusForbidden || strings.Contains(body, "People and their roles") || strings.Contains(body, "carol") || strings.Contains(body, "<td>dave</td>") {
		t.Errorf("p1's people, as dave (a viewer): %d, want 403 and no one", code)
	}
}

// mustOK returns a function that fails t on an error.
func mustOK(t *testing.T) func(error) {
	return func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
}
