package caddymodule

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig"

	"github.com/sagate/sagate/internal/testing/keytest"
	"github.com/sagate/sagate/internal/testing/redistest"
	"github.com/sagate/sagate/keystore/keycache"
	"github.com/sagate/sagate/keystore/wire"
)

// These tests run a real Caddy in this process (caddy.Load of an adapted Caddyfile,
// what "caddy run" does), a real redis-server, and upstreams that record the
// headers they receive.

const globalOptions = "{\n\tadmin off\n\tauto_https off\n}\n"

// loadCaddy adapts caddyfile and runs it, replacing any running config; Caddy
// stops when the test ends.
func loadCaddy(t *testing.T, caddyfile string) {
	t.Helper()
	cfg, _, err := caddyconfig.GetAdapter("caddyfile").Adapt([]byte(caddyfile), nil)
	if err != nil {
		t.Fatalf("adapting the Caddyfile: %v", err)
	}
	if err := caddy.Load(cfg, true); err != nil {
		t.Fatalf("loading the config: %v", err)
	}
	t.Cleanup(func() {
		if err := caddy.Stop(); err != nil {
			t.Errorf("stopping caddy: %v", err)
		}
	})
}

// sidecar is one Caddy site running sagate.
type sidecar struct {
	url string
}

func newSidecarURL(t *testing.T) sidecar {
	return sidecar{url: fmt.Sprintf("http://127.0.0.1:%d", redistest.FreePort(t))}
}

// answer is what a client got back.
type answer struct {
	status int
	www    string
	error  string // "error" of the JSON body
	header http.Header
	body   string
}

