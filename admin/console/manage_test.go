package console_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/sagate/sagate/keystore"
)

// TestManageInTheConsole: an operator creates a workspace and changes its limit, adds and
// removes a workspace admin, edits an account's description and owner, gives a person and
// a group a role in a project, changes it in place and removes it, and deletes an account; every
// form answers with a redirect, and the store holds what the pages say. A failed form is
// shown again with its message and changes nothing.
func TestManageInTheConsole(t *testing.T) {
	e := newEnv(t)
	must := mustOK(t)
	_, _, err := e.svc.CreateServiceAccount(e.op, "acme", keystore.CreateServiceAccountInput{Name: "bot"})
	must(err)
	_, _, err = e.svc.CreateServiceAccount(e.op, "acme", keystore.CreateServiceAccountInput{Name: "lead"})
	must(err)
	b := e.browser()
	b.signIn()
	b.get("/console/workspaces")
	redirect := func(path string, form url.Values, to string) string {
		t.Helper()
		resp, body := b.post(path, form)
		if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != to {
			t.Fatalf("POST %s: %d to %q: %s", path, resp.StatusCode, resp.Header.Get("Location"), body)
		}
		_, body = b.get(to)
		return body
	}
	failed := func(path string, form url.Values, status int, says string) {
		t.Helper()
		resp, body := b.post(path, form)
		if resp.StatusCode != status || !strings.Contains(body, says) {
			t.Fatalf("POST %s: %d, want %d saying %q", path, resp.StatusCode, status, says)
		}
	}

	// Workspaces and their limits.
	body := redirect("/console/workspaces", url.Values{"name": {"lab"}, "max_service_accounts": {"5"}}, "/console/workspaces")
	if !strings.Contains(body, "Workspace lab created") || !strings.Contains(body, `href="/console/w/lab/admins"`) {
		t.Fatal("the workspaces page does not show the new workspace")
	}
	redirect("/console/w/lab/limit", url.Values{"max_service_accounts": {"12"}}, "/console/workspaces")
	if ws, err := e.svc.GetWorkspace(e.op, "lab"); err != nil || ws.MaxServiceAccounts != 12 {
		t.Fatalf("lab after the limit form: %+v, %v", ws, err)
	}
	failed("/console/workspaces", url.Values{"name": {"lab"}}, http.StatusConflict, "already")
	failed("/console/w/lab/limit", url.Values{"max_service_accounts": {"many"}}, http.StatusBadRequest, "whole number")

	// Workspace admins.
	b.get("/console/w/acme/admins")
	body = redirect("/console/w/acme/admins", url.Values{"principal": {"person:alice"}}, "/console/w/acme/admins")
	redirect("/console/w/acme/admins", url.Values{"principal": {"lead"}}, "/console/w/acme/admins")
	if as, _, err := e.svc.ListWorkspaceAdmins(e.op, "acme", keystore.Page{}); err != nil || len(as) != 2 {
		t.Fatalf("acme's admins: %+v, %v", as, err)
	}
	if !strings.Contains(body, "alice is an admin of acme") {
		t.Errorf("the admins page does not say alice was added")
	}
	redirect("/console/w/acme/admins/remove", url.Values{"principal": {"person:alice"}}, "/console/w/acme/admins")
	if as, _, err := e.svc.ListWorkspaceAdmins(e.op, "acme", keystore.Page{}); err != nil || len(as) != 1 || as[0].Name != "lead@acme" {
		t.Fatalf("acme's admins after the removal: %+v, %v", as, err)
	}
	failed("/console/w/acme/admins", url.Values{"principal": {"ghost"}}, http.StatusNotFound, "not found")

	// An account's description and owner, changed in one form; a bad owner changes nothing.
	redirect("/console/w/acme/accounts/bot/edit", url.Values{"description": {"nightly"}, "owner": {"person:alice"}}, "/console/w/acme/accounts/bot")
	sa, err := e.svc.GetServiceAccount(e.op, "acme", "bot")
	if err != nil || sa.Description != "nightly" || sa.Owner != "person:alice" {
		t.Fatalf("bot after the edit: %+v, %v", sa, err)
	}
	failed("/console/w/acme/accounts/bot/edit", url.Values{"description": {"changed"}, "owner": {"ghost"}}, http.StatusNotFound, "not found")
	if sa, _ := e.svc.GetServiceAccount(e.op, "acme", "bot"); sa.Description != "nightly" || sa.Owner != "person:alice" {
		t.Fatalf("a failed edit changed bot: %+v", sa)
	}

	// People's roles in a project: given, changed in place, removed.
	redirect("/console/w/acme/projects/vision/people", url.Values{"person": {"carol"}, "role": {"viewer"}}, "/console/w/acme/projects/vision")
	body = redirect("/console/w/acme/projects/vision/people", url.Values{"person": {"carol"}, "role": {"owner"}}, "/console/w/acme/projects/vision")
	if !strings.Contains(body, `aria-label="role of carol"`) {
		t.Error("the project's page offers no role change for carol")
	}
	if pr, err := e.svc.ListPersonRoles(e.op, "acme", "vision"); err != nil || len(pr) != 1 || pr[0].Role != keystore.RoleOwner {
		t.Fatalf("vision's people: %+v, %v", pr, err)
	}
	redirect("/console/w/acme/projects/vision/people/remove", url.Values{"person": {"carol"}}, "/console/w/acme/projects/vision")
	if pr, err := e.svc.ListPersonRoles(e.op, "acme", "vision"); err != nil || len(pr) != 0 {
		t.Fatalf("vision's people after the removal: %+v, %v", pr, err)
	}

	// An account's role in a project, changed in place from the project's page.
	redirect("/console/w/acme/projects/vision/assign", url.Values{"account": {"lead"}, "role": {"viewer"}}, "/console/w/acme/projects/vision")
	lead, err := e.svc.GetServiceAccount(e.op, "acme", "lead")
	must(err)
	body = redirect("/console/w/acme/projects/vision/assign", url.Values{"account": {lead.ID}, "role": {"contributor"}}, "/console/w/acme/projects/vision")
	if !strings.Contains(body, `aria-label="role of lead@acme"`) {
		t.Error("the project's page offers no role change for the account")
	}
	if gs, _, err := e.svc.ListGrants(e.op, "acme", "vision", keystore.Page{}); err != nil || len(gs) != 1 || gs[0].Role != keystore.RoleContributor {
		t.Fatalf("vision's accounts after the change: %+v, %v", gs, err)
	}

	// A group's role in a project: given, changed in place, removed, from the project's page.
	_, err = e.svc.CreateGroup(e.op, "acme", "ops", "")
	must(err)
	redirect("/console/w/acme/projects/vision/groups", url.Values{"group": {"ops"}, "role": {"viewer"}}, "/console/w/acme/projects/vision")
	body = redirect("/console/w/acme/projects/vision/groups", url.Values{"group": {"ops"}, "role": {"contributor"}}, "/console/w/acme/projects/vision")
	if !strings.Contains(body, `aria-label="role of group ops"`) {
		t.Error("the project's page offers no role change for the group")
	}
	if gs, err := e.svc.ListProjectGroupGrants(e.op, "acme", "vision"); err != nil || len(gs) != 1 || gs[0].Role != keystore.RoleContributor {
		t.Fatalf("vision's groups: %+v, %v", gs, err)
	}
	failed("/console/w/acme/projects/vision/groups", url.Values{"group": {"ghost"}, "role": {"viewer"}}, http.StatusNotFound, "not found")
	redirect("/console/w/acme/projects/vision/groups/remove", url.Values{"group": {"ops"}}, "/console/w/acme/projects/vision")
	if gs, err := e.svc.ListProjectGroupGrants(e.op, "acme", "vision"); err != nil || len(gs) != 0 {
		t.Fatalf("vision's groups after the removal: %+v, %v", gs, err)
	}

	// Deleting an account: its page offers it behind a confirmation.
	if _, body := b.get("/console/w/acme/accounts/bot"); !strings.Contains(body, `href="/console/w/acme/accounts/bot/confirm/delete"`) {
		t.Fatal("the account's page does not offer Delete")
	}
	if _, body := b.get("/console/w/acme/accounts/bot/confirm/delete"); !strings.Contains(body, "Delete bot@acme?") {
		t.Fatal("no confirmation of the deletion")
	}
	redirect("/console/w/acme/accounts/bot/delete", nil, "/console/w/acme/accounts")
	if _, err := e.svc.GetServiceAccount(e.op, "acme", "bot"); keystore.KindOf(err) != keystore.KindNotFound {
		t.Fatalf("bot after its deletion: %v", err)
	}
}

