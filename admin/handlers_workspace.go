package admin

import (
	"net/http"
	"net/url"
	"time"

	"github.com/sagate/sagate/keystore"
)

// createWorkspace: POST /v1/workspaces {name, max_service_accounts?} → 201 the workspace.
func (s *Server) createWorkspace(w http.ResponseWriter, r *http.Request) error {
	var in CreateWorkspaceRequest
	if err := s.decodeBody(w, r, &in, false); err != nil {
		return err
	}
	ws, err := s.svc.CreateWorkspace(r.Context(), in.Name, in.MaxServiceAccounts)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, ws)
	return nil
}

// listWorkspaces: GET /v1/workspaces → {items, next_page_token}.
func (s *Server) listWorkspaces(w http.ResponseWriter, r *http.Request) error {
	p, err := pageOf(r)
	if err != nil {
		return err
	}
	items, next, err := s.svc.ListWorkspaces(r.Context(), p)
	if err != nil {
		return err
	}
	writeList(w, items, next)
	return nil
}

// updateWorkspace: PATCH /v1/workspaces/{ws} {max_service_accounts?} → 200 the workspace
// (operators only).
func (s *Server) updateWorkspace(w http.ResponseWriter, r *http.Request) error {
	var in UpdateWorkspaceRequest
	if err := s.decodeBody(w, r, &in, false); err != nil {
		return err
	}
	ws, err := s.svc.UpdateWorkspace(r.Context(), r.PathValue("ws"), in.MaxServiceAccounts)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, ws)
	return nil
}

// listAudit: GET /v1/audit[?workspace=WS&action=A&actor=REF&since=T&until=T] →
// {items, next_page_token}, newest first. Without workspace, every workspace's
// (operators only). since and until are RFC 3339 times.
func (s *Server) listAudit(w http.ResponseWriter, r *http.Request) error {
	p, err := pageOf(r)
	if err != nil {
		return err
	}
	f, err := auditFilterOf(r.URL.Query())
	if err != nil {
		return err
	}
	items, next, err := s.svc.ListAudit(r.Context(), f, p)
	if err != nil {
		return err
	}
	writeList(w, items, next)
	return nil
}

// writeList answers 200 with one page; items is never null.
func writeList[T any](w http.ResponseWriter, items []T, next string) {
	if items == nil {
		items = []T{}
	}
	writeJSON(w, http.StatusOK, List[T]{Items: items, NextPageToken: next})
}

// auditFilterOf reads the audit filter of GET /v1/audit from its query.
func auditFilterOf(q url.Values) (keystore.AuditFilter, error) {
	f := keystore.AuditFilter{Workspace: q.Get("workspace"), Action: q.Get("action"), Actor: q.Get("actor")}
	for _, t := range []struct {
		name string
		dst  *time.Time
	}{{"since", &f.Since}, {"until", &f.Until}} {
		if v := q.Get(t.name); v != "" {
			at, err := time.Parse(time.RFC3339, v)
			if err != nil {
				return f, keystore.Invalid(t.name, "must be an RFC 3339 time such as 2026-05-01T14:30:00Z")
			}
			*t.dst = at
		}
	}
	return f, nil
}
