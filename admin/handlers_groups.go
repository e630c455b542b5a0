package admin

import (
	"net/http"

	"github.com/sagate/sagate/keystore"
)

// CreateGroupRequest is the body of POST /v1/workspaces/{ws}/groups.
type CreateGroupRequest struct {
	Name        string `json:"name"`
	Description string `json:"description,omitempty"`
}

// UpdateGroupRequest is the body of PATCH /v1/workspaces/{ws}/groups/{group}; an
// absent field is unchanged.
type UpdateGroupRequest struct {
	Description *string `json:"description,omitempty"`
}

// SetGroupGrantRequest is the body of PUT /v1/workspaces/{ws}/projects/{project}/groups/{group}.
type SetGroupGrantRequest struct {
	Role string `json:"role"`
}

// groupRoutes registers the routes of groups, their members and their grants, and the
// list of projects.
func (s *Server) groupRoutes() {
	const (
		groups = "/v1/workspaces/{ws}/groups"
		group  = groups + "/{group}"
		grant  = "/v1/workspaces/{ws}/projects/{project}/groups/{group}"
	)
	s.handle("POST "+groups, s.createGroup)
	s.handle("GET "+groups, s.listGroups)
	s.handle("GET "+group, s.getGroup)
	s.handle("PATCH "+group, s.updateGroup)
	s.handle("DELETE "+group, s.deleteGroup)
	s.handle("GET "+group+"/members", s.listGroupMembers)
	s.handle("PUT "+group+"/members/{principal}", s.addGroupMember)
	s.handle("DELETE "+group+"/members/{principal}", s.removeGroupMember)
	s.handle("PUT "+grant, s.setGroupGrant)
	s.handle("DELETE "+grant, s.removeGroupGrant)
	s.handle("GET /v1/workspaces/{ws}/projects", s.listProjects)
}

// createGroup: POST /v1/workspaces/{ws}/groups {name, description} → 201 the group.
func (s *Server) createGroup(w http.ResponseWriter, r *http.Request) error {
	var in CreateGroupRequest
	if err := s.decodeBody(w, r, &in, false); err != nil {
		return err
	}
	g, err := s.svc.CreateGroup(r.Context(), r.PathValue("ws"), in.Name, in.Description)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, g)
	return nil
}

// listGroups: GET /v1/workspaces/{ws}/groups → {items, next_page_token}.
func (s *Server) listGroups(w http.ResponseWriter, r *http.Request) error {
	p, err := pageOf(r)
	if err != nil {
		return err
	}
	items, next, err := s.svc.ListGroups(r.Context(), r.PathValue("ws"), p)
	if err != nil {
		return err
	}
	writeList(w, items, next)
	return nil
}

// getGroup: GET /v1/workspaces/{ws}/groups/{group} → 200 the group with its grants.
func (s *Server) getGroup(w http.ResponseWriter, r *http.Request) error {
	d, err := s.svc.GetGroup(r.Context(), r.PathValue("ws"), r.PathValue("group"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, d)
	return nil
}

// updateGroup: PATCH /v1/workspaces/{ws}/groups/{group} {description} → 200 the group.
func (s *Server) updateGroup(w http.ResponseWriter, r *http.Request) error {
	var in UpdateGroupRequest
	if err := s.decodeBody(w, r, &in, false); err != nil {
		return err
	}
	g, err := s.svc.UpdateGroup(r.Context(), r.PathValue("ws"), r.PathValue("group"), in.Description)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, g)
	return nil
}

// deleteGroup: DELETE /v1/workspaces/{ws}/groups/{group} → 204.
func (s *Server) deleteGroup(w http.ResponseWriter, r *http.Request) error {
	if err := s.svc.DeleteGroup(r.Context(), r.PathValue("ws"), r.PathValue("group")); err != nil {
		return err
	}
	noContent(w)
	return nil
}

// listGroupMembers: GET /v1/workspaces/{ws}/groups/{group}/members → {items, next_page_token}.
func (s *Server) listGroupMembers(w http.ResponseWriter, r *http.Request) error {
	p, err := pageOf(r)
	if err != nil {
		return err
	}
	items, next, err := s.svc.ListGroupMembers(r.Context(), r.PathValue("ws"), r.PathValue("group"), p)
	if err != nil {
		return err
	}
	writeList(w, items, next)
	return nil
}

// addGroupMember: PUT /v1/workspaces/{ws}/groups/{group}/members/{principal} → 201 (new)
// or 200 the member.
func (s *Server) addGroupMember(w http.ResponseWriter, r *http.Request) error {
	if err := s.decodeBody(w, r, &struct{}{}, true); err != nil {
		return err
	}
	m, created, err := s.svc.AddGroupMember(r.Context(), r.PathValue("ws"), r.PathValue("group"), r.PathValue("principal"))
	if err != nil {
		return err
	}
	status := http.StatusOK
	if created {
		status = http.StatusCreated
	}
	writeJSON(w, status, m)
	return nil
}

// removeGroupMember: DELETE /v1/workspaces/{ws}/groups/{group}/members/{principal} → 204.
func (s *Server) removeGroupMember(w http.ResponseWriter, r *http.Request) error {
	if err := s.svc.RemoveGroupMember(r.Context(), r.PathValue("ws"), r.PathValue("group"), r.PathValue("principal")); err != nil {
		return err
	}
	noContent(w)
	return nil
}

// setGroupGrant: PUT /v1/workspaces/{ws}/projects/{project}/groups/{group} {role} → 200 the grant.
func (s *Server) setGroupGrant(w http.ResponseWriter, r *http.Request) error {
	var in SetGroupGrantRequest
	if err := s.decodeBody(w, r, &in, false); err != nil {
		return err
	}
	role, err := keystore.ParseRole(in.Role)
	if err != nil {
		return err
	}
	g, err := s.svc.SetGroupGrant(r.Context(), r.PathValue("ws"), r.PathValue("project"), r.PathValue("group"), role)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, g)
	return nil
}

// removeGroupGrant: DELETE /v1/workspaces/{ws}/projects/{project}/groups/{group} → 204.
func (s *Server) removeGroupGrant(w http.ResponseWriter, r *http.Request) error {
	if err := s.svc.RemoveGroupGrant(r.Context(), r.PathValue("ws"), r.PathValue("project"), r.PathValue("group")); err != nil {
		return err
	}
	noContent(w)
	return nil
}
