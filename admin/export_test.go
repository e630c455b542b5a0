package admin

// Patterns returns every pattern s registered on its mux ("POST /v1/workspaces"), so
// that the tests compare the routes of the code with those of openapi.json.
func (s *Server) Patterns() []string { return append([]string(nil), s.patterns...) }
