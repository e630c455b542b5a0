package caddymodule

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2/modules/caddyhttp"

	"github.com/sagate/sagate/internal/testing/keytest"
	"github.com/sagate/sagate/keystore/wire"
)

func TestServeHTTPDecisions(t *testing.T) {
	s := newStore(t)
	alice := s.newAccount("alice", "ml-team", map[string]wire.Role{"p1": wire.RoleOwner, "*": wire.RoleViewer})
	bob := s.newAccount("bob", "other", map[string]wire.Role{"p1": wire.RoleOwner})
	frank := s.newAccount("frank", "third", nil)
	carol := s.newAccount("carol", "ml-team", map[string]wire.Role{"p1": wire.RoleViewer})
	dave := s.newAccount("dave", "ml-team", nil)
	erin := s.newAccount("erin", "ml-team", map[string]wire.Role{"*": wire.RoleContributor, "p1": wire.RoleViewer})
	expired := s.newAccount("old", "ml-team", nil)
	expired.rec.Exp = time.Now().Add(-time.Minute).UnixMilli()
	s.put(expired)
	paused := s.newAccount("paused", "ml-team", nil)
	paused.rec.State = wire.KeyDeactivated
	s.put(paused)
	revoked := s.newAccount("gone", "ml-team", nil)
	s.revoke(revoked)
	unknown := keytest.New(t)

	open := newHandler(t, s, Handler{})
	two := newHandler(t, s, Handler{Workspaces: []string{"ml-team", "other"}})
	scoped := newHandler(t, s, Handler{Workspace: "ml-team", Project: "{http.request.header.X-Project}", MinRole: "contributor"})

	tests := []struct {
		name    string
		h       *Handler
		req     *http.Request
		status  int
		errCode string // error="..." in WWW-Authenticate; "" for none
		role    string // X-Project-Role upstream, when allowed with a project
	}{
		{"no header", open, newRequest(""), 401, "", ""},
		{"basic scheme", open, newRequest("", "Authorization", "Basic YTpi"), 401, "", ""},
		{"key in query only", open, httptest.NewRequest("GET", "/?access_token="+alice.key, nil), 401, "", ""},
		{"two authorization headers", open, newRequest(alice.key, "Authorization", "Bearer "+alice.key), 400, "invalid_request", ""},
		{"bearer without key", open, newRequest("", "Authorization", "Bearer"), 401, "invalid_token", ""},
		{"malformed", open, newRequest("sak_nope"), 401, "invalid_token", ""},
		{"wrong checksum", open, newRequest(keytest.BadChecksum(alice.key)), 401, "invalid_token", ""},
		{"trailing junk", open, newRequest(alice.key + " x"), 401, "invalid_token", ""},
		{"unknown key", open, newRequest(unknown), 401, "invalid_token", ""},
		{"expired", open, newRequest(expired.key), 401, "invalid_token", ""},
		{"deactivated", open, newRequest(paused.key), 401, "invalid_token", ""},
		{"revoked", open, newRequest(revoked.key), 401, "invalid_token", ""},
		{"live key", open, newRequest(alice.key), 204, "", ""},
		{"key of another workspace with *", open, newRequest(bob.key), 204, "", ""},
		{"first of two workspaces", two, newRequest(alice.key), 204, "", ""},
		{"second of two workspaces", two, newRequest(bob.key), 204, "", ""},
		{"third workspace, two named", two, newRequest(frank.key), 403, "insufficient_scope", ""},
		{"explicit grant", scoped, newRequest(alice.key, "X-Project", "p1"), 204, "", "owner"},
		{"star grant below min_role", scoped, newRequest(alice.key, "X-Project", "p2"), 403, "insufficient_scope", ""},
		{"lower project grant does not lower *", scoped, newRequest(erin.key, "X-Project", "p1"), 204, "", "contributor"},
		{"role below min_role", scoped, newRequest(carol.key, "X-Project", "p1"), 403, "insufficient_scope", ""},
		{"no grant", scoped, newRequest(dave.key, "X-Project", "p1"), 403, "insufficient_scope", ""},
		{"no project", scoped, newRequest(alice.key), 403, "insufficient_scope", ""},
		{"project star", scoped, newRequest(alice.key, "X-Project", "*"), 403, "insufficient_scope", ""},
		{"project with junk", scoped, newRequest(alice.key, "X-Project", "p1/../p2"), 403, "insufficient_scope", ""},
		{"other workspace pinned", scoped, newRequest(bob.key, "X-Project", "p1"), 403, "insufficient_scope", ""},
		{"revoked before scope", scoped, newRequest(revoked.key, "X-Project", "p1"), 401, "invalid_token", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := tt.h.cache.Stats()
			rec := httptest.NewRecorder()
			next := &nextRecorder{}
			if err := tt.h.ServeHTTP(rec, tt.req, next); err != nil {
				t.Fatalf("ServeHTTP returned %v", err)
			}
			if rec.Code != tt.status {
				t.Fatalf("status %d, want %d (body %s)", rec.Code, tt.status, rec.Body)
			}
			if next.called != (tt.status == 204) {
				t.Fatalf("next called = %v with status %d", next.called, tt.status)
			}
			if tt.status == 204 {
				if tt.role != "" && next.header.Get("X-Project-Role") != tt.role {
					t.Fatalf("X-Project-Role %q, want %q", next.header.Get("X-Project-Role"), tt.role)
				}
				return
			}
			www := rec.Header().Get("WWW-Authenticate")
			if !strings.HasPrefix(www, `Bearer realm="sagate"`) {
				t.Fatalf("WWW-Authenticate %q", www)
			}
			if got := errAttr(www); got != tt.errCode {
				t.Fatalf("error attribute %q, want %q (%s)", got, tt.errCode, www)
			}
			if rec.Header().Get("Cache-Control") != "no-store" || !strings.HasPrefix(rec.Header().Get("Content-Type"), "application/json") {
				t.Fatalf("headers %v", rec.Header())
			}
			if tt.status == 401 && tt.errCode == "invalid_token" && strings.Contains(tt.name, "malformed") || tt.name == "wrong checksum" {
				if after := tt.h.cache.Stats(); after.Misses != before.Misses {
					t.Fatalf("a malformed key reached Redis")
				}
			}
		})
	}
}

