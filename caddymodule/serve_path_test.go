package caddymodule

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"

	"github.com/sagate/sagate/keystore/wire"
)

// newPathRequest is a GET of target (the request line's path, as net/http parses
// it) with a fresh Caddy replacer.
func newPathRequest(key, target string) *http.Request {
	r := httptest.NewRequest(http.MethodGet, target, nil)
	r.Header["Authorization"] = []string{"Bearer " + key}
	repl := caddyhttp.NewTestReplacer(r)
	return r.WithContext(context.WithValue(r.Context(), caddy.ReplacerCtxKey, repl))
}

func TestServeHTTPCleansPath(t *testing.T) {
	s := newStore(t)
	alice := s.newAccount("alice", "ml-team", map[string]wire.Role{"p1": wire.RoleOwner})
	h := newHandler(t, s, Handler{Project: "{http.request.uri.path.1}"})
	unescape, no := newHandler(t, s, Handler{Project: "{http.request.uri.path.1}", EscapedSlashes: "unescape"}), false
	strict := newHandler(t, s, Handler{Project: "{http.request.uri.path.1}", NormalizePath: &no, MergeSlashes: &no})

	tests := []struct {
		name    string
		h       *Handler
		target  string
		status  int
		path    string // r.URL.Path the next handler gets
		rawPath string // and r.URL.RawPath
		uri     string // and r.RequestURI
	}{
		{"clean", h, "/api/p1/x?q=1", 204, "/api/p1/x", "", "/api/p1/x?q=1"},
		{"dots to another project", h, "/api/p1/../p2/x", 403, "", "", ""},
		{"encoded dots", h, "/api/p1/%2e%2E/p2/x", 403, "", "", ""},
		{"dots back to the project", h, "/api/p2/../p1/./x?q=1", 204, "/api/p1/x", "", "/api/p1/x?q=1"},
		{"merged slashes", h, "//api//p1/x", 204, "/api/p1/x", "", "/api/p1/x"},
		{"encoded letters decoded", h, "/api/%70%31/a%20b", 204, "/api/p1/a b", "", "/api/p1/a%20b"},
		{"kept encoding", h, "/api/p1/%2e/a%3Fb", 204, "/api/p1/a?b", "", "/api/p1/a%3Fb"},
		{"sub-delims kept raw", h, "/api/p1/./a(b)", 204, "/api/p1/a(b)", "/api/p1/a(b)", "/api/p1/a(b)"},
		{"encoded slash", h, "/api/p1%2F..%2Fp2/x", 400, "", "", ""},
		{"above root", h, "/api/../../x", 400, "", "", ""},
		{"nul", h, "/api/p1/%00", 400, "", "", ""},
		{"unescaped slash", unescape, "/api/p2%2F..%2Fp1/x", 204, "/api/p1/x", "", "/api/p1/x"},
		{"strict dots", strict, "/api/p1/./x", 400, "", "", ""},
		{"strict slashes", strict, "/api//p1/x", 400, "", "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := newPathRequest(alice.key, tt.target)
			w := httptest.NewRecorder()
			var got *http.Request
			next := caddyhttp.HandlerFunc(func(w http.ResponseWriter, r *http.Request) error {
				got = r
				w.WriteHeader(http.StatusNoContent)
				return nil
			})
			if err := tt.h.ServeHTTP(w, r, next); err != nil {
				t.Fatal(err)
			}
			if w.Code != tt.status {
				t.Fatalf("status %d, want %d; body %s", w.Code, tt.status, w.Body)
			}
			if tt.status == http.StatusBadRequest {
				var body struct{ Error, ErrorDescription string }
				if err := json.Unmarshal(w.Body.Bytes(), &body); err != nil || body.Error != "invalid_request" {
					t.Errorf("body %s", w.Body)
				}
			}
			if got == nil {
				return
			}
			if got.URL.Path != tt.path || got.URL.RawPath != tt.rawPath || got.RequestURI != tt.uri {
				t.Errorf("next got Path %q RawPath %q RequestURI %q, want %q %q %q", got.URL.Path, got.URL.RawPath, got.RequestURI, tt.path, tt.rawPath, tt.uri)
			}
			if got.Header.Get("X-Project") != "p1" {
				t.Errorf("X-Project %q", got.Header.Get("X-Project"))
			}
			repl := got.Context().Value(caddy.ReplacerCtxKey).(*caddy.Replacer)
			if v, _ := repl.GetString("http.request.uri.path"); v != tt.path {
				t.Errorf("{http.request.uri.path} = %q, want %q", v, tt.path)
			}
		})
	}
}

// A handler before sagate that gives the request a URL of its own leaves the
// replacer reading the old one: the project would be read off a path the upstream
// never sees, so the request is refused.
func TestServeHTTPRefusesStalePlaceholders(t *testing.T) {
	s := newStore(t)
	alice := s.newAccount("alice", "ml-team", map[string]wire.Role{"p1": wire.RoleOwner})
	h := newHandler(t, s, Handler{Project: "{http.request.uri.path.1}"})
	r := newPathRequest(alice.key, "/api/p1/../p2/x")
	r = r.Clone(r.Context()) // a new URL; the replacer still holds the old request
	w := httptest.NewRecorder()
	if err := h.ServeHTTP(w, r, &nextRecorder{}); err != nil {
		t.Fatal(err)
	}
	if w.Code != http.StatusBadRequest {
		t.Fatalf("status %d, want 400", w.Code)
	}
}
