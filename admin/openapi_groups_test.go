package admin_test

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"github.com/sagate/sagate/admin"
	"github.com/sagate/sagate/keystore"
)

// groupsWorkflow drives the routes of groups, their members and their grants through the
// Client, and leaves the group "ops" (member sa:bot, viewer on billing) for typicalErrors.
func groupsWorkflow(t *testing.T, ctx context.Context, c *admin.Client, a *specAPI, ws string) {
	t.Helper()
	ok := func(what string, err error) {
		t.Helper()
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
	}
	g, err := c.CreateGroup(ctx, ws, "ops", "on call")
	ok("create group", err)
	if g.Name != "ops" || g.Workspace != ws || g.Description != "on call" {
		t.Fatalf("create group: %+v", g)
	}
	a.expect(ctx, http.StatusConflict, string(keystore.KindNameTaken), "POST", "/v1/workspaces/"+ws+"/groups", `{"name": "ops"}`)
	_, err = c.CreateGroup(ctx, ws, "gone", "")
	ok("create group gone", err)
	desc := "on call, nights"
	g, err = c.UpdateGroup(ctx, ws, "ops", &desc)
	ok("update group", err)
	if g.Description != desc {
		t.Fatalf("update group: %+v", g)
	}
	m, created, err := c.AddGroupMember(ctx, ws, "ops", "sa:bot")
	ok("add bot", err)
	if !created || m.Name != "bot@"+ws || m.ServiceAccountID == "" {
		t.Fatalf("add bot: %+v, %v", m, created)
	}
	if _, created, err = c.AddGroupMember(ctx, ws, "ops", "sa:bot@"+ws); err != nil || created {
		t.Fatalf("add bot again: %v, %v", created, err)
	}
	_, _, err = c.AddGroupMember(ctx, ws, "ops", "person:alice")
	ok("add alice", err)
	ms, err := c.AllGroupMembers(ctx, ws, "ops")
	ok("list members", err)
	if len(ms) != 2 {
		t.Fatalf("members: %+v", ms)
	}
	ok("remove alice", c.RemoveGroupMember(ctx, ws, "ops", "person:alice"))
	gg, err := c.SetGroupGrant(ctx, ws, "billing", "ops", keystore.RoleViewer)
	ok("assign ops", err)
	if gg.Group != "ops" || gg.Role != keystore.RoleViewer {
		t.Fatalf("assign ops: %+v", gg)
	}
	_, err = c.SetGroupGrant(ctx, ws, "*", "ops", keystore.RoleViewer)
	ok("assign ops on *", err)
	ok("unassign ops on *", c.RemoveGroupGrant(ctx, ws, "*", "ops"))
	d, err := c.GetGroup(ctx, ws, "ops")
	ok("get group", err)
	if d.Members != 1 || len(d.Grants) != 1 || d.Grants[0].Project != "billing" {
		t.Fatalf("get group: %+v", d)
	}
	gs, err := c.AllGroups(ctx, ws)
	ok("list groups", err)
	if len(gs) != 2 {
		t.Fatalf("groups: %+v", gs)
	}
	pg, err := c.ProjectGroups(ctx, ws, "billing")
	ok("billing's groups", err)
	if len(pg) != 1 || pg[0].Group != "ops" {
		t.Fatalf("billing's groups: %+v", pg)
	}
	ps, err := c.AllProjects(ctx, ws)
	ok("list projects", err)
	var billing keystore.ProjectSummary
	for _, p := range ps {
		if p.Project == "billing" {
			billing = p
		}
	}
	if billing.Groups != 1 {
		t.Fatalf("projects: %+v", ps)
	}
	ok("delete gone", c.DeleteGroup(ctx, ws, "gone"))

	// Ownership: who created an account, and who owns it.
	owned, err := c.CreateServiceAccount(ctx, ws, admin.CreateServiceAccountRequest{Name: "owned", Owner: "person:alice"})
	ok("create an owned account", err)
	if owned.ServiceAccount.CreatedBy != "operator:admin" || owned.ServiceAccount.Owner != "person:alice" {
		t.Fatalf("owned account: %+v", owned.ServiceAccount)
	}
	bot := "sa:bot"
	sa, err := c.UpdateServiceAccount(ctx, ws, "owned", admin.UpdateServiceAccountRequest{Owner: &bot})
	ok("give owned to bot", err)
	if !strings.HasPrefix(sa.Owner, "sa:sa_") {
		t.Fatalf("owner by account: %+v", sa)
	}
	none := ""
	if sa, err = c.UpdateServiceAccount(ctx, ws, "owned", admin.UpdateServiceAccountRequest{Owner: &none}); err != nil || sa.Owner != "" {
		t.Fatalf("clear the owner: %+v, %v", sa, err)
	}
	a.expect(specInvalid(ctx), http.StatusBadRequest, admin.CodeInvalid, "PATCH", "/v1/workspaces/"+ws+"/service-accounts/owned", `{"owner": "alice"}`)
	_, err = c.GetGroup(ctx, ws, "gone")
	wantAPIError(t, "get a deleted group", err, http.StatusNotFound, admin.CodeNotFound)
}
