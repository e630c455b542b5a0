package e2e

import (
	"encoding/base64"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
)

// Hostile input against the real sidecar, with handwritten HTTP/1.1
// where Go's client would refuse to send the request. Properties, for every case:
// never a 5xx, never a 200 without a live key, never a forged identity (header or
// trailer) at the upstream, never the key in an answer.

// identityNames are the headers sagate sets by default, lower case with '-'.
var identityNames = []string{"x-service-account-id", "x-service-account", "x-workspace", "x-api-key-id", "x-project", "x-project-role"}

// isIdentityName matches a header name in any case and '_' spelling.
func isIdentityName(name string) bool {
	n := strings.ToLower(strings.ReplaceAll(strings.TrimSpace(name), "_", "-"))
	for _, id := range identityNames {
		if n == id {
			return true
		}
	}
	return false
}

// caseRecorder is an upstream that reads each request fully and keeps its headers and
// trailers by the X-Case header the test sets.
type caseRecorder struct {
	srv *httptest.Server
	mu  sync.Mutex
	got map[string][]http.Header // case → header, trailer
}

func startCaseRecorder(t *testing.T) *caseRecorder {
	c := &caseRecorder{got: map[string][]http.Header{}}
	c.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		c.mu.Lock()
		c.got[r.Header.Get("X-Case")] = []http.Header{r.Header.Clone(), r.Trailer.Clone()}
		c.mu.Unlock()
		_, _ = io.WriteString(w, "upstream ok")
	}))
	t.Cleanup(c.srv.Close)
	return c
}

func (c *caseRecorder) cases() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []string
	for k := range c.got {
		out = append(out, k)
	}
	return out
}

func (c *caseRecorder) seen(name string) ([]http.Header, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	h, ok := c.got[name]
	return h, ok
}

// spoofed are client-sent identity headers in many spellings.
var spoofed = []string{
	"X-Service-Account: root@evil", "x-service-account-id: sa_evil", "X_SERVICE_ACCOUNT: root@evil",
	"X_Service_Account_Id: sa_evil", "x_workspace: evil", "X-WORKSPACE: evil", "X-Api-Key-Id: key_evil",
	"x_api_key_id: key_evil", "X-Project-Role: owner", "x_project_role: owner", "X_Project: secret",
}

