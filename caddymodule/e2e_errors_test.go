package caddymodule

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/sagate/sagate/internal/testing/redistest"
	"github.com/sagate/sagate/keystore/wire"
)

// TestHandleErrors: with handle_errors, a refusal goes to the site's handle_errors
// routes with its status, protocol headers and placeholders; without such routes
// Caddy answers the bare status. An allowed request is not affected.
func TestHandleErrors(t *testing.T) {
	st := newStore(t)
	up := newUpstream(t)
	routed, bare, down := newSidecarURL(t), newSidecarURL(t), newSidecarURL(t)
	deadRedis := fmt.Sprintf("redis://127.0.0.1:%d/0", redistest.FreePort(t))
	loadCaddy(t, globalOptions+fmt.Sprintf(`
%[1]s {
	sagate {
		redis %[4]s
		%[5]s
		workspace ml-team
		handle_errors
	}
	reverse_proxy %[6]s
	handle_errors {
		respond "{http.error.status_code} {sagate.refusal} {sagate.refusal.error} {http.auth.sagate.error}|{sagate.refusal.description}" {http.error.status_code}
	}
}
%[2]s {
	sagate {
		redis %[4]s
		%[5]s
		workspace *
		handle_errors true
	}
	reverse_proxy %[6]s
}
%[3]s {
	sagate {
		redis %[7]s
		%[5]s
		workspace *
		lookup_timeout 200ms
		handle_errors
	}
	reverse_proxy %[6]s
	handle_errors {
		respond "{http.error.status_code} {sagate.refusal}" {http.error.status_code}
	}
}
`, routed.url, bare.url, down.url, st.sidecarURL(), trusted(t), up.URL, deadRedis))

	member := st.newAccount("ci-bot", "ml-team", map[string]wire.Role{"p1": wire.RoleViewer})
	outsider := st.newAccount("intruder", "other-team", nil)
	unknown := st.newAccount("ghost", "ml-team", nil)
	st.revoke(unknown)

	tests := []struct {
		name     string
		site     sidecar
		auth     string
		status   int
		body     string
		www      string
		retry    string
		upstream bool
	}{
		{"allowed", routed, "Bearer " + member.key, http.StatusOK, "", "", "", true},
		{"no key", routed, "", http.StatusUnauthorized,
			"401 no_key unauthorized a bearer key is required|a bearer key is required",
			`Bearer realm="sagate"`, "", false},
		{"revoked key", routed, "Bearer " + unknown.key, http.StatusUnauthorized,
			"401 unknown invalid_token the key is unknown, revoked or deactivated|the key is unknown, revoked or deactivated",
			`Bearer realm="sagate", error="invalid_token", error_description="the key is unknown, revoked or deactivated"`, "", false},
		{"other workspace", routed, "Bearer " + outsider.key, http.StatusForbidden,
			"403 workspace insufficient_scope the key belongs to another workspace|the key belongs to another workspace",
			`Bearer realm="sagate", error="insufficient_scope", error_description="the key belongs to another workspace"`, "", false},
		{"bare status", bare, "", http.StatusUnauthorized, "", `Bearer realm="sagate"`, "", false},
		{"redis down", down, "Bearer " + member.key, http.StatusServiceUnavailable, "503 unavailable", "", "1", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			before := up.count()
			a := tc.site.do(t, "/", tc.auth)
			if a.status != tc.status {
				t.Fatalf("status %d, want %d (body %q)", a.status, tc.status, a.body)
			}
			if tc.upstream {
				if up.count() != before+1 {
					t.Errorf("an allowed request did not reach the upstream")
				}
				return
			}
			if up.count() != before {
				t.Errorf("a refused request reached the upstream")
			}
			if a.body != tc.body {
				t.Errorf("body %q, want %q", a.body, tc.body)
			}
			if a.www != tc.www {
				t.Errorf("WWW-Authenticate %q, want %q", a.www, tc.www)
			}
			if got := a.header.Get("Retry-After"); got != tc.retry {
				t.Errorf("Retry-After %q, want %q", got, tc.retry)
			}
			if got := a.header.Get("Cache-Control"); got != "no-store" {
				t.Errorf("Cache-Control %q, want no-store", got)
			}
		})
	}
}

// TestHandleErrorsAsDocumented runs the handle_errors example of docs/operations.md.
func TestHandleErrorsAsDocumented(t *testing.T) {
	st := newStore(t)
	up := newUpstream(t)
	sc := newSidecarURL(t)
	loadCaddy(t, docCaddyfile(t, "../docs/operations.md", "handle-errors", sc, st,
		map[string]string{"127.0.0.1:9000": strings.TrimPrefix(up.URL, "http://")}))
	member := st.newAccount("ci-bot", "ml-team", nil)
	outsider := st.newAccount("intruder", "other-team", nil)
	waitUntil(t, "the member's key passes", func() bool { return sc.do(t, "/", "Bearer "+member.key).status == http.StatusOK })

	a := sc.do(t, "/", "Bearer "+outsider.key)
	if a.status != http.StatusForbidden {
		t.Fatalf("another workspace's key: %d %q", a.status, a.body)
	}
	var body struct{ Code, Message string }
	if err := json.Unmarshal([]byte(a.body), &body); err != nil {
		t.Fatalf("the handle_errors body is not the documented JSON: %q: %v", a.body, err)
	}
	if body.Code != "insufficient_scope" || body.Message != "the key belongs to another workspace" {
		t.Errorf("body %+v", body)
	}
}
