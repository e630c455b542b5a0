package admin_test

import (
	"context"
	"net/http"
	"testing"

	"github.com/sagate/sagate/admin"
	"github.com/sagate/sagate/keystore"
)

// accessWorkflow drives the routes of principals, workspace admins and people's roles,
// as the operator and as a service account that is refused (403) until it is made an admin.
func accessWorkflow(t *testing.T, ctx context.Context, c *admin.Client, a *specAPI, ws string) {
	t.Helper()
	ok := func(what string, err error) {
		t.Helper()
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
	}
	me, err := c.WhoAmI(ctx)
	ok("whoami as the operator", err)
	if me.Kind != keystore.PrincipalOperator || me.Principal != "operator:admin" {
		t.Fatalf("whoami as the operator: %+v", me)
	}
	guest, err := c.CreateServiceAccount(ctx, ws, admin.CreateServiceAccountRequest{Name: "guest"})
	ok("create guest", err)
	gc, err := admin.NewClient(a.url, guest.APIKey.Key, admin.WithHTTPClient(a.hc))
	ok("a client with guest's key", err)
	me, err = gc.WhoAmI(ctx)
	ok("whoami as guest", err)
	if me.Kind != keystore.PrincipalServiceAccount || me.FullName != "guest@"+ws || me.ID != guest.ServiceAccount.ID ||
		me.KeyID != guest.APIKey.ID || me.Principal != "sa:"+guest.ServiceAccount.ID {
		t.Fatalf("whoami as guest: %+v", me)
	}
	_, err = gc.GetWorkspace(ctx, ws)
	wantAPIError(t, "guest reads the workspace", err, http.StatusForbidden, admin.CodePermissionDenied)
	_, err = gc.ListAudit(ctx, keystore.AuditFilter{Workspace: ws}, admin.ListOptions{})
	wantAPIError(t, "guest reads the audit", err, http.StatusForbidden, admin.CodePermissionDenied)
	_, err = gc.SetPersonRole(ctx, ws, "billing", "alice", keystore.RoleViewer)
	wantAPIError(t, "guest gives a role", err, http.StatusForbidden, admin.CodePermissionDenied)
	_, err = gc.SetWorkspaceAdmin(ctx, ws, "sa:guest")
	wantAPIError(t, "guest makes itself an admin", err, http.StatusForbidden, admin.CodePermissionDenied)

	// Workspace admins.
	w, err := c.GetWorkspace(ctx, ws)
	ok("get workspace", err)
	if w.Name != ws {
		t.Fatalf("get workspace: %+v", w)
	}
	a.expect(ctx, http.StatusCreated, "", "PUT", "/v1/workspaces/"+ws+"/admins/sa:guest", "")
	wa, err := c.SetWorkspaceAdmin(ctx, ws, "sa:guest@"+ws)
	ok("make guest an admin again, by full name", err)
	if wa.Principal != "sa:"+guest.ServiceAccount.ID || wa.Name != "guest@"+ws {
		t.Fatalf("admin guest: %+v", wa)
	}
	_, err = c.SetWorkspaceAdmin(ctx, ws, "person:carol")
	ok("make carol an admin", err)
	_, err = c.SetWorkspaceAdmin(ctx, ws, "sa:ghost")
	wantAPIError(t, "make ghost an admin", err, http.StatusNotFound, admin.CodeNotFound)
	wl, err := c.ListWorkspaceAdmins(ctx, ws, admin.ListOptions{PageSize: 1})
	ok("list admins", err)
	if len(wl.Items) != 1 || wl.NextPageToken == "" {
		t.Fatalf("first page of admins: %+v", wl)
	}
	wl, err = c.ListWorkspaceAdmins(ctx, ws, admin.ListOptions{PageToken: wl.NextPageToken})
	ok("list admins, page 2", err)
	if len(wl.Items) != 1 || wl.NextPageToken != "" {
		t.Fatalf("last page of admins: %+v", wl)
	}
	a.expect(ctx, http.StatusOK, "", "GET", "/v1/workspaces/"+ws+"/admins/person:carol", "")
	ok("remove carol", c.RemoveWorkspaceAdmin(ctx, ws, "person:carol"))
	wantAPIError(t, "remove carol twice", c.RemoveWorkspaceAdmin(ctx, ws, "person:carol"), http.StatusNotFound, admin.CodeNotFound)
	a.expect(ctx, http.StatusNotFound, admin.CodeNotFound, "GET", "/v1/workspaces/"+ws+"/admins/person:carol", "")
	a.expect(specInvalid(ctx), http.StatusBadRequest, admin.CodeInvalid, "GET", "/v1/workspaces/"+ws+"/admins/carol", "")

	// As an admin, guest may read the workspace and its audit, and give people roles.
	_, err = gc.GetWorkspace(ctx, ws)
	ok("guest reads the workspace as an admin", err)
	_, err = gc.ListAudit(ctx, keystore.AuditFilter{Workspace: ws}, admin.ListOptions{PageSize: 1})
	ok("guest reads the workspace's audit", err)
	_, err = gc.ListAudit(ctx, keystore.AuditFilter{}, admin.ListOptions{})
	wantAPIError(t, "guest reads every workspace's audit", err, http.StatusForbidden, admin.CodePermissionDenied)
	pr, err := gc.SetPersonRole(ctx, ws, "billing", "alice", keystore.RoleOwner)
	ok("guest gives alice a role", err)
	if pr.Person != "alice" || pr.Role != keystore.RoleOwner || pr.Project != "billing" {
		t.Fatalf("alice's role: %+v", pr)
	}
	_, err = c.SetPersonRole(specInvalid(ctx), ws, "billing", "alice", keystore.Role("boss"))
	wantAPIError(t, "an unknown role", err, http.StatusBadRequest, admin.CodeInvalid)
	people, err := c.ProjectPeople(ctx, ws, "billing")
	ok("the project's people", err)
	if len(people) != 1 || people[0].Person != "alice" {
		t.Fatalf("billing's people: %+v", people)
	}
	ok("remove alice's role", c.RemovePersonRole(ctx, ws, "billing", "alice"))
	wantAPIError(t, "remove alice's role twice", c.RemovePersonRole(ctx, ws, "billing", "alice"), http.StatusNotFound, admin.CodeNotFound)
	ok("remove guest", c.RemoveWorkspaceAdmin(ctx, ws, "sa:guest"))
	_, err = gc.GetWorkspace(ctx, ws)
	wantAPIError(t, "guest reads the workspace after removal", err, http.StatusForbidden, admin.CodePermissionDenied)
}
