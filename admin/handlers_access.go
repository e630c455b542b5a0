package admin

import (
	"net/http"

	"github.com/sagate/sagate/keystore"
)

// WhoAmI is the answer of GET /v1/whoami: the principal the request was made as.
type WhoAmI struct {
	// Principal is "operator:NAME", "sa:ID" or "person:NAME", as the audit trail names it.
	Principal string                 `json:"principal"`
	Kind      keystore.PrincipalKind `json:"kind"`
	Name      string                 `json:"name"`
	// ID, Workspace, FullName (name@workspace), KeyID and KeyLast6 describe a service account.
	ID        string `json:"id,omitempty"`
	Workspace string `json:"workspace,omitempty"`
	FullName  string `json:"full_name,omitempty"`
	KeyID     string `json:"key_id,omitempty"`
	KeyLast6  string `json:"key_last6,omitempty"`
	// Via is the address of the proxy a person's name came through.
	Via string `json:"via,omitempty"`
}

// SetPersonRoleRequest is the body of PUT /v1/workspaces/{ws}/projects/{project}/people/{name}.
type SetPersonRoleRequest struct {
	Role string `json:"role"`
}

// GrantList is the answer of GET …/projects/{project}/service-accounts: a page of the
// accounts' grants and, on the first page, the people's roles and the groups' grants
// in the project (on it and on "*").
type GrantList struct {
	Items         []keystore.Grant      `json:"items"`
	NextPageToken string                `json:"next_page_token"`
	People        []keystore.PersonRole `json:"people,omitempty"`
	Groups        []keystore.GroupGrant `json:"groups,omitempty"`
}

// AccountGrantList is a page of an account's grants; the first page also carries the
// grants of the groups it belongs to.
type AccountGrantList struct {
	Items         []keystore.Grant      `json:"items"`
	NextPageToken string                `json:"next_page_token"`
	Groups        []keystore.GroupGrant `json:"groups,omitempty"`
}

// accessRoutes registers the routes of principals, workspace admins and people's roles.
func (s *Server) accessRoutes() {
	const (
		ws     = "/v1/workspaces/{ws}"
		admins = ws + "/admins"
		people = ws + "/projects/{project}/people/{name}"
	)
	s.handle("GET /v1/whoami", s.whoami)
	s.handle("GET "+ws, s.getWorkspace)
	s.handle("GET "+admins, s.listWorkspaceAdmins)
	s.handle("GET "+admins+"/{principal}", s.getWorkspaceAdmin)
	s.handle("PUT "+admins+"/{principal}", s.setWorkspaceAdmin)
	s.handle("DELETE "+admins+"/{principal}", s.removeWorkspaceAdmin)
	s.handle("PUT "+people, s.setPersonRole)
	s.handle("DELETE "+people, s.removePersonRole)
}

// whoami: GET /v1/whoami → 200 WhoAmI.
func (s *Server) whoami(w http.ResponseWriter, r *http.Request) error {
	p, err := s.svc.WhoAmI(r.Context())
	if err != nil {
		return err
	}
	out := WhoAmI{Principal: p.Ref(), Kind: p.Kind, Name: p.Name, ID: p.ID, Workspace: p.Workspace,
		KeyID: p.KeyID, KeyLast6: p.KeyLast6, Via: p.Via}
	if p.Kind == keystore.PrincipalServiceAccount {
		out.FullName = p.FullName()
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

// getWorkspace: GET /v1/workspaces/{ws} → 200 the workspace.
func (s *Server) getWorkspace(w http.ResponseWriter, r *http.Request) error {
	ws, err := s.svc.GetWorkspace(r.Context(), r.PathValue("ws"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, ws)
	return nil
}

// listWorkspaceAdmins: GET /v1/workspaces/{ws}/admins → {items, next_page_token}.
func (s *Server) listWorkspaceAdmins(w http.ResponseWriter, r *http.Request) error {
	p, err := pageOf(r)
	if err != nil {
		return err
	}
	items, next, err := s.svc.ListWorkspaceAdmins(r.Context(), r.PathValue("ws"), p)
	if err != nil {
		return err
	}
	writeList(w, items, next)
	return nil
}

// getWorkspaceAdmin: GET /v1/workspaces/{ws}/admins/{principal} → 200 the admin, or 404.
func (s *Server) getWorkspaceAdmin(w http.ResponseWriter, r *http.Request) error {
	a, err := s.svc.GetWorkspaceAdmin(r.Context(), r.PathValue("ws"), r.PathValue("principal"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, a)
	return nil
}

// setWorkspaceAdmin: PUT /v1/workspaces/{ws}/admins/{principal} → 201 (new) or 200 the admin.
func (s *Server) setWorkspaceAdmin(w http.ResponseWriter, r *http.Request) error {
	if err := s.decodeBody(w, r, &struct{}{}, true); err != nil {
		return err
	}
	a, created, err := s.svc.SetWorkspaceAdmin(r.Context(), r.PathValue("ws"), r.PathValue("principal"))
	if err != nil {
		return err
	}
	status := http.StatusOK
	if created {
		status = http.StatusCreated
	}
	writeJSON(w, status, a)
	return nil
}

// removeWorkspaceAdmin: DELETE /v1/workspaces/{ws}/admins/{principal} → 204.
func (s *Server) removeWorkspaceAdmin(w http.ResponseWriter, r *http.Request) error {
	if err := s.svc.RemoveWorkspaceAdmin(r.Context(), r.PathValue("ws"), r.PathValue("principal")); err != nil {
		return err
	}
	noContent(w)
	return nil
}

// setPersonRole: PUT /v1/workspaces/{ws}/projects/{project}/people/{name} {role} → 200 the role.
func (s *Server) setPersonRole(w http.ResponseWriter, r *http.Request) error {
	var in SetPersonRoleRequest
	if err := s.decodeBody(w, r, &in, false); err != nil {
		return err
	}
	role, err := keystore.ParseRole(in.Role)
	if err != nil {
		return err
	}
	pr, err := s.svc.SetPersonRole(r.Context(), r.PathValue("ws"), r.PathValue("project"), r.PathValue("name"), role)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, pr)
	return nil
}

// removePersonRole: DELETE /v1/workspaces/{ws}/projects/{project}/people/{name} → 204.
func (s *Server) removePersonRole(w http.ResponseWriter, r *http.Request) error {
	if err := s.svc.RemovePersonRole(r.Context(), r.PathValue("ws"), r.PathValue("project"), r.PathValue("name")); err != nil {
		return err
	}
	noContent(w)
	return nil
}
