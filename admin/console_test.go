package admin_test

import (
	"context"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/sagate/sagate/admin"
	"github.com/sagate/sagate/admin/admintest"
	"github.com/sagate/sagate/keystore"
	"github.com/sagate/sagate/keystore/sqlstore"
)

// newService returns a Service over a fresh SQLite store.
func newService(t *testing.T) *keystore.Service {
	t.Helper()
	st, err := sqlstore.Open(context.Background(), "sqlite://"+filepath.Join(t.TempDir(), "a.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })
	svc, err := keystore.NewService(st, keystore.ServiceOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return svc
}

// consoleServer starts an admin server over a fresh SQLite store, with or without the console.
func consoleServer(t *testing.T, console bool) *httptest.Server {
	t.Helper()
	svc := newService(t)
	srv, err := admin.NewServer(admin.Config{Token: admintest.Token, Service: svc, Console: console})
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(srv)
	t.Cleanup(hs.Close)
	return hs
}

func TestConsoleMountedWithTheAdminToken(t *testing.T) {
	hs := consoleServer(t, true)
	jar, _ := cookiejar.New(nil)
	c := &http.Client{Jar: jar}
	get := func(p string) (int, string) {
		t.Helper()
		resp, err := c.Get(hs.URL + p)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	code, body := get("/console")
	if code != http.StatusOK || !strings.Contains(body, `name="credential"`) {
		t.Fatalf("/console: %d, want the sign-in page after redirects", code)
	}
	token := regexp.MustCompile(`name="csrf" value="([^"]+)"`).FindStringSubmatch(body)[1]
	post := func(cred string) (int, string) {
		t.Helper()
		req, _ := http.NewRequest(http.MethodPost, hs.URL+"/console/sign-in",
			strings.NewReader(url.Values{"credential": {cred}, "csrf": {token}}.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("Origin", hs.URL)
		resp, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	if code, _ := post("wrong-token-0123456789abcdef"); code != http.StatusUnauthorized {
		t.Fatalf("wrong token: %d", code)
	}
	if code, body := post(admintest.Token); code != http.StatusOK || !strings.Contains(body, "operator admin") {
		t.Fatalf("admin token: %d", code)
	}
	// The API still wants its Bearer token: a console session is no API credential.
	if code, _ := get("/v1/workspaces"); code != http.StatusUnauthorized {
		t.Fatalf("/v1 with only a console session: %d", code)
	}
}

func TestConsoleOff(t *testing.T) {
	hs := consoleServer(t, false)
	resp, err := http.Get(hs.URL + "/console/sign-in")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNotFound {
		t.Fatalf("/console/sign-in without the console: %d", resp.StatusCode)
	}
}

// TestConsoleSignsInTheProxysPerson: a person named by the auth proxy, from a trusted
// address, is signed in without pasting anything and sees the workspace it administers;
// the same header from an untrusted address signs no one in.
func TestConsoleSignsInTheProxysPerson(t *testing.T) {
	svc := newService(t)
	op := keystore.WithPrincipal(context.Background(), keystore.Operator("seed"))
	if _, err := svc.CreateWorkspace(op, "acme", 0); err != nil {
		t.Fatal(err)
	}
	if _, _, err := svc.SetWorkspaceAdmin(op, "acme", "person:carol"); err != nil {
		t.Fatal(err)
	}
	open := func(trusted string) *httptest.Server {
		proxies, err := admin.ParseTrustedProxies(trusted)
		if err != nil {
			t.Fatal(err)
		}
		srv, err := admin.NewServer(admin.Config{Token: admintest.Token, Service: svc, Console: true,
			ProxyUserHeader: "X-Auth-User", TrustedProxies: proxies})
		if err != nil {
			t.Fatal(err)
		}
		hs := httptest.NewServer(srv)
		t.Cleanup(hs.Close)
		return hs
	}
	get := func(hs *httptest.Server, user string) (int, string) {
		t.Helper()
		jar, _ := cookiejar.New(nil)
		req, _ := http.NewRequest(http.MethodGet, hs.URL+"/console/", nil)
		req.Header.Set("X-Auth-User", user)
		c := &http.Client{Jar: jar, CheckRedirect: func(r *http.Request, via []*http.Request) error {
			r.Header.Set("X-Auth-User", user) // the proxy sends it on every request
			return nil
		}}
		resp, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, resp.Request.URL.Path + "\n" + string(b)
	}
	code, body := get(open("127.0.0.1"), "carol")
	if code != http.StatusOK || !strings.HasPrefix(body, "/console/w/acme/accounts\n") || !strings.Contains(body, "person carol") {
		t.Fatalf("carol through the proxy: %d %.60q", code, body)
	}
	code, body = get(open("10.9.9.9"), "carol")
	if code != http.StatusOK || !strings.HasPrefix(body, "/console/sign-in\n") {
		t.Fatalf("carol from an untrusted address: %d %.60q", code, body)
	}
}

// TestConsoleSessionEndsWithItsOperator: a console session keeps only the operator
// token's hash and checks it on every request, so removing the operator from the
// operators file ends the session at the next click.
func TestConsoleSessionEndsWithItsOperator(t *testing.T) {
	svc := newService(t)
	ops := filepath.Join(t.TempDir(), "operators")
	const carol = "carol-04a25d62126a39b7556d7bb7fafda3205194538af5f4d8663bd2dacd72df5dda"
	if err := os.WriteFile(ops, []byte("carol "+carol+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	srv, err := admin.NewServer(admin.Config{Token: admintest.Token, OperatorsFile: ops, Service: svc, Console: true})
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(srv)
	t.Cleanup(hs.Close)
	jar, _ := cookiejar.New(nil)
	c := &http.Client{Jar: jar}
	get := func(p string) string {
		t.Helper()
		resp, err := c.Get(hs.URL + p)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return string(b)
	}
	token := regexp.MustCompile(`name="csrf" value="([^"]+)"`).FindStringSubmatch(get("/console/sign-in"))[1]
	req, _ := http.NewRequest(http.MethodPost, hs.URL+"/console/sign-in", strings.NewReader(url.Values{"credential": {carol}, "csrf": {token}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Origin", hs.URL)
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if body := get("/console/workspaces"); !strings.Contains(body, "operator carol") {
		t.Fatal("carol is not signed in")
	}
	if err := os.WriteFile(ops, []byte("# carol left\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	admin.CheckOperators(srv)
	if body := get("/console/workspaces"); !strings.Contains(body, "Your session ended") || strings.Contains(body, "operator carol") {
		t.Fatal("carol's session outlived her removal from the operators file")
	}
}
