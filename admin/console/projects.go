package console

import (
	"net/http"
	"strings"

	"github.com/sagate/sagate/keystore"
)

// The project page: who has which role in one project, for its owners and the admins
// of its workspace: the service accounts, and the people the authenticating proxy
// names. Its forms assign and unassign service accounts there; people's roles are only
// shown (they are given with the API or sagate project assign --person). The Service
// decides, per call, whether the principal may.

// projectData is a project's page.
type projectData struct {
	Workspace string
	Project   string
	Grants    []keystore.Grant // grants on the project and on "*", by account
	NextURL   string
	// FirstPage: the people's roles are read and shown with the first page of grants only.
	FirstPage bool
	// People are the people's roles in the project and on "*", by person, at most
	// keystore.MaxPageSize of them (PeopleCapped: there may be more).
	People       []keystore.PersonRole
	PeopleCapped bool
	// Groups are the groups' grants on the project and on "*", by group (first page only).
	Groups  []keystore.GroupGrant
	Refused bool // the principal may not read the project: no form is offered
}

// openProject answers the overview's "open a project" form with the project's page.
func (c *Console) openProject(w http.ResponseWriter, r *http.Request, q *req) {
	http.Redirect(w, r, pathOf("w", r.PathValue("ws"), "projects", strings.TrimSpace(r.URL.Query().Get("name"))), http.StatusSeeOther)
}

func (c *Console) projectPage(w http.ResponseWriter, r *http.Request, q *req) {
	c.showProject(w, r, q, http.StatusOK, nil, nil)
}

// showProject renders a project's page; errs and form show a failed form again. When
// the principal may not read the project, the page says why and offers no form. As the
// API's list of a project's grants does, the first page also shows the people's roles:
// the Service reads them under the same rule as the grants.
func (c *Console) showProject(w http.ResponseWriter, r *http.Request, q *req, status int, errs map[string]string, form map[string][]string) {
	ws, project := r.PathValue("ws"), r.PathValue("project")
	token := r.URL.Query().Get("page")
	gs, next, err := c.cfg.Service.ListGrants(r.Context(), ws, project, keystore.Page{Size: c.cfg.PageSize, Token: token})
	d := projectData{Workspace: ws, Project: project, Grants: gs, FirstPage: token == ""}
	if err == nil && d.FirstPage {
		d.People, err = c.cfg.Service.ListPersonRoles(r.Context(), ws, project)
		d.PeopleCapped = len(d.People) >= keystore.MaxPageSize
		if err == nil {
			d.Groups, err = c.cfg.Service.ListProjectGroupGrants(r.Context(), ws, project)
		}
	}
	if err != nil {
		d.Refused = true
		if errs == nil { // else the failed form's own message says it
			msg, st := c.describe(r, err)
			errs, status = map[string]string{"project": msg}, st
		}
	}
	if next != "" {
		d.NextURL = withQuery(pathOf("w", ws, "projects", project), "page", next)
	}
	c.render(w, q, status, "project", view{Title: "Project " + project + " of " + ws, Data: d, Errors: errs, Form: form})
}

// projectDone leaves msg for the project's page and redirects there.
func (c *Console) projectDone(w http.ResponseWriter, r *http.Request, q *req, msg string) {
	c.sessions.setFlash(q.sess.id, msg)
	http.Redirect(w, r, pathOf("w", r.PathValue("ws"), "projects", r.PathValue("project")), http.StatusSeeOther)
}

// assignInProject gives an account (by name, full name or id) a role in the project.
func (c *Console) assignInProject(w http.ResponseWriter, r *http.Request, q *req) {
	f := r.PostForm
	account := strings.TrimSpace(f.Get("account"))
	role, err := keystore.ParseRole(f.Get("role"))
	var g keystore.Grant
	if err == nil {
		g, err = c.cfg.Service.SetGrant(r.Context(), r.PathValue("ws"), r.PathValue("project"), account, role)
	}
	if err != nil {
		msg, status := c.describe(r, err)
		c.showProject(w, r, q, status, map[string]string{"assign": msg}, f)
		return
	}
	c.projectDone(w, r, q, g.ServiceAccount+" is now "+string(g.Role)+" of project "+g.Project+".")
}

// unassignInProject removes an account's grant on the project.
func (c *Console) unassignInProject(w http.ResponseWriter, r *http.Request, q *req) {
	account := r.PostForm.Get("account")
	project := r.PathValue("project")
	if err := c.cfg.Service.RemoveGrant(r.Context(), r.PathValue("ws"), project, account); err != nil {
		msg, status := c.describe(r, err)
		c.showProject(w, r, q, status, map[string]string{"grants": msg}, nil)
		return
	}
	c.projectDone(w, r, q, "The account no longer has a role in project "+project+".")
}
