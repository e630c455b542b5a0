package admin_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/sagate/sagate/admin"
	"github.com/sagate/sagate/admin/admintest"
	"github.com/sagate/sagate/keystore"
)

func TestAuth(t *testing.T) {
	h := newHarness(t, admintest.Options{})
	h.workspace("ml-team")
	cases := []struct {
		name string
		auth []string // Authorization values; none: header absent
	}{
		{"absent", nil},
		{"empty", []string{""}},
		{"other scheme", []string{"Basic " + h.Token}},
		{"no credential", []string{"Bearer"}},
		{"wrong token", []string{"Bearer wrong-token-0123456789abcdef"}},
		{"token prefix", []string{"Bearer " + h.Token[:len(h.Token)-1]}},
		{"token plus junk", []string{"Bearer " + h.Token + "x"}},
		{"two headers", []string{"Bearer " + h.Token, "Bearer " + h.Token}},
		{"an issued key", []string{"Bearer sak_0000000000000000000000000000000000000000000000000"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			for _, path := range []string{"/v1/workspaces", "/v1/no-such-route", "/v1", "/v1/../v1/workspaces"} {
				req, err := http.NewRequest("GET", h.URL+path, nil)
				if err != nil {
					t.Fatal(err)
				}
				for _, v := range c.auth {
					req.Header.Add("Authorization", v)
				}
				res, err := http.DefaultClient.Do(req)
				if err != nil {
					t.Fatal(err)
				}
				res.Body.Close()
				if res.StatusCode != http.StatusUnauthorized {
					t.Fatalf("GET %s: status %d, want 401", path, res.StatusCode)
				}
				if got := res.Header.Get("WWW-Authenticate"); !strings.HasPrefix(got, "Bearer realm=") {
					t.Fatalf("GET %s: WWW-Authenticate %q", path, got)
				}
			}
		})
	}
	t.Run("scheme is case-insensitive", func(t *testing.T) {
		h.must(http.StatusOK, "GET", "/v1/workspaces", "", "Authorization", "bearer "+h.Token)
	})
	t.Run("open routes need no token", func(t *testing.T) {
		for _, p := range []string{"/healthz", "/readyz", "/metrics"} {
			h.must(http.StatusOK, "GET", p, "", "Authorization", "")
		}
	})
	r := h.fail(http.StatusUnauthorized, admin.CodeUnauthenticated, "GET", "/v1/workspaces", "", "Authorization", "Bearer nope")
	if strings.Contains(string(r.Body), "nope") {
		t.Fatalf("the 401 body echoes the credential: %s", r.Body)
	}
}

func TestRouting(t *testing.T) {
	h := newHarness(t, admintest.Options{})
	h.workspace("ml-team")
	t.Run("unknown route", func(t *testing.T) {
		for _, p := range []string{"/v1/nope", "/v1/workspaces/ml-team/nope", "/nope", "/v2/workspaces"} {
			h.fail(http.StatusNotFound, admin.CodeNotFound, "GET", p, "")
		}
	})
	cases := []struct {
		method, path, allow string
	}{
		{"DELETE", "/v1/workspaces", "GET, HEAD, POST"},
		{"PUT", "/v1/workspaces/ml-team/service-accounts", "GET, HEAD, POST"},
		{"POST", "/v1/workspaces/ml-team/service-accounts/bot", "DELETE, GET, HEAD, PATCH"},
		{"GET", "/v1/workspaces/ml-team/service-accounts/bot/deactivate", "POST"},
		{"GET", "/v1/workspaces/ml-team/service-accounts/bot/keys/abc123/rotate", "POST"},
		{"POST", "/v1/workspaces/ml-team/projects/p/service-accounts/bot", "DELETE, PUT"},
		{"POST", "/v1/audit", "GET, HEAD"},
		{"POST", "/healthz", "GET, HEAD"},
	}
	for _, c := range cases {
		t.Run(c.method+" "+c.path, func(t *testing.T) {
			r := h.fail(http.StatusMethodNotAllowed, admin.CodeMethodNotAllowed, c.method, c.path, "")
			if got := r.Header.Get("Allow"); got != c.allow {
				t.Fatalf("Allow %q, want %q", got, c.allow)
			}
		})
	}
}

