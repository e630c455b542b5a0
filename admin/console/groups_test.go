package console_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/sagate/sagate/keystore"
)

// TestGroupsInTheConsole: an operator creates a group, adds an account and a person, gives
// the group a role, sees it on the project's page and in the projects list, removes a
// member and the role, and deletes the group; each form answers with a redirect, and the
// store holds what the pages say.
func TestGroupsInTheConsole(t *testing.T) {
	e := newEnv(t)
	if _, _, err := e.svc.CreateServiceAccount(e.op, "acme", keystore.CreateServiceAccountInput{Name: "bot"}); err != nil {
		t.Fatal(err)
	}
	b := e.browser()
	b.signIn()
	if _, body := b.get("/console/w/acme/accounts"); !strings.Contains(body, `href="/console/w/acme/groups"`) ||
		!strings.Contains(body, `href="/console/w/acme/projects"`) {
		t.Fatal("the accounts page links to neither the groups nor the projects")
	}
	b.get("/console/w/acme/groups")
	redirect := func(path string, form url.Values, to string) {
		t.Helper()
		resp, body := b.post(path, form)
		if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != to {
			t.Fatalf("POST %s: %d to %q: %s", path, resp.StatusCode, resp.Header.Get("Location"), body)
		}
		b.get(to)
	}
	redirect("/console/w/acme/groups", url.Values{"name": {"ops"}, "description": {"on call"}}, "/console/w/acme/groups/ops")
	redirect("/console/w/acme/groups/ops/members", url.Values{"member": {"bot"}}, "/console/w/acme/groups/ops")
	redirect("/console/w/acme/groups/ops/members", url.Values{"member": {"person:alice"}}, "/console/w/acme/groups/ops")
	redirect("/console/w/acme/groups/ops/grants", url.Values{"project": {"vision"}, "role": {"owner"}}, "/console/w/acme/groups/ops")
	_, body := b.get("/console/w/acme/groups/ops")
	for _, want := range []string{"bot@acme", "alice", "vision", "owner", "Members (2)"} {
		if !strings.Contains(body, want) {
			t.Errorf("the group's page lacks %q", want)
		}
	}
	if _, body := b.get("/console/w/acme/projects/vision"); !strings.Contains(body, `href="/console/w/acme/groups/ops"`) {
		t.Error("the project's page does not show the group")
	}
	if _, body := b.get("/console/w/acme/projects"); !strings.Contains(body, `href="/console/w/acme/projects/vision"`) {
		t.Error("the projects page does not link to vision")
	}
	// A failed form is shown again with its message, and changes nothing.
	resp, body := b.post("/console/w/acme/groups/ops/members", url.Values{"member": {"ghost"}})
	if resp.StatusCode != http.StatusNotFound || !strings.Contains(body, "not found") {
		t.Errorf("adding a missing account: %d", resp.StatusCode)
	}
	d, err := e.svc.GetGroup(e.op, "acme", "ops")
	if err != nil || d.Members != 2 || len(d.Grants) != 1 || d.Grants[0].Role != keystore.RoleOwner {
		t.Fatalf("the store after the forms: %+v, %v", d, err)
	}
	redirect("/console/w/acme/groups/ops/members/remove", url.Values{"member": {"person:alice"}}, "/console/w/acme/groups/ops")
	redirect("/console/w/acme/groups/ops/grants/remove", url.Values{"project": {"vision"}}, "/console/w/acme/groups/ops")
	if d, err = e.svc.GetGroup(e.op, "acme", "ops"); err != nil || d.Members != 1 || len(d.Grants) != 0 {
		t.Fatalf("after the removals: %+v, %v", d, err)
	}
	redirect("/console/w/acme/groups/ops/delete", nil, "/console/w/acme/groups")
	if _, err := e.svc.GetGroup(e.op, "acme", "ops"); keystore.KindOf(err) != keystore.KindNotFound {
		t.Fatalf("after delete: %v", err)
	}
}