// errAttr returns the error="..." attribute of a WWW-Authenticate value.
func errAttr(www string) string {
	_, rest, ok := strings.Cut(www, `error="`)
	if !ok {
		return ""
	}
	v, _, _ := strings.Cut(rest, `"`)
	return v
}

func TestServeHTTPAllowedSetsIdentity(t *testing.T) {
	s := newStore(t)
	alice := s.newAccount("alice", "ml-team", map[string]wire.Role{"p1": wire.RoleContributor})
	h := newHandler(t, s, Handler{Project: "{http.request.header.X-Project}"})
	spoofs := []string{
		"X-Service-Account", "root@admin", "X_Service_Account", "root@admin", "x_service_account_id", "sa_root",
		"X-WORKSPACE", "admin", "x-api-key-id", "key_root", "X_Project_Role", "owner", "X-Project-Role", "owner",
		"Connection", "keep-alive, X-Service-Account, x_workspace", "X-Project", "p1",
	}
	req := newRequest(alice.key, spoofs...)
	next := &nextRecorder{}
	rec := httptest.NewRecorder()
	if err := h.ServeHTTP(rec, req, next); err != nil || !next.called {
		t.Fatalf("not allowed: status %d err %v body %s", rec.Code, err, rec.Body)
	}
	want := map[string]string{
		"X-Service-Account-Id": "sa_alice", "X-Service-Account": "alice@ml-team", "X-Workspace": "ml-team",
		"X-Api-Key-Id": "key_alice", "X-Project": "p1", "X-Project-Role": "contributor", "Connection": "keep-alive",
	}
	for k, v := range next.header {
		if want[k] == "" {
			if h.strip.IsIdentity(k) || k == "Authorization" {
				t.Errorf("header %s: %q reached next", k, v)
			}
			continue
		}
		if len(v) != 1 || v[0] != want[k] {
			t.Errorf("header %s = %q, want %q", k, v, want[k])
		}
	}
	for k := range want {
		if _, ok := next.header[k]; !ok {
			t.Errorf("header %s missing", k)
		}
	}
	placeholders := map[string]string{
		"http.auth.user.id": "sa_alice", "sagate.service_account_id": "sa_alice", "sagate.service_account": "alice@ml-team",
		"sagate.workspace": "ml-team", "sagate.key_id": "key_alice", "sagate.project": "p1", "sagate.role": "contributor",
	}
	for k, v := range placeholders {
		if got, ok := next.repl.GetString(k); !ok || got != v {
			t.Errorf("placeholder %s = %q (%v), want %q", k, got, ok, v)
		}
	}
}

