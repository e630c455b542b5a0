package admin

import (
	"net/http"
)

// keyReadRoutes registers the routes that read one key or find keys by their last six.
func (s *Server) keyReadRoutes() {
	s.handle("GET /v1/workspaces/{ws}/service-accounts/{sa}/keys/{key}", s.getKey)
	s.handle("GET /v1/workspaces/{ws}/keys", s.findKeys)
}

// getKey: GET …/keys/{key} (an id or the last six) → 200 the key; never a secret or a hash.
func (s *Server) getKey(w http.ResponseWriter, r *http.Request) error {
	k, err := s.svc.GetKey(r.Context(), r.PathValue("ws"), r.PathValue("sa"), r.PathValue("key"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, k)
	return nil
}

// findKeys: GET /v1/workspaces/{ws}/keys?last6=XXXXXX → {items} every key of the
// workspace ending so, with its account.
func (s *Server) findKeys(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	if len(q["last6"]) > 1 {
		return badRequest("last6: give the key's last six characters once (?last6=XXXXXX)")
	}
	items, err := s.svc.FindKeys(r.Context(), r.PathValue("ws"), q.Get("last6"))
	if err != nil {
		return err
	}
	writeList(w, items, "")
	return nil
}