// TestManageOffersOnlyWhatCanSucceed: a project owner who administers nothing, signed in
// with its account's key, is offered on its own account's page only what it may do (rotate
// and revoke its keys): no Edit, Delete, Deactivate, Revoke all or Create key;
// nor any form on the workspace's admins page, and the forms sent anyway are refused and
// change nothing.
func TestManageOffersOnlyWhatCanSucceed(t *testing.T) {
	var svc *keystore.Service
	e := newEnv(t, withKeys(&svc))
	svc = e.svc
	must := mustOK(t)
	_, lead, err := e.svc.CreateServiceAccount(e.op, "acme", keystore.CreateServiceAccountInput{Name: "lead", CreateKey: true})
	must(err)
	_, err = e.svc.SetGrant(e.op, "acme", "p1", "lead", keystore.RoleOwner)
	must(err)
	b := e.browser()
	b.signInWith(lead.Key)
	resp, body := b.get("/console/w/acme/accounts/lead")
	if resp.StatusCode != http.StatusOK || !strings.Contains(body, "Rotate…") {
		t.Fatalf("its own account's page: %d, or no Rotate (an account rotates its own keys)", resp.StatusCode)
	}
	for _, refused := range []string{"/confirm/delete", "/lead/edit", "/confirm/deactivate", "/confirm/revoke-all", "/deactivate\"", ">Create key<"} {
		if strings.Contains(body, refused) {
			t.Errorf("its own account's page offers %s, which the Service refuses it", refused)
		}
	}
	resp, body = b.get("/console/w/acme/admins")
	if resp.StatusCode != http.StatusForbidden || strings.Contains(body, "<form method=\"post\" action=\"/console/w/acme/admins") {
		t.Fatalf("the admins page: %d, with a form: %v", resp.StatusCode, strings.Contains(body, "/console/w/acme/admins\""))
	}
	if resp, _ := b.post("/console/w/acme/admins", url.Values{"principal": {"lead"}}); resp.StatusCode != http.StatusForbidden {
		t.Errorf("adding itself as an admin: %d", resp.StatusCode)
	}
	if resp, _ := b.post("/console/w/acme/accounts/lead/edit", url.Values{"description": {"mine"}, "owner": {""}}); resp.StatusCode != http.StatusForbidden {
		t.Errorf("editing itself: %d", resp.StatusCode)
	}
	if resp, _ := b.post("/console/workspaces", url.Values{"name": {"lab"}}); resp.StatusCode != http.StatusForbidden {
		t.Errorf("creating a workspace: %d", resp.StatusCode)
	}
	if as, _, err := e.svc.ListWorkspaceAdmins(e.op, "acme", keystore.Page{}); err != nil || len(as) != 0 {
		t.Fatalf("acme's admins after the refusals: %+v, %v", as, err)
	}
	if sa, _ := e.svc.GetServiceAccount(e.op, "acme", "lead"); sa.Description != "" {
		t.Fatalf("lead after the refused edit: %+v", sa)
	}
	if _, err := e.svc.GetWorkspace(e.op, "lab"); keystore.KindOf(err) != keystore.KindNotFound {
		t.Fatalf("lab after the refused creation: %v", err)
	}
}
