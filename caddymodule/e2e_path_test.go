package caddymodule

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path"
	"strings"
	"testing"
	"time"

	"github.com/sagate/sagate/keystore/wire"
)

// These tests put a real Caddy with "project {http.request.uri.path.1}" in front
// of upstreams that normalise paths, each in its own way, and send paths that one
// component could read differently from another, with a key granted only on p1.
// Whatever the path, the upstream must never route to a project other than the
// one sagate checked.

// routed is what a path-routing upstream answers: the project it routed to and
// the X-Project sagate set.
type routed struct {
	Router   string `json:"router"`
	Project  string `json:"project"`
	XProject string `json:"x_project"`
	Path     string `json:"path"`
}

// newRouter starts an upstream that routes /api/<project>/... by project(r) and
// reports where it went. project returns ok false for a path it does not route.
func newRouter(t *testing.T, name string, project func(r *http.Request) (string, bool)) *httptest.Server {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p, ok := project(r)
		if !ok {
			http.NotFound(w, r)
			return
		}
		reportRoute(w, r, name, p)
	}))
	t.Cleanup(srv.Close)
	return srv
}

func reportRoute(w http.ResponseWriter, r *http.Request, router, project string) {
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(routed{Router: router, Project: project, XProject: r.Header.Get("X-Project"), Path: r.URL.EscapedPath()})
}

// apiProject returns the project of a cleaned path /api/<project>/...
func apiProject(p string) (string, bool) {
	segs := strings.Split(strings.TrimPrefix(p, "/"), "/")
	if len(segs) < 2 || segs[0] != "api" {
		return "", false
	}
	return segs[1], true
}

