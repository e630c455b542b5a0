package storetest

import (
	"testing"

	"github.com/sagate/sagate/keystore"
)

// testListProjects: every project named by a grant of an account, a group or a person is
// listed once, by name, with the count of each; other workspaces' projects are not.
func testListProjects(t *testing.T, e *env) {
	e.ws("ws", 0)
	e.ws("other", 0)
	e.sa("ws", "a")
	e.sa("ws", "b")
	e.sa("other", "c")
	must := func(doing string, err error) {
		t.Helper()
		if err != nil {
			t.Fatalf("%s: %v", doing, err)
		}
	}
	for _, g := range [][2]string{{"a", "p1"}, {"b", "p1"}, {"a", "*"}} {
		_, err := e.svc.SetGrant(e.ctx, "ws", g[1], g[0], keystore.RoleViewer)
		must("SetGrant", err)
	}
	_, err := e.svc.SetGrant(e.ctx, "other", "p9", "c", keystore.RoleViewer)
	must("SetGrant other", err)
	_, err = e.svc.CreateGroup(e.ctx, "ws", "g", "")
	must("CreateGroup", err)
	_, err = e.svc.SetGroupGrant(e.ctx, "ws", "p2", "g", keystore.RoleOwner)
	must("SetGroupGrant", err)
	_, err = e.svc.SetPersonRole(e.ctx, "ws", "p1", "pat", keystore.RoleOwner)
	must("SetPersonRole", err)
	e.sync.take()

	ps, next, err := e.svc.ListProjects(e.ctx, "ws", keystore.Page{})
	must("ListProjects", err)
	want := []keystore.ProjectSummary{
		{Workspace: "ws", Project: "*", Accounts: 1},
		{Workspace: "ws", Project: "p1", Accounts: 2, People: 1},
		{Workspace: "ws", Project: "p2", Groups: 1},
	}
	if next != "" || len(ps) != len(want) {
		t.Fatalf("ListProjects = %+v, %q; want %+v", ps, next, want)
	}
	for i := range want {
		if ps[i] != want[i] {
			t.Errorf("project %d = %+v, want %+v", i, ps[i], want[i])
		}
	}
	page, next, err := e.svc.ListProjects(e.ctx, "ws", keystore.Page{Size: 2})
	must("ListProjects page 1", err)
	rest, _, err := e.svc.ListProjects(e.ctx, "ws", keystore.Page{Size: 2, Token: next})
	must("ListProjects page 2", err)
	if len(page) != 2 || len(rest) != 1 || rest[0].Project != "p2" {
		t.Errorf("pages: %+v then %+v", page, rest)
	}
	_, _, err = e.svc.ListProjects(e.caller(e.key("ws", "a", keystore.CreateKeyInput{})), "ws", keystore.Page{})
	wantKind(t, "an account lists the projects", err, keystore.KindPermissionDenied)
}