func TestHostileRequestsToSidecar(t *testing.T) {
	e := newEnv(t)
	rec := startCaseRecorder(t)
	e.admin.must(http.StatusCreated, "POST", "/v1/workspaces", map[string]any{"name": "hostile"})
	out := e.admin.must(http.StatusCreated, "POST", "/v1/workspaces/hostile/service-accounts",
		map[string]any{"name": "bot", "all_projects_role": "viewer"})
	live := keyOf(t, out["api_key"])
	saID, _ := out["service_account"].(map[string]any)["id"].(string)
	revoked := e.admin.newAccount("hostile", "old", "viewer")
	e.admin.must(http.StatusNoContent, "DELETE", "/v1/workspaces/hostile/service-accounts/old/keys/"+revoked.ID, nil)
	s := startSidecar(t, e.redis.URL(), rec.srv.URL, "project {http.request.header.X-Project}")

	K := live.Key
	badSum := K[:len(K)-1] + string("0123456789abcdef"[(strings.IndexByte("0123456789abcdef", K[len(K)-1])+1)%16])
	if badSum == K {
		t.Fatal("bad checksum key equals the key")
	}
	big := func(n int) string { return strings.Repeat("a", n) }
	want := map[string]string{
		"X-Service-Account-Id": saID, "X-Service-Account": "bot@hostile", "X-Workspace": "hostile",
		"X-Api-Key-Id": live.ID, "X-Project": "p1", "X-Project-Role": "viewer",
	}
	with := func(lines ...string) []string { return append(lines, spoofed...) }

	tests := []struct {
		name   string
		path   string   // default /resource
		lines  []string // header lines; X-Project: p1 and X-Case are added
		raw    string   // a whole request instead (X-Case must be in it)
		status int      // exact status wanted; 0: any that keeps the properties
		live   bool     // the request carries exactly one live key: 200 is acceptable
	}{
		{name: "live key and spoofed identity", lines: with("Authorization: Bearer " + K), status: 200, live: true},
		{name: "Connection lists identity headers", lines: with("Authorization: Bearer "+K,
			"Connection: X-Service-Account, x_workspace", "Connection: X-Api-Key-Id, X-Project-Role"), status: 200, live: true},
		{name: "two Authorization headers", lines: with("Authorization: Bearer "+K, "Authorization: Bearer "+K), status: 400},
		{name: "Authorization in two cases", lines: []string{"Authorization: Bearer " + K, "authorization: Basic YTpi"}, status: 400},
		{name: "key in query string only", path: "/resource?access_token=" + K + "&api_key=" + K, status: 401},
		{name: "key in other headers only", lines: []string{"Proxy-Authorization: Bearer " + K, "X-Api-Key: " + K, "Cookie: token=" + K}, status: 401},
		{name: "empty Authorization", lines: []string{"Authorization:"}, status: 401},
		{name: "Bearer and no key", lines: []string{"Authorization: Bearer"}, status: 401},
		{name: "Bearer, spaces, no key", lines: []string{"Authorization: Bearer   \t "}, status: 401},
		{name: "spaces and tabs", lines: with("Authorization: \t bEaReR \t  " + K + " \t "), status: 200, live: true},
		{name: "no space after the colon", lines: []string{"Authorization:Bearer " + K}, status: 200, live: true},
		{name: "Basic scheme", lines: []string{"Authorization: Basic " + base64.StdEncoding.EncodeToString([]byte("bot:"+K))}, status: 401},
		{name: "Token scheme", lines: []string{"Authorization: Token " + K}, status: 401},
		{name: "scheme glued to the key", lines: []string{"Authorization: Bearer" + K}, status: 401},
		{name: "Bearer colon", lines: []string{"Authorization: Bearer: " + K}, status: 401},
		{name: "Bearer equals", lines: []string{"Authorization: Bearer=" + K}, status: 401},
		{name: "two keys in one header", lines: []string{"Authorization: Bearer " + K + ", Bearer " + K}, status: 401},
		{name: "key and trailing junk", lines: with("Authorization: Bearer " + K + " junk"), status: 401},
		{name: "key with a suffix", lines: []string{"Authorization: Bearer " + K + "x"}, status: 401},
		{name: "wrong checksum", lines: with("Authorization: Bearer " + badSum), status: 401},
		{name: "unknown key", lines: with("Authorization: Bearer " + unknownKey(t)), status: 401},
		{name: "revoked key and spoofed identity", lines: with("Authorization: Bearer " + revoked.Key), status: 401},
		{name: "16 KB Authorization", lines: []string{"Authorization: Bearer " + K + big(16<<10)}, status: 401},
		{name: "16 KB other header", lines: with("Authorization: Bearer "+K, "X-Junk: "+big(16<<10)), live: true},
		{name: "1 MB header without key", lines: []string{"X-Junk: " + big(1<<20)}},
		{name: "1 MB Authorization", lines: []string{"Authorization: Bearer " + K + big(1<<20)}},
		{name: "1 MB header with key", lines: with("Authorization: Bearer "+K, "X-Junk: "+big(1<<20)), live: true},
		{name: "NUL after the key", lines: []string{"Authorization: Bearer " + K + "\x00"}},
		{name: "NUL inside the key", lines: []string{"Authorization: Bearer " + K[:20] + "\x00" + K[21:]}},
		{name: "NUL in a spoofed header", lines: with("Authorization: Bearer "+K, "X-Service-Account: root\x00@evil"), live: true},
		{name: "CR injection", lines: []string{"Authorization: Bearer " + K + "\rX-Service-Account: root@evil"}},
		{name: "LF injection", lines: []string{"Authorization: Bearer " + K + "\nX-Service-Account: root@evil\nX_Workspace: evil"}, live: true},
		{name: "folded header", lines: []string{"Authorization: Bearer", " " + K}, live: true},
		{name: "space before the colon", lines: []string{"Authorization : Bearer " + K}},
		{name: "non-UTF-8 key", lines: []string{"Authorization: Bearer \xff\xfe\xfd" + K[3:]}, status: 401},
		{name: "non-UTF-8 in a spoofed header", lines: with("Authorization: Bearer "+K, "X-Workspace: \xff\xfe"), live: true},
		{name: "HTTP/1.0", raw: "GET /resource HTTP/1.0\r\nHost: HOST\r\nX-Case: HTTP/1.0\r\nX-Project: p1\r\nAuthorization: Bearer " + K + "\r\n" +
			strings.Join(spoofed, "\r\n") + "\r\n\r\n", status: 200, live: true},
		{name: "forged trailers", raw: "POST /resource HTTP/1.1\r\nHost: HOST\r\nX-Case: forged trailers\r\nX-Project: p1\r\n" +
			"Authorization: Bearer " + K + "\r\nTransfer-Encoding: chunked\r\nTrailer: X-Service-Account, X_Workspace\r\nConnection: close\r\n\r\n" +
			"5\r\nhello\r\n0\r\nX-Service-Account: root@evil\r\nX_Workspace: evil\r\nX-Project-Role: owner\r\n\r\n", status: 200, live: true},
		{name: "undeclared forged trailers", raw: "POST /resource HTTP/1.1\r\nHost: HOST\r\nX-Case: undeclared forged trailers\r\nX-Project: p1\r\n" +
			"Authorization: Bearer " + K + "\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n" +
			"5\r\nhello\r\n0\r\nX-Service-Account: root@evil\r\nX-Project-Role: owner\r\n\r\n", status: 200, live: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got rawResponse
			if tt.raw != "" {
				// HOST: the site's address (another Host matches no route of the site).
				host := strings.TrimPrefix(s.url, "http://")
				got = rawRequests(t, host, strings.ReplaceAll(tt.raw, "HOST", host), 1)[0]
			} else {
				path := tt.path
				if path == "" {
					path = "/resource"
				}
				lines := append([]string{"X-Case: " + tt.name, "X-Project: p1"}, tt.lines...)
				got = rawGetPath(t, s, path, lines...)
			}
			checkHostileAnswer(t, got, tt.status, tt.live, K)
			hdrs, reached := rec.seen(tt.name)
			if got.status != http.StatusOK {
				if reached {
					t.Fatalf("refused with %d but the upstream received it", got.status)
				}
				return
			}
			if !reached {
				t.Fatalf("200 but the upstream never received the request (answer %q; upstream saw %v)", got.body, rec.cases())
			}
			checkIdentity(t, hdrs[0], hdrs[1], want)
		})
	}

	// Keep-alive: a later request on the same connection is checked on its own.
	t.Run("second request on a kept-alive connection", func(t *testing.T) {
		host := strings.TrimPrefix(s.url, "http://")
		req := fmt.Sprintf("GET /a HTTP/1.1\r\nHost: %s\r\nX-Case: ka1\r\nX-Project: p1\r\nAuthorization: Bearer %s\r\n\r\n"+
			"GET /b HTTP/1.1\r\nHost: %s\r\nX-Case: ka2\r\n%s\r\nConnection: close\r\n\r\n", host, K, host, strings.Join(spoofed, "\r\n"))
		got := rawRequests(t, host, req, 2)
		if got[0].status != http.StatusOK || got[1].status != http.StatusUnauthorized {
			t.Fatalf("statuses = %d, %d; want 200, 401", got[0].status, got[1].status)
		}
		if _, reached := rec.seen("ka2"); reached {
			t.Fatal("the keyless second request reached the upstream")
		}
	})
}