// do sends a GET with the given Authorization (none when "") and raw extra headers
// (kept exactly as spelled: Go's client writes map keys as they are).
func (s sidecar) do(t *testing.T, path, auth string, header ...string) answer {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, s.url+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	if auth != "" {
		req.Header["Authorization"] = []string{auth}
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header[header[i]] = append(req.Header[header[i]], header[i+1])
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("GET %s: %v", path, err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	a := answer{status: res.StatusCode, www: res.Header.Get("WWW-Authenticate"), header: res.Header, body: string(b)}
	if strings.HasPrefix(res.Header.Get("Content-Type"), "application/json") {
		var body struct {
			Error string `json:"error"`
		}
		if err := json.Unmarshal(b, &body); err != nil {
			t.Fatalf("refusal body is not JSON: %q", b)
		}
		a.error = body.Error
	}
	return a
}

// waitStatus polls until path with key answers want.
func (s sidecar) waitStatus(t *testing.T, what, key string, want int, header ...string) {
	t.Helper()
	waitUntil(t, what, func() bool { return s.do(t, "/", "Bearer "+key, header...).status == want })
}

func TestCaddyEndToEnd(t *testing.T) {
	st := newStore(t)
	up := newUpstream(t)
	open, scoped := newSidecarURL(t), newSidecarURL(t)
	loadCaddy(t, globalOptions+fmt.Sprintf(`
%s {
	metrics /metrics
	# sagate runs before metrics (it orders itself like basic_auth): leave /metrics open.
	@api not path /metrics
	sagate @api %s {
		%s
	}
	reverse_proxy %s {
		header_up X-Ph-User {http.auth.user.id}
		header_up X-Ph-Account {sagate.service_account}
		header_up X-Ph-Key {sagate.key_id}
	}
}
%s {
	sagate {
		redis %s
		%s
		workspace ml-team
		project {http.request.header.X-Project}
		min_role contributor
	}
	reverse_proxy %s {
		header_up X-Ph-Project {sagate.project}
		header_up X-Ph-Role {sagate.role}
	}
}
`, open.url, st.sidecarURL(), trustedAny(t), up.URL, scoped.url, st.sidecarURL(), trusted(t), up.URL))

	alice := st.newAccount("alice", "ml-team", map[string]wire.Role{"p1": wire.RoleOwner, "p2": wire.RoleViewer})
	bob := st.newAccount("bob", "other", map[string]wire.Role{"p1": wire.RoleOwner})

	t.Run("allowed with identity headers and placeholders", func(t *testing.T) {
		n := up.count()
		a := open.do(t, "/", "Bearer "+alice.key)
		if a.status != 200 || a.body != "upstream" || up.count() != n+1 {
			t.Fatalf("got %d %q", a.status, a.body)
		}
		h := up.last(t)
		want := map[string]string{
			"X-Service-Account-Id": "sa_alice", "X-Service-Account": "alice@ml-team", "X-Workspace": "ml-team",
			"X-Api-Key-Id": "key_alice", "X-Ph-User": "sa_alice", "X-Ph-Account": "alice@ml-team", "X-Ph-Key": "key_alice",
		}
		for k, v := range want {
			if got := h.Values(k); len(got) != 1 || got[0] != v {
				t.Errorf("upstream %s = %q, want %q", k, got, v)
			}
		}
		if h.Get("Authorization") != "" || h.Get("X-Project") != "" || h.Get("X-Project-Role") != "" {
			t.Errorf("upstream got %v", h)
		}
	})

	t.Run("project role", func(t *testing.T) {
		a := scoped.do(t, "/", "Bearer "+alice.key, "X-Project", "p1")
		if a.status != 200 {
			t.Fatalf("status %d %s", a.status, a.body)
		}
		h := up.last(t)
		for k, v := range map[string]string{"X-Project": "p1", "X-Project-Role": "owner", "X-Ph-Project": "p1", "X-Ph-Role": "owner"} {
			if got := h.Get(k); got != v {
				t.Errorf("upstream %s = %q, want %q", k, got, v)
			}
		}
	})

	t.Run("refusals", func(t *testing.T) {
		tests := []struct {
			name   string
			s      sidecar
			auth   string
			header []string
			status int
			err    string // WWW-Authenticate error attribute
			body   string // JSON error
		}{
			{"no key", open, "", nil, 401, "", "unauthorized"},
			{"key only in query", open, "", nil, 401, "", "unauthorized"},
			{"basic", open, "Basic YWxpY2U6c2VjcmV0", nil, 401, "", "unauthorized"},
			{"two authorization headers", open, "Bearer " + alice.key, []string{"Authorization", "Bearer " + alice.key}, 400, "invalid_request", "invalid_request"},
			{"bearer with no key", open, "Bearer", nil, 401, "invalid_token", "invalid_token"},
			{"trailing junk", open, "Bearer " + alice.key + "x", nil, 401, "invalid_token", "invalid_token"},
			{"wrong checksum", open, "Bearer " + keytest.BadChecksum(alice.key), nil, 401, "invalid_token", "invalid_token"},
			{"unknown key", open, "Bearer " + keytest.New(t), nil, 401, "invalid_token", "invalid_token"},
			{"16 KB header", open, "Bearer " + strings.Repeat("k", 16<<10), nil, 401, "invalid_token", "invalid_token"},
			{"other workspace", scoped, "Bearer " + bob.key, []string{"X-Project", "p1"}, 403, "insufficient_scope", "insufficient_scope"},
			{"role too low", scoped, "Bearer " + alice.key, []string{"X-Project", "p2"}, 403, "insufficient_scope", "insufficient_scope"},
			{"no grant", scoped, "Bearer " + alice.key, []string{"X-Project", "p3"}, 403, "insufficient_scope", "insufficient_scope"},
			{"no project", scoped, "Bearer " + alice.key, nil, 403, "insufficient_scope", "insufficient_scope"},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				n := up.count()
				path := "/"
				if tt.name == "key only in query" {
					path = "/?access_token=" + alice.key
				}
				a := tt.s.do(t, path, tt.auth, tt.header...)
				if a.status != tt.status || a.error != tt.body {
					t.Fatalf("got %d %q, want %d %q", a.status, a.error, tt.status, tt.body)
				}
				if !strings.HasPrefix(a.www, `Bearer realm="sagate"`) || errAttr(a.www) != tt.err {
					t.Fatalf("WWW-Authenticate %q, want error %q", a.www, tt.err)
				}
				if a.header.Get("Cache-Control") != "no-store" {
					t.Fatalf("Cache-Control %q", a.header.Get("Cache-Control"))
				}
				if up.count() != n {
					t.Fatal("a refused request reached the upstream")
				}
			})
		}
	})

	t.Run("spoofed identity headers never reach the upstream", func(t *testing.T) {
		variants := []string{
			"X-Service-Account", "X_Service_Account", "x-service-account", "x_service_account", "X-SERVICE-ACCOUNT",
			"X-Service-Account-Id", "X_Service_Account_Id", "X-Workspace", "x_workspace", "X-Api-Key-Id", "x_api_key_id",
			"X-Project", "x_project", "X-Project-Role", "X_PROJECT_ROLE", "X-Project_Role",
		}
		for _, v := range variants {
			a := open.do(t, "/", "Bearer "+alice.key, v, "forged", "Connection", v)
			if a.status != 200 {
				t.Fatalf("%s: status %d", v, a.status)
			}
			h := up.last(t)
			for k, vals := range h {
				for _, val := range vals {
					if val == "forged" {
						t.Fatalf("client-sent %s reached the upstream as %s", v, k)
					}
				}
			}
			if h.Get("X-Service-Account") != "alice@ml-team" || h.Get("X-Api-Key-Id") != "key_alice" {
				t.Fatalf("%s: our identity headers did not reach the upstream: %v", v, h)
			}
		}
		// With a project, the forged project and role lose to ours.
		a := scoped.do(t, "/", "Bearer "+alice.key, "X-Project", "p1", "X_Project_Role", "forged", "Connection", "X-Project-Role, X-Project")
		if a.status != 200 {
			t.Fatalf("status %d", a.status)
		}
		if h := up.last(t); h.Get("X-Project-Role") != "owner" || h.Get("X_project_role") != "" || h.Get("X-Project") != "p1" {
			t.Fatalf("upstream got %v", h)
		}
	})

	t.Run("role change observed", func(t *testing.T) {
		scoped.waitStatus(t, "p2 allowed", alice.key, 403, "X-Project", "p2")
		alice.rec.Roles = map[string]wire.Role{"p1": wire.RoleOwner, "p2": wire.RoleContributor}
		st.put(alice)
		scoped.waitStatus(t, "the raised role", alice.key, 200, "X-Project", "p2")
		alice.rec.Roles = map[string]wire.Role{"p2": wire.RoleContributor}
		st.put(alice)
		scoped.waitStatus(t, "the removed grant", alice.key, 403, "X-Project", "p1")
	})

	t.Run("deactivation and activation observed", func(t *testing.T) {
		open.waitStatus(t, "allowed", alice.key, 200)
		alice.rec.State = wire.KeyDeactivated
		st.put(alice)
		open.waitStatus(t, "the deactivation", alice.key, 401)
		alice.rec.State = wire.KeyActive
		st.put(alice)
		open.waitStatus(t, "the reactivation", alice.key, 200)
	})

	t.Run("expiry on the sidecar's clock", func(t *testing.T) {
		k := st.newAccount("temp", "ml-team", nil)
		k.rec.Exp = time.Now().Add(300 * time.Millisecond).UnixMilli()
		st.put(k)
		open.waitStatus(t, "the key before expiry", k.key, 200)
		// No event comes: the cached entry must stop working by itself.
		open.waitStatus(t, "the expiry", k.key, 401)
		if a := open.do(t, "/", "Bearer "+k.key); !strings.Contains(a.www, "expired") {
			t.Fatalf("WWW-Authenticate %q does not say expired", a.www)
		}
	})

	t.Run("revocation observed", func(t *testing.T) {
		open.waitStatus(t, "allowed", bob.key, 200)
		st.revoke(bob)
		open.waitStatus(t, "the revocation", bob.key, 401)
	})

	t.Run("metrics", func(t *testing.T) {
		a := open.do(t, "/metrics", "")
		for _, want := range []string{
			`sagate_decisions_total{result="allowed"}`, `sagate_decisions_total{result="invalid_token"}`,
			`sagate_verify_duration_seconds_bucket`, `sagate_cache_hits_total`, `sagate_events_applied_total`,
			`sagate_redis_lookups_total`, `sagate_cache_slab_bytes`, `sagate_event_lag_seconds_bucket`,
			"sagate_redis_may_evict 0",
			`sagate_signature_failures_total{kind="record"}`, `sagate_signature_failures_total{kind="event"}`,
			`sagate_redis_behind_total`, `sagate_older_records_total`,
		} {
			if !strings.Contains(a.body, want) {
				t.Errorf("metrics lack %s", want)
			}
		}
		// The counters are process-wide (closed caches of earlier tests count too);
		// this test's cache itself refused nothing.
		for _, sc := range sharedCaches() {
			if s := sc.cache.Stats(); s.RedisBehind != 0 || s.SignatureFailures != (keycache.SignatureFailures{}) {
				t.Errorf("the cache refused Redis answers: behind %d, signature failures %+v", s.RedisBehind, s.SignatureFailures)
			}
		}
		// The sidecars ran as the Redis user of redisops.SidecarACLRules: Redis refused
		// none of their commands.
		if denied := st.aclDenied(); len(denied) > 0 {
			t.Errorf("the sidecar's Redis user was refused: %v", denied)
		}
		// The revocation above reached this sidecar through an event: its lag was observed.
		if m := regexp.MustCompile(`(?m)^sagate_event_lag_seconds_count (\d+)$`).FindStringSubmatch(a.body); m == nil || m[1] == "0" {
			t.Errorf("sagate_event_lag_seconds_count = %v, want at least one event", m)
		}
	})
}