// pathRouters are three upstreams that read a path differently: one cleans the
// decoded path (path.Clean(r.URL.Path), like most Go routers); one decodes the
// escaped path itself, taking backslashes and %2F/%5C for slashes, then cleans
// (like servers that decode before they route); one is net/http.ServeMux with a
// /api/{project}/ pattern (it redirects unclean paths and matches escaped segments).
func pathRouters(t *testing.T) map[string]*httptest.Server {
	mux := http.NewServeMux()
	mux.HandleFunc("/api/{project}/", func(w http.ResponseWriter, r *http.Request) {
		reportRoute(w, r, "servemux", r.PathValue("project"))
	})
	muxSrv := httptest.NewServer(mux)
	t.Cleanup(muxSrv.Close)
	return map[string]*httptest.Server{
		"clean": newRouter(t, "clean", func(r *http.Request) (string, bool) {
			return apiProject(path.Clean(r.URL.Path))
		}),
		"decode": newRouter(t, "decode", func(r *http.Request) (string, bool) {
			p, err := url.PathUnescape(r.URL.EscapedPath())
			if err != nil {
				return "", false
			}
			return apiProject(path.Clean(strings.ReplaceAll(p, `\`, "/")))
		}),
		"servemux": muxSrv,
	}
}

// rawGet sends target as the request line's path exactly as given (no client
// cleans or re-encodes it) and returns the status and body.
func rawGet(t *testing.T, addr, target, key string) (int, []byte) {
	t.Helper()
	conn, err := net.DialTimeout("tcp", addr, waitFor)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(waitFor))
	if _, err := fmt.Fprintf(conn, "GET %s HTTP/1.1\r\nHost: %s\r\nAuthorization: Bearer %s\r\nConnection: close\r\n\r\n", target, addr, key); err != nil {
		t.Fatal(err)
	}
	res, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatalf("GET %q: %v", target, err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	return res.StatusCode, b
}

// pathTricks are paths that components read differently, with the status sagate
// answers with default options: 400 refused, 403 checked on p2 after
// normalising, 200 forwarded to p1.
var pathTricks = []struct {
	path   string
	status int
}{
	{"/api/p1/x", 200},
	{"/api/p2/x", 403},
	{"/api/p1/../p2/x", 403},
	{"/api/p1/%2e%2e/p2/x", 403},
	{"/api/p1/.%2e/p2/x", 403},
	{"/api/p1/%2E%2E/p2/x", 403},
	{"/api/p1/%2e./p2/x", 403},
	{"/api/p1/./../p2/x", 403},
	{"/api/p1//../p2/x", 403},
	{"/api//p2/x", 403},
	{"//api/p1/x", 200},
	{"/api/p1/./x", 200},
	{"/api/p2/../p1/x", 200},
	{"/api/%70%31/x", 200},
	{"/api/p1/../../api/p2/x", 403},
	{"/api/../../p2/x", 400},
	{"/api/p1%2F..%2Fp2/x", 400},
	{"/api/p1%2f..%2fp2/x", 400},
	{"/api/p1/..%2Fp2/x", 400},
	{"/api/p1%5C..%5Cp2/x", 400},
	{"/api/p1/..%5cp2/x", 400},
	{`/api/p1/..\p2/x`, 400},
	{`/api/p1\..\p2/x`, 400},
	{"/api/p1/..;/p2/x", 400},
	{"/api/p1/%00/x", 400},
	{"/api/p1/..%00/p2/x", 400},
	{"/api/p1/%zz/x", 400},
	{"/api/p1/x%", 400},
	{"/api/p1/%252e%252e/p2/x", 200},
}

func TestCaddyPathTricks(t *testing.T) {
	st := newStore(t)
	routers := pathRouters(t)
	sites := map[string]sidecar{}
	var cfg strings.Builder
	cfg.WriteString(globalOptions)
	for name, up := range routers {
		s := newSidecarURL(t)
		sites[name] = s
		fmt.Fprintf(&cfg, "%s {\n\tsagate {\n\t\tredis %s\n\t\t%s\n\t\tproject {http.request.uri.path.1}\n\t}\n\treverse_proxy %s\n}\n", s.url, st.sidecarURL(), trustedAny(t), up.URL)
	}
	loadCaddy(t, cfg.String())
	alice := st.newAccount("alice", "ml-team", map[string]wire.Role{"p1": wire.RoleOwner})
	for name, s := range sites {
		addr := strings.TrimPrefix(s.url, "http://")
		waitUntil(t, "the key to pass on "+name, func() bool {
			status, _ := rawGet(t, addr, "/api/p1/x", alice.key)
			return status == http.StatusOK
		})
	}

	for name, s := range sites {
		addr := strings.TrimPrefix(s.url, "http://")
		for _, tt := range pathTricks {
			t.Run(name+" "+tt.path, func(t *testing.T) {
				status, body := rawGet(t, addr, tt.path, alice.key)
				checkRouted(t, tt.path, status, body)
				if status != tt.status && !(name == "servemux" && status == http.StatusNotFound && tt.status == http.StatusOK) {
					t.Errorf("GET %q: status %d, want %d; body %s", tt.path, status, tt.status, body)
				}
				if status == http.StatusBadRequest {
					checkBadRequest(t, tt.path, body)
				}
			})
		}
	}
}

// checkRouted fails when the upstream routed to a project other than the one sagate
// set in X-Project, or to p2, which the key has no grant on.
func checkRouted(t *testing.T, target string, status int, body []byte) {
	t.Helper()
	var got routed
	if status != http.StatusOK || json.Unmarshal(body, &got) != nil || got.Router == "" {
		return // not routed: a refusal, a redirect or a 404
	}
	if got.Project != got.XProject || got.Project == "p2" {
		t.Errorf("GET %q: %s routed to project %q with X-Project %q (path %q)", target, got.Router, got.Project, got.XProject, got.Path)
	}
}

// checkBadRequest fails unless a 400 body is sagate's invalid_request or net/http's
// own refusal of a request line it cannot parse.
func checkBadRequest(t *testing.T, target string, body []byte) {
	t.Helper()
	if !strings.Contains(string(body), `"error":"invalid_request"`) && !strings.HasPrefix(string(body), "400 Bad Request") {
		t.Errorf("GET %q: 400 with body %q", target, body)
	}
}

// TestCaddyPathTricksOptions runs the same paths through sites with the other
// path options: whatever each refuses or forwards, no upstream routes to a project
// other than the one checked. ServeMux is left out with escaped_slashes keep: it
// reads a kept %2F as data within the project segment, which is what keep is for,
// and so never matches X-Project there (nor any project the key lacks).
func TestCaddyPathTricksOptions(t *testing.T) {
	st := newStore(t)
	routers := pathRouters(t)
	options := map[string]string{
		"unescape": "escaped_slashes unescape",
		"keep":     "escaped_slashes keep",
		"strict":   "normalize_path false\n\t\tmerge_slashes false",
	}
	type site struct {
		option, router string
		s              sidecar
	}
	var sites []site
	var cfg strings.Builder
	cfg.WriteString(globalOptions)
	for opt, lines := range options {
		for name, up := range routers {
			if opt == "keep" && name == "servemux" {
				continue
			}
			s := newSidecarURL(t)
			sites = append(sites, site{opt, name, s})
			fmt.Fprintf(&cfg, "%s {\n\tsagate {\n\t\tredis %s\n\t\t%s\n\t\tproject {http.request.uri.path.1}\n\t\t%s\n\t}\n\treverse_proxy %s\n}\n", s.url, st.sidecarURL(), trustedAny(t), lines, up.URL)
		}
	}
	loadCaddy(t, cfg.String())
	alice := st.newAccount("alice", "ml-team", map[string]wire.Role{"p1": wire.RoleOwner})
	paths := []string{"/api/p1%2Fy/x", "/api%2Fp2/p1/x", "/api/p1%2F%2E%2E%2Fp2/x", `/api/p1\y/x`, "/api/p2%5C..%5Cp1/x"}
	for _, tt := range pathTricks {
		paths = append(paths, tt.path)
	}
	for _, si := range sites {
		addr := strings.TrimPrefix(si.s.url, "http://")
		waitUntil(t, "the key to pass", func() bool {
			status, _ := rawGet(t, addr, "/api/p1/x", alice.key)
			return status == http.StatusOK
		})
		for _, p := range paths {
			t.Run(si.option+" "+si.router+" "+p, func(t *testing.T) {
				status, body := rawGet(t, addr, p, alice.key)
				checkRouted(t, p, status, body)
				if status == http.StatusBadRequest {
					checkBadRequest(t, p, body)
				}
			})
		}
	}
}