// TestServeHTTPOmitHeaders: an omitted identity header is not set, a copy the client
// sent of it is removed all the same (in any spelling, also when renamed), and its
// placeholder still carries the value.
func TestServeHTTPOmitHeaders(t *testing.T) {
	s := newStore(t)
	alice := s.newAccount("alice", "ml-team", map[string]wire.Role{"p1": wire.RoleOwner})
	h := newHandler(t, s, Handler{
		Project:     "{http.request.header.X-Project}",
		Headers:     &HeaderNames{KeyID: "X-Caller-Key"},
		OmitHeaders: []string{"workspace", "key_id", "role"},
	})
	req := newRequest(alice.key, "X-Project", "p1", "X_Workspace", "admin", "X-Project-Role", "owner",
		"x-caller-key", "key_root", "X-Api-Key-Id", "key_root")
	next := &nextRecorder{}
	rec := httptest.NewRecorder()
	if err := h.ServeHTTP(rec, req, next); err != nil || !next.called {
		t.Fatalf("not allowed: status %d err %v body %s", rec.Code, err, rec.Body)
	}
	// Exactly these reach next: the spoofed X_Workspace, X-Project-Role, x-caller-key and
	// X-Api-Key-Id (omitted, or under a default name since renamed) are gone.
	want := map[string]string{"X-Service-Account-Id": "sa_alice", "X-Service-Account": "alice@ml-team", "X-Project": "p1"}
	for k, v := range next.header {
		if w, ok := want[k]; !ok || len(v) != 1 || v[0] != w {
			t.Errorf("header %s = %q reached next, want %q", k, v, w)
		}
	}
	for k := range want {
		if _, ok := next.header[k]; !ok {
			t.Errorf("header %s missing", k)
		}
	}
	for k, v := range map[string]string{"sagate.workspace": "ml-team", "sagate.key_id": "key_alice", "sagate.role": "owner"} {
		if got, ok := next.repl.GetString(k); !ok || got != v {
			t.Errorf("placeholder %s = %q (%v), want %q", k, got, ok, v)
		}
	}
}

func TestServeHTTPForwardAuthorization(t *testing.T) {
	s := newStore(t)
	alice := s.newAccount("alice", "ml-team", nil)
	for _, forward := range []bool{false, true} {
		h := newHandler(t, s, Handler{ForwardAuthorization: forward})
		next := &nextRecorder{}
		if err := h.ServeHTTP(httptest.NewRecorder(), newRequest(alice.key), next); err != nil || !next.called {
			t.Fatalf("not allowed: %v", err)
		}
		if got := next.header.Get("Authorization") != ""; got != forward {
			t.Fatalf("forward_authorization %v: Authorization forwarded = %v", forward, got)
		}
	}
}

func TestServeHTTPRedisDown(t *testing.T) {
	s := newStore(t)
	seen := s.newAccount("seen", "ml-team", nil)
	never := s.newAccount("never", "ml-team", nil)
	h := newHandler(t, s, Handler{})
	serve := func(key string) *httptest.ResponseRecorder {
		rec := httptest.NewRecorder()
		if err := h.ServeHTTP(rec, newRequest(key), &nextRecorder{}); err != nil {
			t.Fatal(err)
		}
		return rec
	}
	if rec := serve(seen.key); rec.Code != 204 {
		t.Fatalf("warm-up: %d", rec.Code)
	}
	s.srv.Kill()
	rec := serve(never.key)
	if rec.Code != 503 || rec.Header().Get("Retry-After") != "1" {
		t.Fatalf("a key never seen with Redis down: %d %v, want 503 with Retry-After", rec.Code, rec.Header())
	}
	if rec := serve(keytest.New(t)); rec.Code != 503 {
		t.Fatalf("an unknown key with Redis down: %d, want 503", rec.Code)
	}
	if rec := serve(seen.key); rec.Code != 204 {
		t.Fatalf("a key seen before, within stale_if_error: %d, want 204", rec.Code)
	}
}

