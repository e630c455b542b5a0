package console

import (
	"net/http"
	"strconv"
	"strings"

	"github.com/sagate/sagate/keystore"
)

// The management forms beyond keys and grants: workspaces and their limits (operators),
// a workspace's admins, an account's description, owner and deletion, and people's and
// groups' roles in a project. As everywhere in the console, each form makes one Service call as the
// signed-in principal, which decides whether it may.

// adminsData is the admins page of a workspace.
type adminsData struct {
	Workspace string
	Admins    []keystore.WorkspaceAdmin
	NextURL   string
	Refused   bool // the list was refused: no form is offered
}

// principalRef reads a principal field: sa:…, person:…, or a bare name, an account's.
func principalRef(s string) string {
	s = strings.TrimSpace(s)
	if s != "" && !strings.Contains(s, ":") {
		return keystore.PrincipalRefSA + s
	}
	return s
}

// workspacesFailed shows the workspaces page again with err next to form.
func (c *Console) workspacesFailed(w http.ResponseWriter, r *http.Request, q *req, form string, err error) {
	msg, status := c.describe(r, err)
	c.showWorkspaces(w, r, q, status, map[string]string{form: msg}, r.PostForm)
}

// createWorkspace creates a workspace from the workspaces page's form (operators).
func (c *Console) createWorkspace(w http.ResponseWriter, r *http.Request, q *req) {
	f := r.PostForm
	limit, err := parseLimit(f.Get("max_service_accounts"))
	var ws keystore.Workspace
	if err == nil {
		ws, err = c.cfg.Service.CreateWorkspace(r.Context(), strings.TrimSpace(f.Get("name")), limit)
	}
	if err != nil {
		c.workspacesFailed(w, r, q, "create", err)
		return
	}
	c.sessions.setFlash(q.sess.id, "Workspace "+ws.Name+" created, for up to "+strconv.Itoa(ws.MaxServiceAccounts)+" accounts.")
	http.Redirect(w, r, pathOf("workspaces"), http.StatusSeeOther)
}

// setWorkspaceLimit changes a workspace's max_service_accounts (operators).
func (c *Console) setWorkspaceLimit(w http.ResponseWriter, r *http.Request, q *req) {
	limit, err := parseLimit(r.PostForm.Get("max_service_accounts"))
	var ws keystore.Workspace
	if err == nil {
		ws, err = c.cfg.Service.UpdateWorkspace(r.Context(), r.PathValue("ws"), &limit)
	}
	if err != nil {
		c.workspacesFailed(w, r, q, "limit", err)
		return
	}
	c.sessions.setFlash(q.sess.id, "Workspace "+ws.Name+" now holds up to "+strconv.Itoa(ws.MaxServiceAccounts)+" accounts.")
	http.Redirect(w, r, pathOf("workspaces"), http.StatusSeeOther)
}

// parseLimit reads an account limit; "" is 0, the Service's default. keystore checks its bounds.
func parseLimit(s string) (int, error) {
	if s = strings.TrimSpace(s); s == "" {
		return 0, nil
	}
	n, err := strconv.Atoi(s)
	if err != nil {
		return 0, keystore.Invalid("max_service_accounts", "must be a whole number")
	}
	return n, nil
}

func (c *Console) adminsPage(w http.ResponseWriter, r *http.Request, q *req) {
	c.showAdmins(w, r, q, http.StatusOK, nil, nil)
}

// showAdmins renders a workspace's admins page; errs and form show a failed form again.
func (c *Console) showAdmins(w http.ResponseWriter, r *http.Request, q *req, status int, errs map[string]string, form map[string][]string) {
	ws := r.PathValue("ws")
	as, next, err := c.cfg.Service.ListWorkspaceAdmins(r.Context(), ws, keystore.Page{Size: c.cfg.PageSize, Token: r.URL.Query().Get("page")})
	if err != nil && errs == nil {
		msg, st := c.describe(r, err)
		errs, status = map[string]string{"admins": msg}, st
	}
	d := adminsData{Workspace: ws, Admins: as, Refused: err != nil}
	if next != "" {
		d.NextURL = withQuery(pathOf("w", ws, "admins"), "page", next)
	}
	c.render(w, q, status, "admins", view{Title: "Admins of " + ws, Data: d, Errors: errs, Form: form})
}

// adminsDone leaves msg for the admins page and redirects there.
func (c *Console) adminsDone(w http.ResponseWriter, r *http.Request, q *req, msg string) {
	c.sessions.setFlash(q.sess.id, msg)
	http.Redirect(w, r, pathOf("w", r.PathValue("ws"), "admins"), http.StatusSeeOther)
}

func (c *Console) addAdmin(w http.ResponseWriter, r *http.Request, q *req) {
	a, _, err := c.cfg.Service.SetWorkspaceAdmin(r.Context(), r.PathValue("ws"), principalRef(r.PostForm.Get("principal")))
	if err != nil {
		msg, status := c.describe(r, err)
		c.showAdmins(w, r, q, status, map[string]string{"add": msg}, r.PostForm)
		return
	}
	c.adminsDone(w, r, q, a.Name+" is an admin of "+a.Workspace+".")
}

func (c *Console) removeAdmin(w http.ResponseWriter, r *http.Request, q *req) {
	ref := r.PostForm.Get("principal")
	if err := c.cfg.Service.RemoveWorkspaceAdmin(r.Context(), r.PathValue("ws"), ref); err != nil {
		msg, status := c.describe(r, err)
		c.showAdmins(w, r, q, status, map[string]string{"admins": msg}, nil)
		return
	}
	c.adminsDone(w, r, q, ref+" is no longer an admin.")
}

