package console

import (
	"net/http"
	"strings"

	"github.com/sagate/sagate/keystore"
)

// The groups pages of a workspace, for its admins (and operators): the groups with their
// member counts and a form to create one; one group's grants and members with forms to
// add and remove them. The projects page lists every project with a grant and links to
// each project's page. The Service decides, per call, whether the principal may.

// groupsData is the groups page of a workspace.
type groupsData struct {
	Workspace string
	Groups    []keystore.Group
	NextURL   string
}

// groupData is one group's page.
type groupData struct {
	Workspace string
	Group     keystore.GroupDetail
	Members   []keystore.GroupMember
	NextURL   string
	Refused   bool
}

// projectsData is the projects page of a workspace.
type projectsData struct {
	Workspace string
	Projects  []keystore.ProjectSummary
	NextURL   string
}

func (c *Console) groupsPage(w http.ResponseWriter, r *http.Request, q *req) {
	c.showGroups(w, r, q, http.StatusOK, nil, nil)
}

// showGroups renders the groups page; errs and form show a failed form again.
func (c *Console) showGroups(w http.ResponseWriter, r *http.Request, q *req, status int, errs map[string]string, form map[string][]string) {
	ws := r.PathValue("ws")
	token := r.URL.Query().Get("page")
	gs, next, err := c.cfg.Service.ListGroups(r.Context(), ws, keystore.Page{Size: c.cfg.PageSize, Token: token})
	if err != nil && errs == nil {
		msg, st := c.describe(r, err)
		errs, status = map[string]string{"groups": msg}, st
	}
	d := groupsData{Workspace: ws, Groups: gs}
	if next != "" {
		d.NextURL = withQuery(pathOf("w", ws, "groups"), "page", next)
	}
	c.render(w, q, status, "groups", view{Title: "Groups of " + ws, Data: d, Errors: errs, Form: form})
}

// createGroup creates a group from the groups page's form and opens its page.
func (c *Console) createGroup(w http.ResponseWriter, r *http.Request, q *req) {
	f := r.PostForm
	ws := r.PathValue("ws")
	g, err := c.cfg.Service.CreateGroup(r.Context(), ws, strings.TrimSpace(f.Get("name")), f.Get("description"))
	if err != nil {
		msg, status := c.describe(r, err)
		c.showGroups(w, r, q, status, map[string]string{"create": msg}, f)
		return
	}
	c.sessions.setFlash(q.sess.id, "Group "+g.Name+" created.")
	http.Redirect(w, r, pathOf("w", ws, "groups", g.Name), http.StatusSeeOther)
}

func (c *Console) groupPage(w http.ResponseWriter, r *http.Request, q *req) {
	c.showGroup(w, r, q, http.StatusOK, nil, nil)
}

// showGroup renders one group's page; errs and form show a failed form again.
func (c *Console) showGroup(w http.ResponseWriter, r *http.Request, q *req, status int, errs map[string]string, form map[string][]string) {
	ws, name := r.PathValue("ws"), r.PathValue("group")
	token := r.URL.Query().Get("page")
	d := groupData{Workspace: ws}
	var (
		next string
		err  error
	)
	if d.Group, err = c.cfg.Service.GetGroup(r.Context(), ws, name); err == nil {
		d.Members, next, err = c.cfg.Service.ListGroupMembers(r.Context(), ws, name, keystore.Page{Size: c.cfg.PageSize, Token: token})
	}
	if err != nil {
		d.Refused = true
		if errs == nil {
			msg, st := c.describe(r, err)
			errs, status = map[string]string{"group": msg}, st
		}
	}
	if next != "" {
		d.NextURL = withQuery(pathOf("w", ws, "groups", name), "page", next)
	}
	c.render(w, q, status, "group", view{Title: "Group " + name + " of " + ws, Data: d, Errors: errs, Form: form})
}

// groupDone leaves msg for the group's page and redirects there.
func (c *Console) groupDone(w http.ResponseWriter, r *http.Request, q *req, msg string) {
	c.sessions.setFlash(q.sess.id, msg)
	http.Redirect(w, r, pathOf("w", r.PathValue("ws"), "groups", r.PathValue("group")), http.StatusSeeOther)
}

// groupFailed shows the group's page again with err next to the form named form.
func (c *Console) groupFailed(w http.ResponseWriter, r *http.Request, q *req, form string, err error) {
	msg, status := c.describe(r, err)
	c.showGroup(w, r, q, status, map[string]string{form: msg}, r.PostForm)
}

