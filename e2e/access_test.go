package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sagate/sagate/internal/testing/systest"
)

// startAuthProxy runs the real Caddy binary as an authenticating proxy in front of the
// admin: basic_auth checks people's passwords and header_up hands their name to the
// admin in X-Webauth-User (replacing any the client sent).
func startAuthProxy(t *testing.T, adminURL string, passwords map[string]string) string {
	t.Helper()
	bin := systest.Binaries(t)
	var users strings.Builder
	for user, pw := range passwords {
		out, err := exec.Command(filepath.Join(bin, "caddy"), "hash-password", "--plaintext", pw).Output()
		if err != nil {
			t.Fatalf("caddy hash-password: %v", err)
		}
		fmt.Fprintf(&users, "\t\t%s %s\n", user, strings.TrimSpace(string(out)))
	}
	addr, adminAddr := systest.Addr(t), systest.Addr(t)
	cfg := fmt.Sprintf(`{
	admin %s
	auto_https off
	persist_config off
}
http://%s {
	basic_auth {
%s	}
	reverse_proxy %s {
		header_up X-Webauth-User {http.auth.user.id}
		header_up -Authorization
	}
}
`, adminAddr, addr, users.String(), strings.TrimPrefix(adminURL, "http://"))
	file := filepath.Join(t.TempDir(), "Caddyfile")
	if err := os.WriteFile(file, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	systest.StartProc(t, "caddy", filepath.Join(bin, "caddy"), nil, "run", "--config", file, "--adapter", "caddyfile")
	url := "http://" + addr
	systest.WaitHTTP(t, url+"/healthz", http.StatusUnauthorized, 60*time.Second)
	return url
}

// personCall sends a request as user:password (no basic auth when user is "") with
// extra headers, through client hc.
func personCall(t *testing.T, hc *http.Client, method, url, user, password, body string, hdr ...string) (int, map[string]any) {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, url, rd)
	if err != nil {
		t.Fatal(err)
	}
	if user != "" {
		req.SetBasicAuth(user, password)
	}
	if body != "" || (method != "GET" && method != "HEAD") {
		req.Header.Set("Content-Type", "application/json")
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	res, err := hc.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer res.Body.Close()
	var out map[string]any
	_ = json.NewDecoder(res.Body).Decode(&out)
	return res.StatusCode, out
}

// TestPeopleBehindCaddy: people log in to a real Caddy with basic_auth; the admin takes
// their names from the header Caddy sets, because Caddy's address is trusted. The same
// header sent straight to the admin from another address is refused.
func TestPeopleBehindCaddy(t *testing.T) {
	e := newEnv(t, "--proxy-user-header", "X-Webauth-User", "--trusted-proxies", "127.0.0.1/32")
	e.admin.must(http.StatusCreated, "POST", "/v1/workspaces", map[string]any{"name": "ml"})
	e.admin.newAccount("ml", "bot", "")
	e.admin.must(http.StatusOK, "PUT", "/v1/workspaces/ml/projects/p1/people/alice", map[string]any{"role": "owner"})
	proxy := startAuthProxy(t, e.admin.url, map[string]string{"alice": "alice-password", "bob": "bob-password"})
	hc := http.DefaultClient

	code, who := personCall(t, hc, "GET", proxy+"/v1/whoami", "alice", "alice-password", "")
	if code != 200 || who["kind"] != "person" || who["name"] != "alice" || who["via"] != "127.0.0.1" {
		t.Fatalf("whoami as alice through caddy: %d %v", code, who)
	}
	if code, _ := personCall(t, hc, "GET", proxy+"/v1/whoami", "alice", "wrong", ""); code != 401 {
		t.Fatalf("a wrong password: %d, want caddy's 401", code)
	}
	grant := "/v1/workspaces/ml/projects/%s/service-accounts/bot"
	if code, out := personCall(t, hc, "PUT", proxy+fmt.Sprintf(grant, "p1"), "alice", "alice-password", `{"role": "viewer"}`); code != 200 {
		t.Fatalf("alice assigns bot on p1, which she owns: %d %v", code, out)
	}
	code, out := personCall(t, hc, "PUT", proxy+fmt.Sprintf(grant, "p2"), "alice", "alice-password", `{"role": "viewer"}`)
	if code != 403 || !strings.Contains(fmt.Sprint(out), "needs owner of project p2") {
		t.Fatalf("alice assigns bot on p2: %d %v", code, out)
	}
	// Bob claims to be alice: Caddy replaces the header with the name it checked.
	code, out = personCall(t, hc, "PUT", proxy+fmt.Sprintf(grant, "p1"), "bob", "bob-password", `{"role": "owner"}`, "X-Webauth-User", "alice")
	if code != 403 {
		t.Fatalf("bob, claiming to be alice through caddy: %d %v", code, out)
	}
	// The same header straight to the admin, from an address that is not the proxy's.
	d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP("127.0.0.2")}}
	direct := &http.Client{Transport: &http.Transport{DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
		return d.DialContext(ctx, network, addr)
	}}}
	code, out = personCall(t, direct, "PUT", e.admin.url+fmt.Sprintf(grant, "p1"), "", "", `{"role": "owner"}`, "X-Webauth-User", "alice")
	if code != 401 || !strings.Contains(fmt.Sprint(out), "trusted proxy") {
		t.Fatalf("X-Webauth-User straight from 127.0.0.2: %d %v", code, out)
	}

	// The audit trail names alice and the proxy she came through; bob and the forger changed nothing.
	audit := e.admin.must(http.StatusOK, "GET", "/v1/audit?workspace=ml", nil)
	items, _ := audit["items"].([]any)
	var byPerson int
	for _, it := range items {
		ev, _ := it.(map[string]any)
		p, _ := ev["principal"].(map[string]any)
		if p["kind"] == "person" {
			byPerson++
			if p["name"] != "alice" || p["via"] != "127.0.0.1" || ev["actor"] != "person:alice" || ev["action"] != "grant.set" {
				t.Errorf("audit entry by a person: %v", ev)
			}
		}
	}
	if byPerson != 1 {
		t.Errorf("audit entries by people = %d, want 1 (alice's)", byPerson)
	}
}
