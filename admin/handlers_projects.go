package admin

import "net/http"

// listProjects: GET /v1/workspaces/{ws}/projects → {items, next_page_token}: every project
// with a grant, by name, with its counts of accounts, groups and people.
func (s *Server) listProjects(w http.ResponseWriter, r *http.Request) error {
	p, err := pageOf(r)
	if err != nil {
		return err
	}
	items, next, err := s.svc.ListProjects(r.Context(), r.PathValue("ws"), p)
	if err != nil {
		return err
	}
	writeList(w, items, next)
	return nil
}
