package admin

import "net/http"

// Patterns returns every pattern s registered on its mux ("POST /v1/workspaces"), so
// that the tests compare the routes of the code with those of openapi.json.
func (s *Server) Patterns() []string { return append([]string(nil), s.patterns...) }

// PatternOf returns the pattern s's mux matches r with ("" for none), for tests.
func PatternOf(s *Server, r *http.Request) string {
	_, p := s.mux.Handler(r)
	return p
}

// CheckOperators checks the operators file once, as WatchOperators does on its ticker.
func CheckOperators(s *Server) { s.ops.check() }