// editAccount changes an account's description and owner ("" for none) from its page.
func (c *Console) editAccount(w http.ResponseWriter, r *http.Request, q *req) {
	f := r.PostForm
	ws, ref := r.PathValue("ws"), r.PathValue("sa")
	desc := f.Get("description")
	err := keystore.ValidateDescription(desc) // checked before the owner changes, so a bad form changes nothing
	var sa keystore.ServiceAccount
	if err == nil {
		sa, err = c.cfg.Service.SetServiceAccountOwner(r.Context(), ws, ref, principalRef(f.Get("owner")))
	}
	if err == nil {
		sa, err = c.cfg.Service.UpdateServiceAccount(r.Context(), ws, sa.ID, &desc)
	}
	if err != nil {
		c.accountFailed(w, r, q, "edit", err)
		return
	}
	c.done(w, r, q, sa.Name, "Account "+sa.FullName+" updated.")
}

// deleteAccount deletes an account (after its confirmation page) and opens the workspace's accounts.
func (c *Console) deleteAccount(w http.ResponseWriter, r *http.Request, q *req) {
	ws, ref := r.PathValue("ws"), r.PathValue("sa")
	if err := c.cfg.Service.DeleteServiceAccount(r.Context(), ws, ref); err != nil {
		c.accountFailed(w, r, q, "state", err)
		return
	}
	c.sessions.setFlash(q.sess.id, "Account "+keystore.FullName(ref, ws)+" deleted: its keys are refused everywhere.")
	http.Redirect(w, r, pathOf("w", ws, "accounts"), http.StatusSeeOther)
}

// setPersonRole gives a person a role in the project, or changes it.
func (c *Console) setPersonRole(w http.ResponseWriter, r *http.Request, q *req) {
	f := r.PostForm
	person := strings.TrimPrefix(strings.TrimSpace(f.Get("person")), keystore.PrincipalRefPerson)
	role, err := keystore.ParseRole(f.Get("role"))
	var pr keystore.PersonRole
	if err == nil {
		pr, err = c.cfg.Service.SetPersonRole(r.Context(), r.PathValue("ws"), r.PathValue("project"), person, role)
	}
	if err != nil {
		msg, status := c.describe(r, err)
		c.showProject(w, r, q, status, map[string]string{"person": msg}, f)
		return
	}
	c.projectDone(w, r, q, pr.Person+" is now "+string(pr.Role)+" of project "+pr.Project+".")
}

// removePersonRole removes a person's role in the project.
func (c *Console) removePersonRole(w http.ResponseWriter, r *http.Request, q *req) {
	person, project := r.PostForm.Get("person"), r.PathValue("project")
	if err := c.cfg.Service.RemovePersonRole(r.Context(), r.PathValue("ws"), project, person); err != nil {
		msg, status := c.describe(r, err)
		c.showProject(w, r, q, status, map[string]string{"people": msg}, nil)
		return
	}
	c.projectDone(w, r, q, person+" no longer has a role in project "+project+".")
}

// setProjectGroup gives a group a role in the project, or changes it.
func (c *Console) setProjectGroup(w http.ResponseWriter, r *http.Request, q *req) {
	f := r.PostForm
	role, err := keystore.ParseRole(f.Get("role"))
	var gg keystore.GroupGrant
	if err == nil {
		gg, err = c.cfg.Service.SetGroupGrant(r.Context(), r.PathValue("ws"), r.PathValue("project"), strings.TrimSpace(f.Get("group")), role)
	}
	if err != nil {
		msg, status := c.describe(r, err)
		c.showProject(w, r, q, status, map[string]string{"group": msg}, f)
		return
	}
	c.projectDone(w, r, q, "Group "+gg.Group+" is now "+string(gg.Role)+" of project "+gg.Project+".")
}

// removeProjectGroup removes a group's role in the project.
func (c *Console) removeProjectGroup(w http.ResponseWriter, r *http.Request, q *req) {
	group, project := r.PostForm.Get("group"), r.PathValue("project")
	if err := c.cfg.Service.RemoveGroupGrant(r.Context(), r.PathValue("ws"), project, group); err != nil {
		msg, status := c.describe(r, err)
		c.showProject(w, r, q, status, map[string]string{"groups": msg}, nil)
		return
	}
	c.projectDone(w, r, q, "Group "+group+" no longer has a role in project "+project+".")
}

// manageRoutes registers the management forms; ws is the workspace's prefix, sa an account's.
func (c *Console) manageRoutes(ws, sa string) {
	c.mux.HandleFunc("POST "+Path+"workspaces", c.auth(c.createWorkspace))
	c.mux.HandleFunc("POST "+ws+"/limit", c.auth(c.setWorkspaceLimit))
	c.mux.HandleFunc("GET "+ws+"/admins", c.auth(c.adminsPage))
	c.mux.HandleFunc("POST "+ws+"/admins", c.auth(c.addAdmin))
	c.mux.HandleFunc("POST "+ws+"/admins/remove", c.auth(c.removeAdmin))
	c.mux.HandleFunc("POST "+sa+"/edit", c.auth(c.editAccount))
	c.mux.HandleFunc("POST "+sa+"/delete", c.auth(c.deleteAccount))
	c.mux.HandleFunc("POST "+ws+"/projects/{project}/people", c.auth(c.setPersonRole))
	c.mux.HandleFunc("POST "+ws+"/projects/{project}/people/remove", c.auth(c.removePersonRole))
	c.mux.HandleFunc("POST "+ws+"/projects/{project}/groups", c.auth(c.setProjectGroup))
	c.mux.HandleFunc("POST "+ws+"/projects/{project}/groups/remove", c.auth(c.removeProjectGroup))
}
