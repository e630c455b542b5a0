package admin_test

import (
	"context"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/sagate/sagate/admin"
	"github.com/sagate/sagate/admin/admintest"
	"github.com/sagate/sagate/keystore"
)

// consoleServer starts an admin server over a fresh SQLite store, with or without the console.
func consoleServer(t *testing.T, console bool) *httptest.Server {
	t.Helper()
	st, err := keystore.Open(context.Background(), "sqlite://"+filepath.Join(t.TempDir(), "a.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })
	svc, err := keystore.NewService(st, keystore.ServiceOptions{})
	if err != nil {
		t.Fatal(err)
	}
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
	if code, body := post(admintest.Token); code != http.StatusOK || !strings.Contains(body, "operator (admin token)") {
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
