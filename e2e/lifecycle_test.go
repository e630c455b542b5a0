package e2e

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/sagate/sagate/internal/testing/systest"
)

// The sidecar's promise: revocation reaches every sidecar within 1 s while Redis is up
// (docs/operations.md). The tests poll with this deadline; they assert the outcome, not speed.
const propagation = 2 * time.Second

func TestKeyLifecycleAcrossTwoSidecars(t *testing.T) {
	e := newEnv(t)
	e.admin.must(http.StatusCreated, "POST", "/v1/workspaces", map[string]any{"name": "ml-team"})
	k := e.admin.newAccount("ml-team", "ci-bot", "contributor")

	a := startSidecar(t, e.redis.URL(), e.up.srv.URL, "project {http.request.header.X-Project}\n\t\tmin_role viewer")
	b := startSidecar(t, e.redis.URL(), e.up.srv.URL, "workspace ml-team")

	// Allowed, with the identity the admin knows, and spoofed copies gone.
	code, _, _ := a.get(t, k.Key, "X-Project", "forecasting",
		"X-Service-Account", "root@evil", "x_service_account", "root@evil", "X-Project-Role", "owner",
		"Connection", "X-Service-Account-Id")
	if code != http.StatusOK {
		t.Fatalf("live key through sidecar a = %d, want 200", code)
	}
	h := e.up.last()
	want := map[string]string{
		"X-Service-Account": "ci-bot@ml-team", "X-Workspace": "ml-team", "X-Api-Key-Id": k.ID,
		"X-Project": "forecasting", "X-Project-Role": "contributor",
	}
	for name, v := range want {
		if got := h.Values(name); len(got) != 1 || got[0] != v {
			t.Errorf("upstream saw %s = %q, want [%q]", name, got, v)
		}
	}
	if !strings.HasPrefix(h.Get("X-Service-Account-Id"), "sa_") {
		t.Errorf("upstream saw X-Service-Account-Id %q", h.Get("X-Service-Account-Id"))
	}
	for name := range h {
		if strings.Contains(strings.ToLower(name), "service_account") || name == "Authorization" {
			t.Errorf("upstream received %s", name)
		}
	}
	if got := b.status(t, k.Key); got != http.StatusOK {
		t.Fatalf("live key through sidecar b = %d", got)
	}

	// Revoke by last6: both sidecars refuse it.
	e.admin.must(http.StatusNoContent, "DELETE", "/v1/workspaces/ml-team/service-accounts/ci-bot/keys/"+k.Last6, nil)
	for name, s := range map[string]*sidecar{"a": a, "b": b} {
		systest.Eventually(t, propagation, "revoked key refused at sidecar "+name, func() bool {
			return s.status(t, k.Key, "X-Project", "forecasting") == http.StatusUnauthorized
		})
	}
}

func TestAccountStatesAndRotation(t *testing.T) {
	e := newEnv(t)
	e.admin.must(http.StatusCreated, "POST", "/v1/workspaces", map[string]any{"name": "ops"})
	k := e.admin.newAccount("ops", "deployer", "viewer")
	s := startSidecar(t, e.redis.URL(), e.up.srv.URL, "")
	sa := "/v1/workspaces/ops/service-accounts/deployer"

	if got := s.status(t, k.Key); got != http.StatusOK {
		t.Fatalf("fresh key = %d", got)
	}
	e.admin.must(http.StatusOK, "POST", sa+"/deactivate", nil)
	systest.Eventually(t, propagation, "deactivated account refused", func() bool { return s.status(t, k.Key) == http.StatusUnauthorized })

	out := e.admin.must(http.StatusOK, "POST", sa+"/reactivate", nil)
	fresh := keyOf(t, out["api_key"])
	systest.Eventually(t, propagation, "reactivated account's new key works", func() bool { return s.status(t, fresh.Key) == http.StatusOK })
	if got := s.status(t, k.Key); got != http.StatusUnauthorized {
		t.Fatalf("old key after reactivation = %d, want 401", got)
	}

	// Rotate with a retain window: both keys work, then the old one expires on the sidecar's clock.
	out = e.admin.must(http.StatusCreated, "POST", sa+"/keys/"+fresh.ID+"/rotate", map[string]any{"retain": "2s"})
	next := keyOf(t, out)
	if s.status(t, next.Key) != http.StatusOK || s.status(t, fresh.Key) != http.StatusOK {
		t.Fatal("during the retain window both keys must work")
	}
	systest.Eventually(t, 5*time.Second, "old key refused after retain", func() bool { return s.status(t, fresh.Key) == http.StatusUnauthorized })
	if got := s.status(t, next.Key); got != http.StatusOK {
		t.Fatalf("successor after retain = %d", got)
	}

	// Deactivate and activate one key.
	e.admin.must(http.StatusOK, "POST", sa+"/keys/"+next.ID+"/deactivate", nil)
	systest.Eventually(t, propagation, "paused key refused", func() bool { return s.status(t, next.Key) == http.StatusUnauthorized })
	e.admin.must(http.StatusOK, "POST", sa+"/keys/"+next.ID+"/activate", nil)
	systest.Eventually(t, propagation, "resumed key works", func() bool { return s.status(t, next.Key) == http.StatusOK })

	// Revoke all.
	e.admin.must(http.StatusOK, "POST", sa+"/keys/revoke-all", nil)
	systest.Eventually(t, propagation, "revoke-all refused", func() bool { return s.status(t, next.Key) == http.StatusUnauthorized })
}

