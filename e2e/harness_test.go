package e2e

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sagate/sagate/internal/testing/keytest"
	"github.com/sagate/sagate/internal/testing/redistest"
	"github.com/sagate/sagate/internal/testing/systest"
)

// adminToken is the admin token every test admin starts with.
const adminToken = "e2e-admin-03b82577a9b261a20fa099e4420e7e4d9c2d7f1e4b8a3c6d0e5f2a7b1c4d8e3f"

// admin is a running `sagate serve` process and a tiny client of its documented HTTP API.
type admin struct {
	t      testing.TB
	proc   *systest.Proc
	url    string
	client *http.Client // nil: http.DefaultClient
}

// startAdmin runs `sagate serve` on a free port against redisURL and the SQLite file db.
func startAdmin(t testing.TB, redisURL, db string, extra ...string) *admin {
	t.Helper()
	return startAdminOn(t, redisURL, "sqlite://"+db, extra...)
}

// startAdminOn runs `sagate serve` on a free port against redisURL and any store URL.
func startAdminOn(t testing.TB, redisURL, store string, extra ...string) *admin {
	t.Helper()
	bin := systest.Binaries(t)
	addr := systest.Addr(t)
	args := append([]string{"serve", "--listen", addr, "--store", store, "--redis", redisURL,
		"--signing-key-file", signingKeyFile(t), "--usage-fold-interval", "200ms", "--log-level", "debug"}, extra...)
	p := systest.StartProc(t, "sagate serve", filepath.Join(bin, "sagate"), []string{"SAGATE_ADMIN_TOKEN=" + adminToken}, args...)
	a := &admin{t: t, proc: p, url: "http://" + addr}
	systest.WaitHTTP(t, a.url+"/readyz", http.StatusOK, 30*time.Second)
	return a
}

// signingKeyFile writes the test signing key (keytest.SigningKey, which every sidecar of
// the tests trusts) to a file of mode 0600 and returns its path.
func signingKeyFile(t testing.TB) string {
	t.Helper()
	text, err := keytest.SigningKey(t).MarshalText()
	if err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(t.TempDir(), "signing.key")
	if err := os.WriteFile(file, text, 0o600); err != nil {
		t.Fatal(err)
	}
	return file
}

// call sends one admin API request and decodes the JSON answer (nil for an empty body).
func (a *admin) call(method, path string, body any) (int, map[string]any) {
	a.t.Helper()
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			a.t.Fatal(err)
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, a.url+path, rd)
	if err != nil {
		a.t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+adminToken)
	req.Header.Set("Content-Type", "application/json")
	resp, err := a.httpClient().Do(req)
	if err != nil {
		a.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	var out map[string]any
	if len(bytes.TrimSpace(raw)) > 0 {
		if err := json.Unmarshal(raw, &out); err != nil {
			a.t.Fatalf("%s %s: answer is not a JSON object: %s", method, path, raw)
		}
	}
	return resp.StatusCode, out
}

// httpClient is the client the admin is called with.
func (a *admin) httpClient() *http.Client {
	if a.client != nil {
		return a.client
	}
	return http.DefaultClient
}

// must calls and fails the test unless the status is want.
func (a *admin) must(want int, method, path string, body any) map[string]any {
	a.t.Helper()
	code, out := a.call(method, path, body)
	if code != want {
		a.t.Fatalf("%s %s = %d, want %d: %v", method, path, code, want, out)
	}
	return out
}

// issued is a key as the admin returned it on creation.
type issued struct{ ID, Key, Last6 string }

func keyOf(t testing.TB, m any) issued {
	t.Helper()
	k, ok := m.(map[string]any)
	if !ok {
		t.Fatalf("no key object in %v", m)
	}
	s := func(f string) string { v, _ := k[f].(string); return v }
	if !strings.HasPrefix(s("key"), "sak_") || s("id") == "" || s("last6") == "" {
		t.Fatalf("incomplete key object: id=%q last6=%q", s("id"), s("last6"))
	}
	return issued{ID: s("id"), Key: s("key"), Last6: s("last6")}
}