// addGroupMember adds sa:NAME, sa:ID, sa:NAME@WS or person:NAME; a bare name is an account's.
func (c *Console) addGroupMember(w http.ResponseWriter, r *http.Request, q *req) {
	ref := strings.TrimSpace(r.PostForm.Get("member"))
	if !strings.Contains(ref, ":") {
		ref = keystore.PrincipalRefSA + ref
	}
	m, _, err := c.cfg.Service.AddGroupMember(r.Context(), r.PathValue("ws"), r.PathValue("group"), ref)
	if err != nil {
		c.groupFailed(w, r, q, "member", err)
		return
	}
	c.groupDone(w, r, q, m.Name+" is a member of "+m.Group+".")
}

func (c *Console) removeGroupMember(w http.ResponseWriter, r *http.Request, q *req) {
	ref := r.PostForm.Get("member")
	if err := c.cfg.Service.RemoveGroupMember(r.Context(), r.PathValue("ws"), r.PathValue("group"), ref); err != nil {
		c.groupFailed(w, r, q, "members", err)
		return
	}
	c.groupDone(w, r, q, ref+" is no longer a member.")
}

func (c *Console) setGroupGrant(w http.ResponseWriter, r *http.Request, q *req) {
	f := r.PostForm
	role, err := keystore.ParseRole(f.Get("role"))
	var gg keystore.GroupGrant
	if err == nil {
		gg, err = c.cfg.Service.SetGroupGrant(r.Context(), r.PathValue("ws"), strings.TrimSpace(f.Get("project")), r.PathValue("group"), role)
	}
	if err != nil {
		c.groupFailed(w, r, q, "grant", err)
		return
	}
	c.groupDone(w, r, q, "Group "+gg.Group+" is now "+string(gg.Role)+" of project "+gg.Project+".")
}

func (c *Console) removeGroupGrant(w http.ResponseWriter, r *http.Request, q *req) {
	project := r.PostForm.Get("project")
	if err := c.cfg.Service.RemoveGroupGrant(r.Context(), r.PathValue("ws"), project, r.PathValue("group")); err != nil {
		c.groupFailed(w, r, q, "grants", err)
		return
	}
	c.groupDone(w, r, q, "The group no longer has a role in project "+project+".")
}

func (c *Console) deleteGroup(w http.ResponseWriter, r *http.Request, q *req) {
	ws, name := r.PathValue("ws"), r.PathValue("group")
	if err := c.cfg.Service.DeleteGroup(r.Context(), ws, name); err != nil {
		c.groupFailed(w, r, q, "delete", err)
		return
	}
	c.sessions.setFlash(q.sess.id, "Group "+name+" deleted.")
	http.Redirect(w, r, pathOf("w", ws, "groups"), http.StatusSeeOther)
}

// projectsPage lists the workspace's projects with a grant, each linked to its page.
func (c *Console) projectsPage(w http.ResponseWriter, r *http.Request, q *req) {
	ws := r.PathValue("ws")
	token := r.URL.Query().Get("page")
	ps, next, err := c.cfg.Service.ListProjects(r.Context(), ws, keystore.Page{Size: c.cfg.PageSize, Token: token})
	var errs map[string]string
	status := http.StatusOK
	if err != nil {
		msg, st := c.describe(r, err)
		errs, status = map[string]string{"projects": msg}, st
	}
	d := projectsData{Workspace: ws, Projects: ps}
	if next != "" {
		d.NextURL = withQuery(pathOf("w", ws, "projects"), "page", next)
	}
	c.render(w, q, status, "projects", view{Title: "Projects of " + ws, Data: d, Errors: errs})
}

// groupRoutes registers the groups and projects pages under ws, the workspace's prefix.
func (c *Console) groupRoutes(ws string) {
	group := ws + "/groups/{group}"
	c.mux.HandleFunc("GET "+ws+"/groups", c.auth(c.groupsPage))
	c.mux.HandleFunc("POST "+ws+"/groups", c.auth(c.createGroup))
	c.mux.HandleFunc("GET "+group, c.auth(c.groupPage))
	c.mux.HandleFunc("POST "+group+"/members", c.auth(c.addGroupMember))
	c.mux.HandleFunc("POST "+group+"/members/remove", c.auth(c.removeGroupMember))
	c.mux.HandleFunc("POST "+group+"/grants", c.auth(c.setGroupGrant))
	c.mux.HandleFunc("POST "+group+"/grants/remove", c.auth(c.removeGroupGrant))
	c.mux.HandleFunc("POST "+group+"/delete", c.auth(c.deleteGroup))
	c.mux.HandleFunc("GET "+ws+"/projects", c.auth(c.projectsPage))
}
