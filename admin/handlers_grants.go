package admin

import (
	"net/http"

	"github.com/sagate/sagate/keystore"
)

// setGrant: PUT /v1/workspaces/{ws}/projects/{project}/service-accounts/{sa} {role} → 200 the grant.
func (s *Server) setGrant(w http.ResponseWriter, r *http.Request) error {
	var in SetGrantRequest
	if err := s.decodeBody(w, r, &in, false); err != nil {
		return err
	}
	role, err := keystore.ParseRole(in.Role)
	if err != nil {
		return err
	}
	g, err := s.svc.SetGrant(r.Context(), r.PathValue("ws"), r.PathValue("project"), r.PathValue("sa"), role)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, g)
	return nil
}

// removeGrant: DELETE /v1/workspaces/{ws}/projects/{project}/service-accounts/{sa} → 204.
func (s *Server) removeGrant(w http.ResponseWriter, r *http.Request) error {
	if err := s.svc.RemoveGrant(r.Context(), r.PathValue("ws"), r.PathValue("project"), r.PathValue("sa")); err != nil {
		return err
	}
	noContent(w)
	return nil
}

// listGrants: GET /v1/workspaces/{ws}/projects/{project}/service-accounts → {items,
// next_page_token, people, groups}: people's roles and groups' grants come with the first page.
func (s *Server) listGrants(w http.ResponseWriter, r *http.Request) error {
	p, err := pageOf(r)
	if err != nil {
		return err
	}
	ws, project := r.PathValue("ws"), r.PathValue("project")
	items, next, err := s.svc.ListGrants(r.Context(), ws, project, p)
	if err != nil {
		return err
	}
	out := GrantList{Items: items, NextPageToken: next}
	if out.Items == nil {
		out.Items = []keystore.Grant{}
	}
	if p.Token == "" {
		if out.People, err = s.svc.ListPersonRoles(r.Context(), ws, project); err != nil {
			return err
		}
		if out.Groups, err = s.svc.ListProjectGroupGrants(r.Context(), ws, project); err != nil {
			return err
		}
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

// listAccountGrants: GET /v1/workspaces/{ws}/service-accounts/{sa}/projects → {items,
// next_page_token, groups}: the account's grants by project, "*" first; the grants of its
// groups come with the first page.
func (s *Server) listAccountGrants(w http.ResponseWriter, r *http.Request) error {
	p, err := pageOf(r)
	if err != nil {
		return err
	}
	ws, sa := r.PathValue("ws"), r.PathValue("sa")
	items, next, err := s.svc.ListAccountGrants(r.Context(), ws, sa, p)
	if err != nil {
		return err
	}
	out := AccountGrantList{Items: items, NextPageToken: next}
	if out.Items == nil {
		out.Items = []keystore.Grant{}
	}
	if p.Token == "" {
		if out.Groups, err = s.svc.ListAccountGroupGrants(r.Context(), ws, sa); err != nil {
			return err
		}
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}