// TestIdentityValuesAreNotShared: a later handler that rewrites an identity header value
// in place (as request_header's replace does) must not change what the next request with
// the same cached key carries.
func TestIdentityValuesAreNotShared(t *testing.T) {
	s := newStore(t)
	alice := s.newAccount("alice", "ml-team", map[string]wire.Role{"p1": wire.RoleOwner})
	h := newHandler(t, s, Handler{Project: "{http.request.header.X-Project}"})
	vandal := caddyhttp.HandlerFunc(func(w http.ResponseWriter, r *http.Request) error {
		for _, name := range []string{"X-Service-Account-Id", "X-Service-Account", "X-Workspace", "X-Api-Key-Id", "X-Project", "X-Project-Role"} {
			if v := r.Header[name]; len(v) > 0 {
				v[0] = "tampered"
			}
		}
		return nil
	})
	for i := 0; i < 2; i++ {
		if err := h.ServeHTTP(httptest.NewRecorder(), newRequest(alice.key, "X-Project", "p1"), vandal); err != nil {
			t.Fatal(err)
		}
	}
	next := &nextRecorder{}
	if err := h.ServeHTTP(httptest.NewRecorder(), newRequest(alice.key, "X-Project", "p1"), next); err != nil || !next.called {
		t.Fatalf("not allowed: %v", err)
	}
	for name, want := range map[string]string{"X-Service-Account": "alice@ml-team", "X-Workspace": "ml-team", "X-Project-Role": "owner"} {
		if got := next.header.Get(name); got != want {
			t.Errorf("%s = %q after an earlier request's handler edited its value, want %q", name, got, want)
		}
	}
}

// TestUnavailableWarningsAreSpaced: during an outage every request is a 503; at most one
// per warnInterval is logged at warn level, so the log is not flooded.
func TestUnavailableWarningsAreSpaced(t *testing.T) {
	h := &Handler{lastWarn: new(atomic.Int64)}
	if !h.warnAllowed() {
		t.Fatal("the first 503 must be logged at warn level")
	}
	if h.warnAllowed() {
		t.Fatal("a second 503 within warnInterval must not be")
	}
	h.lastWarn.Store(time.Now().Add(-warnInterval).UnixNano())
	if !h.warnAllowed() {
		t.Fatal("after warnInterval a 503 is logged at warn level again")
	}
}

// TestMalformedKeyWithWarmCache: the key's characters and checksum are checked only
// when the local cache cannot answer for its hash, so a cached key must not let a
// near copy of it through, and a malformed key must still be refused as malformed,
// without a Redis lookup, whatever the cache holds.
func TestMalformedKeyWithWarmCache(t *testing.T) {
	s := newStore(t)
	alice := s.newAccount("alice", "ml-team", nil)
	h := newHandler(t, s, Handler{})
	serve := func(key string) *httptest.ResponseRecorder {
		t.Helper()
		rec := httptest.NewRecorder()
		if err := h.ServeHTTP(rec, newRequest(key), &nextRecorder{}); err != nil {
			t.Fatal(err)
		}
		return rec
	}
	unknown := keytest.New(t)
	// Until alice's key is a cache hit and the unknown one a cached "no such key" (the
	// events follower must have caught up first).
	waitUntil(t, "a warm cache", func() bool {
		before := h.cache.Stats()
		okAlice := serve(alice.key).Code == http.StatusNoContent
		serve(unknown)
		after := h.cache.Stats()
		return okAlice && after.Hits == before.Hits+1 && after.NegativeHits == before.NegativeHits+1
	})
	badChar := alice.key[:10] + "!" + alice.key[11:]
	for _, k := range []string{keytest.BadChecksum(alice.key), badChar, keytest.BadChecksum(unknown)} {
		before := h.cache.Stats()
		rec := serve(k)
		if rec.Code != http.StatusUnauthorized || !strings.Contains(rec.Body.String(), reasonSpecs[reasonMalformed].description) {
			t.Fatalf("a malformed key: status %d, body %s", rec.Code, rec.Body)
		}
		if after := h.cache.Stats(); after.Misses != before.Misses || after.Hits != before.Hits || after.NegativeHits != before.NegativeHits {
			t.Fatalf("a malformed key was answered by the cache or Redis: %+v, then %+v", before, after)
		}
	}
	before := h.cache.Stats()
	if rec := serve(unknown); rec.Code != http.StatusUnauthorized || !strings.Contains(rec.Body.String(), reasonSpecs[reasonUnknown].description) {
		t.Fatalf("the unknown key: status %d, body %s", rec.Code, rec.Body)
	}
	if after := h.cache.Stats(); after.NegativeHits != before.NegativeHits+1 || after.Misses != before.Misses {
		t.Fatalf("the unknown key was not answered by the cached \"no such key\": %+v, then %+v", before, after)
	}
}