func TestRequestBodies(t *testing.T) {
	h := newHarness(t, admintest.Options{})
	h.workspace("ml-team")
	h.account("ml-team", "bot")
	const sas = "/v1/workspaces/ml-team/service-accounts"
	huge := `{"name": "x", "description": "` + strings.Repeat("a", admin.DefaultMaxBodyBytes) + `"}`
	cases := []struct {
		name, method, path, body string
		hdr                      []string
		status                   int
		code                     string
	}{
		{"malformed", "POST", "/v1/workspaces", `{"name": `, nil, 400, admin.CodeInvalid},
		{"not an object", "POST", "/v1/workspaces", `["ws"]`, nil, 400, admin.CodeInvalid},
		{"unknown field", "POST", "/v1/workspaces", `{"name": "ws2", "owner": "me"}`, nil, 400, admin.CodeInvalid},
		{"trailing data", "POST", "/v1/workspaces", `{"name": "ws2"} {"name": "ws3"}`, nil, 400, admin.CodeInvalid},
		{"trailing junk", "POST", "/v1/workspaces", `{"name": "ws2"}x`, nil, 400, admin.CodeInvalid},
		{"wrong type", "POST", "/v1/workspaces", `{"name": 7}`, nil, 400, admin.CodeInvalid},
		{"wrong content type", "POST", "/v1/workspaces", `{"name": "ws2"}`, []string{"Content-Type", "text/plain"}, 415, admin.CodeUnsupportedMediaType},
		{"empty body", "POST", "/v1/workspaces", ``, nil, 400, admin.CodeInvalid},
		{"huge body", "POST", sas, huge, nil, 413, admin.CodeTooLarge},
		{"unicode name", "POST", "/v1/workspaces", `{"name": "wörk"}`, nil, 400, admin.CodeInvalid},
		{"sql name", "POST", "/v1/workspaces", `{"name": "x'; DROP TABLE workspaces;--"}`, nil, 400, admin.CodeInvalid},
		{"negative max", "POST", "/v1/workspaces", `{"name": "ws2", "max_service_accounts": -1}`, nil, 400, admin.CodeInvalid},
		{"absurd max", "POST", "/v1/workspaces", `{"name": "ws2", "max_service_accounts": 1e12}`, nil, 400, admin.CodeInvalid},
		{"sa unicode name", "POST", sas, `{"name": "bøt"}`, nil, 400, admin.CodeInvalid},
		{"sa sql name", "POST", sas, `{"name": "bot\" OR 1=1 --"}`, nil, 400, admin.CodeInvalid},
		{"sa upper-case name", "POST", sas, `{"name": "Bot"}`, nil, 400, admin.CodeInvalid},
		{"sa long name", "POST", sas, js(map[string]string{"name": "a" + strings.Repeat("b", 63)}), nil, 400, admin.CodeInvalid},
		{"sa control chars in description", "POST", sas, `{"name": "bot2", "description": "a\u0000b"}`, nil, 400, admin.CodeInvalid},
		{"sa unknown role", "POST", sas, `{"name": "bot2", "all_projects_role": "admin"}`, nil, 400, admin.CodeInvalid},
		{"sa role case", "POST", sas, `{"name": "bot2", "all_projects_role": "Owner"}`, nil, 400, admin.CodeInvalid},
		{"sa negative expiry", "POST", sas, `{"name": "bot2", "key_expires_in": "-1h"}`, nil, 400, admin.CodeInvalid},
		{"sa zero expiry", "POST", sas, `{"name": "bot2", "key_expires_in": "0"}`, nil, 400, admin.CodeInvalid},
		{"sa absurd expiry", "POST", sas, `{"name": "bot2", "key_expires_in": "99999d"}`, nil, 400, admin.CodeInvalid},
		{"sa garbage expiry", "POST", sas, `{"name": "bot2", "key_expires_in": "soon"}`, nil, 400, admin.CodeInvalid},
		{"sa numeric expiry", "POST", sas, `{"name": "bot2", "key_expires_in": 3600}`, nil, 400, admin.CodeInvalid},
		{"sa expiry without key", "POST", sas, `{"name": "bot2", "create_key": false, "key_expires_in": "1d"}`, nil, 400, admin.CodeInvalid},
		{"key bad name", "POST", sas + "/bot/keys", `{"name": "a b"}`, nil, 400, admin.CodeInvalid},
		{"key negative expiry", "POST", sas + "/bot/keys", `{"expires_in": "-5m"}`, nil, 400, admin.CodeInvalid},
		{"key unknown field", "POST", sas + "/bot/keys", `{"expires": "5m"}`, nil, 400, admin.CodeInvalid},
		{"patch unknown field", "PATCH", sas + "/bot", `{"name": "other"}`, nil, 400, admin.CodeInvalid},
		{"grant unknown role", "PUT", "/v1/workspaces/ml-team/projects/p1/service-accounts/bot", `{"role": "root"}`, nil, 400, admin.CodeInvalid},
		{"grant no role", "PUT", "/v1/workspaces/ml-team/projects/p1/service-accounts/bot", `{}`, nil, 400, admin.CodeInvalid},
		{"grant bad project", "PUT", "/v1/workspaces/ml-team/projects/%3Bdrop/service-accounts/bot", `{"role": "viewer"}`, nil, 400, admin.CodeInvalid},
		{"bad page size", "GET", sas + "?page_size=0", "", nil, 400, admin.CodeInvalid},
		{"huge page size", "GET", sas + "?page_size=100000", "", nil, 400, admin.CodeInvalid},
		{"text page size", "GET", sas + "?page_size=ten", "", nil, 400, admin.CodeInvalid},
		{"bad page token", "GET", sas + "?page_token=garbage!!", "", nil, 400, admin.CodeInvalid},
		{"actor header", "POST", "/v1/workspaces", `{"name": "ws2"}`, []string{admin.ActorHeader, "alice"}, 400, admin.CodeInvalid},
		{"unknown workspace", "POST", "/v1/workspaces/nope/service-accounts", `{"name": "bot2"}`, nil, 404, admin.CodeNotFound},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := h.fail(c.status, c.code, c.method, c.path, c.body, c.hdr...)
			if c.name == "huge body" && len(r.Body) > 1024 {
				t.Fatalf("the 413 answer echoes the body (%d bytes)", len(r.Body))
			}
		})
	}
	// Nothing was stored by the refused requests.
	wss := decode[admin.List[keystore.Workspace]](t, h.must(200, "GET", "/v1/workspaces", ""))
	if len(wss.Items) != 1 || wss.Items[0].Name != "ml-team" {
		t.Fatalf("workspaces after refused requests: %+v", wss.Items)
	}
	accts := decode[admin.List[keystore.ServiceAccount]](t, h.must(200, "GET", sas, ""))
	if len(accts.Items) != 1 || accts.Items[0].Name != "bot" {
		t.Fatalf("accounts after refused requests: %+v", accts.Items)
	}
	keys := decode[admin.List[keystore.APIKey]](t, h.must(200, "GET", sas+"/bot/keys", ""))
	if len(keys.Items) != 1 {
		t.Fatalf("keys after refused requests: %+v", keys.Items)
	}
	grants := decode[admin.List[keystore.Grant]](t, h.must(200, "GET", "/v1/workspaces/ml-team/projects/p1/service-accounts", ""))
	if len(grants.Items) != 0 {
		t.Fatalf("grants after refused requests: %+v", grants.Items)
	}
}