// newAccount creates a service account with a first key and an optional "*" role.
func (a *admin) newAccount(ws, name, allProjectsRole string) issued {
	a.t.Helper()
	body := map[string]any{"name": name}
	if allProjectsRole != "" {
		body["all_projects_role"] = allProjectsRole
	}
	out := a.must(http.StatusCreated, "POST", "/v1/workspaces/"+ws+"/service-accounts", body)
	return keyOf(a.t, out["api_key"])
}

// upstream is the API behind the sidecars: it records the headers of every request.
type upstream struct {
	srv *httptest.Server
	mu  sync.Mutex
	got []http.Header
}

func startUpstream(t testing.TB) *upstream {
	u := &upstream{}
	u.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		u.mu.Lock()
		u.got = append(u.got, r.Header.Clone())
		u.mu.Unlock()
		w.Header().Set("Content-Type", "text/plain")
		_, _ = io.WriteString(w, "upstream ok")
	}))
	t.Cleanup(u.srv.Close)
	return u
}

// last returns the headers of the last request the upstream received.
func (u *upstream) last() http.Header {
	u.mu.Lock()
	defer u.mu.Unlock()
	if len(u.got) == 0 {
		return nil
	}
	return u.got[len(u.got)-1]
}

func (u *upstream) count() int {
	u.mu.Lock()
	defer u.mu.Unlock()
	return len(u.got)
}

// workspaceLine finds a workspace line in a sagate block's options.
var workspaceLine = regexp.MustCompile(`(?m)^\s*workspace\s`)

// sidecar is a running Caddy with the sagate module in front of an upstream.
type sidecar struct {
	proc      *systest.Proc
	url       string
	adminAddr string
}

// startSidecar runs the real Caddy binary with a sagate site whose block holds options,
// trusting keytest.SigningKey, the admin's signing key in these tests. Options that
// name no workspace get "workspace *": the site serves every workspace.
func startSidecar(t testing.TB, redisURL, upstreamURL, options string) *sidecar {
	t.Helper()
	if !workspaceLine.MatchString(options) {
		options = "workspace *\n\t\t" + options
	}
	bin := systest.Binaries(t)
	addr, adminAddr := systest.Addr(t), systest.Addr(t)
	cfg := fmt.Sprintf(`{
	admin %s
	auto_https off
	persist_config off
}
http://%s {
	sagate {
		redis %s
		signing_keys %s
		%s
	}
	reverse_proxy %s
}
`, adminAddr, addr, redisURL, keytest.SigningKey(t).Public(), options, strings.TrimPrefix(upstreamURL, "http://"))
	file := filepath.Join(t.TempDir(), "Caddyfile")
	if err := os.WriteFile(file, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	p := systest.StartProc(t, "caddy", filepath.Join(bin, "caddy"), nil, "run", "--config", file, "--adapter", "caddyfile")
	s := &sidecar{proc: p, url: "http://" + addr, adminAddr: adminAddr}
	systest.WaitHTTP(t, s.url+"/", http.StatusUnauthorized, 60*time.Second)
	return s
}

// get sends a request through the sidecar with key (none if empty) and extra headers.
func (s *sidecar) get(t testing.TB, key string, hdr ...string) (int, http.Header, string) {
	t.Helper()
	return s.getPath(t, "/resource", key, hdr...)
}

// getPath is get for another path (and query).
func (s *sidecar) getPath(t testing.TB, path, key string, hdr ...string) (int, http.Header, string) {
	t.Helper()
	req, _ := http.NewRequest("GET", s.url+path, nil)
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Add(hdr[i], hdr[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("request through the sidecar: %v", err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header, string(b)
}

// status is get's status alone.
func (s *sidecar) status(t testing.TB, key string, hdr ...string) int {
	t.Helper()
	c, _, _ := s.get(t, key, hdr...)
	return c
}

// env starts a Redis, an admin and an upstream: the parts every test needs.
type env struct {
	redis *redistest.Server
	admin *admin
	up    *upstream
	db    string
}

func newEnv(t testing.TB, adminArgs ...string) *env {
	t.Helper()
	r := redistest.Start(t)
	db := filepath.Join(t.TempDir(), "sagate.db")
	return &env{redis: r, admin: startAdmin(t, r.URL(), db, adminArgs...), up: startUpstream(t), db: db}
}