func TestRolesAndWorkspaces(t *testing.T) {
	e := newEnv(t)
	e.admin.must(http.StatusCreated, "POST", "/v1/workspaces", map[string]any{"name": "ml-team"})
	e.admin.must(http.StatusCreated, "POST", "/v1/workspaces", map[string]any{"name": "other"})
	k := e.admin.newAccount("ml-team", "trainer", "")
	foreign := e.admin.newAccount("other", "trainer", "owner")

	s := startSidecar(t, e.redis.URL(), e.up.srv.URL, "workspace ml-team\n\t\tproject {http.request.header.X-Project}\n\t\tmin_role contributor")
	proj := func(p string) []string { return []string{"X-Project", p} }

	if got := s.status(t, k.Key, proj("prod")...); got != http.StatusForbidden {
		t.Fatalf("no grant = %d, want 403", got)
	}
	grant := "/v1/workspaces/ml-team/projects/prod/service-accounts/trainer"
	e.admin.must(http.StatusOK, "PUT", grant, map[string]any{"role": "viewer"})
	systest.Eventually(t, propagation, "viewer below min_role stays 403", func() bool { return s.status(t, k.Key, proj("prod")...) == http.StatusForbidden })
	e.admin.must(http.StatusOK, "PUT", grant, map[string]any{"role": "owner"})
	systest.Eventually(t, propagation, "owner allowed", func() bool { return s.status(t, k.Key, proj("prod")...) == http.StatusOK })
	if got := e.up.last().Get("X-Project-Role"); got != "owner" {
		t.Fatalf("upstream role = %q", got)
	}
	if got := s.status(t, k.Key, proj("staging")...); got != http.StatusForbidden {
		t.Fatalf("grant on prod must not open staging: %d", got)
	}
	if got := s.status(t, k.Key); got != http.StatusForbidden {
		t.Fatalf("empty project = %d, want 403", got)
	}
	// Grants add up: a lower grant on a project does not lower "*".
	e.admin.must(http.StatusOK, "PUT", grant, map[string]any{"role": "viewer"})
	systest.Eventually(t, propagation, "viewer on prod alone is 403", func() bool { return s.status(t, k.Key, proj("prod")...) == http.StatusForbidden })
	e.admin.must(http.StatusOK, "PUT", "/v1/workspaces/ml-team/projects/*/service-accounts/trainer", map[string]any{"role": "owner"})
	systest.Eventually(t, propagation, "* owner wins over a lower grant on prod", func() bool { return s.status(t, k.Key, proj("prod")...) == http.StatusOK })
	if got := e.up.last().Get("X-Project-Role"); got != "owner" {
		t.Fatalf("upstream role with * owner and prod viewer = %q, want owner", got)
	}
	systest.Eventually(t, propagation, "* owner opens staging", func() bool { return s.status(t, k.Key, proj("staging")...) == http.StatusOK })
	e.admin.must(http.StatusNoContent, "DELETE", grant, nil)
	systest.Eventually(t, propagation, "grant removed: * applies", func() bool { return s.status(t, k.Key, proj("prod")...) == http.StatusOK })

	// A key of another workspace where the site pins one.
	code, hdr, _ := s.get(t, foreign.Key, proj("prod")...)
	if code != http.StatusForbidden || !strings.Contains(hdr.Get("WWW-Authenticate"), "insufficient_scope") {
		t.Fatalf("foreign workspace key = %d %q, want 403 insufficient_scope", code, hdr.Get("WWW-Authenticate"))
	}

	// A site that names two workspaces lets in keys of both and refuses a third's.
	e.admin.must(http.StatusCreated, "POST", "/v1/workspaces", map[string]any{"name": "third"})
	third := e.admin.newAccount("third", "trainer", "owner")
	two := startSidecar(t, e.redis.URL(), e.up.srv.URL, "workspace ml-team other")
	for _, c := range []struct {
		name, key string
		want      int
	}{{"ml-team", k.Key, http.StatusOK}, {"other", foreign.Key, http.StatusOK}, {"third", third.Key, http.StatusForbidden}} {
		if got := two.status(t, c.key); got != c.want {
			t.Errorf("site of ml-team and other, key of %s = %d, want %d", c.name, got, c.want)
		}
	}
}