// checkHostileAnswer checks the properties every answer keeps.
func checkHostileAnswer(t *testing.T, got rawResponse, status int, live bool, key string) {
	t.Helper()
	if got.status >= 500 {
		t.Fatalf("answer %d: a 5xx (%s)", got.status, got.body)
	}
	if got.status == http.StatusOK && !live {
		t.Fatalf("200 without a live key")
	}
	if status != 0 && got.status != status {
		t.Fatalf("status = %d, want %d (%s)", got.status, status, got.body)
	}
	if strings.Contains(got.body, key) {
		t.Fatal("the key appears in the answer's body")
	}
	for name, vs := range got.header {
		for _, v := range vs {
			if strings.Contains(v, key) {
				t.Fatalf("the key appears in the answer's %s header", name)
			}
		}
	}
	t.Logf("status %d", got.status)
}

// checkIdentity checks that the upstream saw exactly the identity sagate set: one value
// per header, equal to want, no other spelling of an identity name, none in
// Connection, none in the trailers, and no Authorization.
func checkIdentity(t *testing.T, hdr, trailer http.Header, want map[string]string) {
	t.Helper()
	for name, vs := range hdr {
		switch {
		case isIdentityName(name):
			w, ok := want[name]
			if !ok {
				t.Errorf("upstream received identity header %q spelled differently: %q", name, vs)
			} else if len(vs) != 1 || vs[0] != w {
				t.Errorf("upstream received %s = %q, want [%q]", name, vs, w)
			}
		case strings.EqualFold(name, "Connection"):
			for _, v := range vs {
				for _, tok := range strings.Split(v, ",") {
					if isIdentityName(tok) {
						t.Errorf("upstream received Connection: %q", v)
					}
				}
			}
		case strings.EqualFold(name, "Authorization"):
			t.Errorf("upstream received Authorization")
		}
	}
	for name := range want {
		if len(hdr.Values(name)) != 1 {
			t.Errorf("upstream did not receive %s", name)
		}
	}
	for name, vs := range trailer {
		if isIdentityName(name) {
			t.Errorf("upstream received identity trailer %s = %q", name, vs)
		}
	}
}

