package admin

import "net/http"

// PatternOf returns the pattern s's mux matches r with ("" for none), for tests.
func PatternOf(s *Server, r *http.Request) string {
	_, p := s.mux.Handler(r)
	return p
}