func TestExpiryAndLastUsed(t *testing.T) {
	e := newEnv(t)
	e.admin.must(http.StatusCreated, "POST", "/v1/workspaces", map[string]any{"name": "ws"})
	e.admin.newAccount("ws", "reporter", "")
	s := startSidecar(t, e.redis.URL(), e.up.srv.URL, "")
	out := e.admin.must(http.StatusCreated, "POST", "/v1/workspaces/ws/service-accounts/reporter/keys", map[string]any{"name": "short", "expires_in": "2s"})
	k := keyOf(t, out)
	if got := s.status(t, k.Key); got != http.StatusOK {
		t.Fatalf("unexpired key = %d", got)
	}
	systest.Eventually(t, 5*time.Second, "expired key refused", func() bool { return s.status(t, k.Key) == http.StatusUnauthorized })

	// last_used_at: the sidecar reports use, the admin folds it into the key list.
	systest.Eventually(t, 10*time.Second, "last_used_at shown in the key list", func() bool {
		_, list := e.admin.call("GET", "/v1/workspaces/ws/service-accounts/reporter/keys", nil)
		items, _ := list["items"].([]any)
		for _, it := range items {
			m, _ := it.(map[string]any)
			if m["id"] == k.ID && m["last_used_at"] != nil {
				return true
			}
		}
		return false
	})
}

func TestRefusalsAreWellFormed(t *testing.T) {
	e := newEnv(t)
	e.admin.must(http.StatusCreated, "POST", "/v1/workspaces", map[string]any{"name": "ws"})
	k := e.admin.newAccount("ws", "bot", "")
	s := startSidecar(t, e.redis.URL(), e.up.srv.URL, "")
	before := e.up.count()
	// One character changed: never the one already there (1 key in 62 has an "x" at 20).
	swap := byte('x')
	if k.Key[20] == swap {
		swap = 'y'
	}
	garbage := k.Key[:20] + string(swap) + k.Key[21:]
	tests := []struct {
		name   string
		path   string
		hdr    []string
		status int
		auth   string // expected in WWW-Authenticate
	}{
		{"no key", "/", nil, 401, `realm="sagate"`},
		{"basic scheme", "/", []string{"Authorization", "Basic YTpi"}, 401, `Bearer realm="sagate"`},
		{"bearer without key", "/", []string{"Authorization", "Bearer"}, 401, "invalid_token"},
		{"bad checksum", "/", []string{"Authorization", "Bearer " + garbage}, 401, "invalid_token"},
		{"trailing junk", "/", []string{"Authorization", "Bearer " + k.Key + " x"}, 401, "invalid_token"},
		{"two headers", "/", []string{"Authorization", "Bearer " + k.Key, "Authorization", "Bearer " + k.Key}, 400, "invalid_request"},
		{"key in query only", "/?access_token=" + k.Key + "&key=" + k.Key, nil, 401, `realm="sagate"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, hdr, body := s.getPath(t, tt.path, "", tt.hdr...)
			if code != tt.status {
				t.Fatalf("status = %d, want %d (%s)", code, tt.status, body)
			}
			if !strings.Contains(hdr.Get("WWW-Authenticate"), tt.auth) {
				t.Fatalf("WWW-Authenticate = %q, want it to contain %q", hdr.Get("WWW-Authenticate"), tt.auth)
			}
			if !strings.Contains(body, `"error"`) || strings.Contains(body, k.Key) {
				t.Fatalf("body must be a JSON error without the key: %s", body)
			}
		})
	}
	if e.up.count() != before {
		t.Fatal("a refused request reached the upstream")
	}
	if got := s.status(t, "", "Authorization", "bEaReR \t"+k.Key); got != http.StatusOK {
		t.Fatalf("scheme is case-insensitive and spaces/tabs separate: got %d", got)
	}
}