// rawGetPath is rawGet for another path.
func rawGetPath(t testing.TB, s *sidecar, path string, lines ...string) rawResponse {
	t.Helper()
	host := strings.TrimPrefix(s.url, "http://")
	var b strings.Builder
	fmt.Fprintf(&b, "GET %s HTTP/1.1\r\nHost: %s\r\n", path, host)
	for _, l := range lines {
		b.WriteString(l + "\r\n")
	}
	b.WriteString("Connection: close\r\n\r\n")
	return rawRequests(t, host, b.String(), 1)[0]
}

// End to end against the real `sagate serve`: hostile admin requests get a
// precise 4xx and leave nothing behind (the admin package has the full table).
func TestHostileAdminRequests(t *testing.T) {
	e := newEnv(t)
	e.admin.must(http.StatusCreated, "POST", "/v1/workspaces", map[string]any{"name": "mine"})
	e.admin.must(http.StatusCreated, "POST", "/v1/workspaces", map[string]any{"name": "theirs"})
	e.admin.newAccount("mine", "bot", "")
	out := e.admin.must(http.StatusCreated, "POST", "/v1/workspaces/theirs/service-accounts", map[string]any{"name": "victim"})
	victimID, _ := out["service_account"].(map[string]any)["id"].(string)

	sas := "/v1/workspaces/mine/service-accounts"
	tests := []struct {
		name, method, path, body string
		status                   int
	}{
		{"malformed JSON", "POST", sas, `{"name": "x"`, 400},
		{"unknown field", "POST", sas, `{"name": "x2", "is_admin": true}`, 400},
		{"huge body", "POST", sas, `{"name": "x3", "description": "` + strings.Repeat("a", 4<<20) + `"}`, 413},
		{"unicode name", "POST", sas, `{"name": "bøt-ʼ"}`, 400},
		{"SQL metacharacters", "POST", sas, `{"name": "x'); DROP TABLE service_accounts;--"}`, 400},
		{"negative duration", "POST", sas, `{"name": "x4", "key_expires_in": "-1h"}`, 400},
		{"absurd duration", "POST", sas, `{"name": "x5", "key_expires_in": "99999999999d"}`, 400},
		{"role that does not exist", "POST", sas, `{"name": "x6", "all_projects_role": "god"}`, 400},
		{"grant a role that does not exist", "PUT", "/v1/workspaces/mine/projects/p1/service-accounts/bot", `{"role": "root"}`, 400},
		{"key for another workspace's account", "POST", sas + "/" + victimID + "/keys", `{}`, 404},
		{"deactivate another workspace's account", "POST", sas + "/" + victimID + "/deactivate", ``, 404},
	}
	auditBefore := len(e.admin.must(http.StatusOK, "GET", "/v1/audit?page_size=1000", nil)["items"].([]any))
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, _ := http.NewRequest(tt.method, e.admin.url+tt.path, strings.NewReader(tt.body))
			req.Header.Set("Authorization", "Bearer "+adminToken)
			req.Header.Set("Content-Type", "application/json")
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatalf("%s %s: %v", tt.method, tt.path, err)
			}
			raw, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != tt.status || !strings.Contains(string(raw), `"code"`) {
				t.Fatalf("%s %s = %d %s, want %d with an error code", tt.method, tt.path, resp.StatusCode, raw, tt.status)
			}
		})
	}
	// Nothing stored, nothing half-done.
	if n := len(e.admin.must(http.StatusOK, "GET", sas, nil)["items"].([]any)); n != 1 {
		t.Errorf("workspace mine has %d accounts after the hostile requests, want 1", n)
	}
	if n := len(e.admin.must(http.StatusOK, "GET", "/v1/workspaces/theirs/service-accounts/victim/keys", nil)["items"].([]any)); n != 1 {
		t.Errorf("the other workspace's account has %d keys, want 1", n)
	}
	victim := e.admin.must(http.StatusOK, "GET", "/v1/workspaces/theirs/service-accounts/victim", nil)
	if victim["state"] != "active" {
		t.Errorf("the other workspace's account is %v, want active", victim["state"])
	}
	if n := len(e.admin.must(http.StatusOK, "GET", "/v1/audit?page_size=1000", nil)["items"].([]any)); n != auditBefore {
		t.Errorf("audit trail grew from %d to %d entries", auditBefore, n)
	}
}
