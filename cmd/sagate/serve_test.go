package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/sagate/sagate/admin/admintest"
	"github.com/sagate/sagate/internal/testing/redistest"
	"github.com/sagate/sagate/keystore"
	"github.com/sagate/sagate/keystore/wire"
)

const serveToken = "serve-test-a9cd65e1af0d56f1361c9a8363a9d6c2b1c4d8e3f9c2d7f1e4b8a3c6d0e5f2a7"

func TestServeRefuses(t *testing.T) {
	dir := t.TempDir()
	write := func(name, content string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	empty := write("empty", "\n")
	short := write("short", "abc\n")
	good := write("good", serveToken+"\n")
	weak := write("weak", "0123456789abcdef0123\n")
	open := write("open", serveToken+"\n")
	if err := os.Chmod(open, 0o640); err != nil {
		t.Fatal(err)
	}
	openOps := write("open-ops", "alice "+serveToken+"\n")
	if err := os.Chmod(openOps, 0o604); err != nil {
		t.Fatal(err)
	}
	db := "sqlite://" + filepath.Join(dir, "sagate.db")
	cases := []struct {
		name string
		env  map[string]string
		args []string
		want string
	}{
		{"no token", nil, nil, "refusing to start without an admin token"},
		{"memorable token", map[string]string{envAdminToken: "my-super-secret-admin-token"}, nil, "too predictable"},
		{"token for a cluster", map[string]string{envAdminToken: "admin-token-for-prod-cluster"}, nil, "too predictable"},
		{"a pangram token", map[string]string{envAdminToken: "thequickbrownfoxjumpsoverthelazydog"}, nil, "too predictable"},
		{"token file open to the group", nil, []string{"--admin-token-file", open}, "chmod 600"},
		{"operators file open to others", nil, []string{"--operators-file", openOps}, "chmod 600"},
		{"every interface over plain http", nil, []string{"--admin-token-file", good, "--listen", "0.0.0.0:0"}, "--insecure-plain-http"},
		{"all interfaces, short form", nil, []string{"--admin-token-file", good, "--listen", ":0"}, "not a loopback address"},
		{"blank env token", map[string]string{envAdminToken: "   "}, nil, "refusing to start without an admin token"},
		{"short env token", map[string]string{envAdminToken: "short-token"}, nil, "shorter than 16"},
		{"repeated-letter env token", map[string]string{envAdminToken: "aaaaaaaaaaaaaaaa"}, nil, "too predictable"},
		{"weak token file", nil, []string{"--admin-token-file", weak}, "too predictable"},
		{"empty token file", nil, []string{"--admin-token-file", empty}, "is empty"},
		{"short token file", map[string]string{envAdminToken: serveToken}, []string{"--admin-token-file", short}, "shorter than 16"},
		{"missing token file", nil, []string{"--admin-token-file", filepath.Join(dir, "nope")}, "reading --admin-token-file"},
		{"bad redis url", nil, []string{"--admin-token-file", good, "--redis", "redis://user:hunter2pass@[::1"}, "parsing --redis"},
		{"bad redis scheme", nil, []string{"--admin-token-file", good, "--redis", "http://127.0.0.1:6379"}, "parsing --redis"},
		{"bad store", nil, []string{"--admin-token-file", good, "--store", "mysql://db"}, "unsupported scheme"},
		{"bad log level", nil, []string{"--admin-token-file", good, "--log-level", "loud"}, "--log-level"},
		{"bad interval", nil, []string{"--admin-token-file", good, "--reconcile-interval", "0s"}, "--reconcile-interval"},
		{"tls cert without key", nil, []string{"--admin-token-file", good, "--tls-cert", good}, "--tls-cert and --tls-key go together"},
		{"tls files not a certificate", nil, []string{"--admin-token-file", good, "--tls-cert", good, "--tls-key", good}, "loading the TLS certificate"},
		{"stray argument", nil, []string{"--admin-token-file", good, "now"}, "takes 0 argument"},
		{"proxy header alone", nil, []string{"--admin-token-file", good, "--proxy-user-header", "X-Webauth-User"}, "go together"},
		{"trusted proxies alone", nil, []string{"--admin-token-file", good, "--trusted-proxies", "10.0.0.1"}, "go together"},
		{"bad trusted proxy", nil, []string{"--admin-token-file", good, "--proxy-user-header", "X-U", "--trusted-proxies", "proxy.local"}, "--trusted-proxies"},
		{"bad operators file", nil, []string{"--operators-file", write("ops", "alice short-token\n")}, "shorter than 16"},
		{"operators file and a short token", map[string]string{envAdminToken: "short-token"}, []string{"--operators-file", write("ops2", "alice "+serveToken+"\n")}, "shorter than 16"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			args := append([]string{"serve", "--listen", "127.0.0.1:0", "--store", db}, c.args...)
			r := runWith(t, c.env, args...)
			if (r.code != exitError && r.code != exitUsage) || !strings.Contains(r.stderr, c.want) {
				t.Fatalf("exit %d, stderr %q; want 1 or 2 and %q", r.code, r.stderr, c.want)
			}
			for _, secret := range []string{serveToken, "hunter2pass", "short-token", "aaaaaaaaaaaaaaaa", "0123456789abcdef0123",
				"my-super-secret-admin-token", "admin-token-for-prod-cluster", "thequickbrownfoxjumpsoverthelazydog"} {
				if strings.Contains(r.stderr, secret) {
					t.Fatalf("stderr shows a secret: %q", r.stderr)
				}
			}
		})
	}
}

// serving runs sagate serve in the background until the returned stop is called;
// stop returns its exit status and stderr.
func serving(t *testing.T, vars map[string]string, args ...string) (base string, stop func() result) {
	t.Helper()
	port := redistest.FreePort(t)
	base = "http://127.0.0.1:" + strconv.Itoa(port)
	ctx, cancel := context.WithCancel(context.Background())
	var out, errb syncBuffer
	done := make(chan int, 1)
	go func() {
		done <- run(ctx, append([]string{"serve", "--listen", "127.0.0.1:" + strconv.Itoa(port)}, args...), envOf(vars), &out, &errb)
	}()
	stopped := false
	stop = func() result {
		if !stopped {
			stopped = true
			cancel()
			return result{code: <-done, stdout: out.String(), stderr: errb.String()}
		}
		return result{}
	}
	t.Cleanup(func() { stop() })
	admintest.Eventually(t, 15*time.Second, "sagate serve to be ready", func() error {
		select {
		case code := <-done:
			stopped = true
			t.Fatalf("sagate serve exited %d: %s", code, errb.String())
		default:
		}
		res, err := http.Get(base + "/readyz")
		if err != nil {
			return err
		}
		res.Body.Close()
		if res.StatusCode != http.StatusOK {
			return fmt.Errorf("readyz %d", res.StatusCode)
		}
		return nil
	})
	return base, stop
}

func TestServeRunsAndRestarts(t *testing.T) {
	rs := redistest.Start(t)
	dir := t.TempDir()
	db := "sqlite://" + filepath.Join(dir, "sagate.db")
	base, stop := serving(t, map[string]string{envAdminToken: serveToken}, "--store", db, "--redis", rs.URL(), "--log-level", "debug")
	cli := map[string]string{envAdminURL: base, envAdminToken: serveToken, envWorkspace: "ml-team"}
	if r := runWith(t, cli, "workspace", "create", "ml-team"); r.code != 0 {
		t.Fatalf("workspace create: %+v", r)
	}
	r := runWith(t, cli, "sa", "create", "bot", "--all-projects-role", "owner")
	key := keyRE.FindString(r.stdout)
	if r.code != 0 || key == "" {
		t.Fatalf("sa create: %+v", r)
	}
	b, err := rs.Client().Get(context.Background(), wire.RedisKey(keystore.HashKey(key))).Bytes()
	if err != nil {
		t.Fatalf("the record of the issued key is not in redis: %v", err)
	}
	// The signing key was created beside the database at the first start.
	signing, err := wire.LoadSigningKey(filepath.Join(dir, defaultSigningKeyName))
	if err != nil {
		t.Fatalf("the signing key serve created: %v", err)
	}
	ver := wire.NewVerifier(signing.Public())
	if rec, err := wire.OpenRecord(ver, keystore.HashKey(key), b); err != nil || rec.SA != "bot@ml-team" || !rec.Live(time.Now()) {
		t.Fatalf("record: %+v %v", rec, err)
	}
	res := stop()
	if res.code != 0 {
		t.Fatalf("serve exit %d after its context ended: %s", res.code, res.stderr)
	}
	for _, want := range []string{`"admin request"`, `"route":"POST /v1/workspaces/{ws}/service-accounts"`, "admin stopped",
		"created a new signing key", signing.Public().String()} {
		if !strings.Contains(res.stderr, want) {
			t.Errorf("serve logs lack %s", want)
		}
	}
	if strings.Contains(res.stderr, serveToken) || strings.Contains(res.stderr, key) || strings.Contains(res.stderr, keystore.HashKey(key).String()) {
		t.Fatal("serve logged the admin token, a key or its hash")
	}

	// Restart on the same store, token from a file: everything is still there.
	tokenFile := filepath.Join(dir, "token")
	if err := os.WriteFile(tokenFile, []byte(serveToken+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	base, _ = serving(t, nil, "--store", db, "--redis", rs.URL(), "--admin-token-file", tokenFile)
	cli[envAdminURL] = base
	if r := runWith(t, cli, "sa", "get", "bot"); r.code != 0 || !strings.Contains(r.stdout, "bot@ml-team") {
		t.Fatalf("sa get after restart: %+v", r)
	}
	if r := runWith(t, cli, "key", "revoke", "bot", keystore.Last6(key)); r.code != 0 {
		t.Fatalf("key revoke after restart: %+v", r)
	}
	b, err = rs.Client().Get(context.Background(), wire.RedisKey(keystore.HashKey(key))).Bytes()
	switch {
	case errors.Is(err, redis.Nil):
	case err != nil:
		t.Fatal(err)
	default:
		if rec, err := wire.OpenRecord(ver, keystore.HashKey(key), b); err != nil || rec.Live(time.Now()) {
			t.Fatalf("the revoked key's record: %+v %v", rec, err)
		}
	}
}

// TestServeWithOperatorsFile: serve starts with an operators file and no admin token;
// each operator's token works from the CLI, and whoami names it.
func TestServeWithOperatorsFile(t *testing.T) {
	rs := redistest.Start(t)
	dir := t.TempDir()
	ops := filepath.Join(dir, "operators")
	if err := os.WriteFile(ops, []byte("alice "+serveToken+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	base, _ := serving(t, nil, "--store", "sqlite://"+filepath.Join(dir, "sagate.db"), "--redis", rs.URL(), "--operators-file", ops)
	r := runWith(t, map[string]string{envAdminURL: base, envAdminToken: serveToken}, "whoami")
	if r.code != 0 || !strings.Contains(r.stdout, "operator:alice") {
		t.Fatalf("whoami as alice: %+v", r)
	}
	if r := runWith(t, map[string]string{envAdminURL: base, envAdminToken: "not-an-operator-token"}, "whoami"); r.code != 1 || !strings.Contains(r.stderr, "check SAGATE_ADMIN_TOKEN") {
		t.Fatalf("whoami with an unknown token: %+v", r)
	}
}

// TestServeConsoleSecureCookies: with --console-secure-cookies the session cookie set at
// sign-in on a plain-HTTP request is Secure (for a proxy that terminates TLS); without
// the flag it is not.
func TestServeConsoleSecureCookies(t *testing.T) {
	rs := redistest.Start(t)
	db := "sqlite://" + filepath.Join(t.TempDir(), "sagate.db")
	for _, secure := range []bool{false, true} {
		t.Run(fmt.Sprintf("secure=%v", secure), func(t *testing.T) {
			args := []string{"--store", db, "--redis", rs.URL()}
			if secure {
				args = append(args, "--console-secure-cookies")
			}
			base, stop := serving(t, map[string]string{envAdminToken: serveToken}, args...)
			defer stop()
			c := consoleSessionCookie(t, base, serveToken)
			if c.Secure != secure || !c.HttpOnly || c.SameSite != http.SameSiteStrictMode {
				t.Fatalf("session cookie: Secure %v HttpOnly %v SameSite %v; want Secure %v, HttpOnly, SameSite=Strict",
					c.Secure, c.HttpOnly, c.SameSite, secure)
			}
		})
	}
}

// consoleSessionCookie signs in to the console at base over plain HTTP with cred, as a
// browser would, and returns the session cookie the sign-in set. It carries the cookies
// by hand: a cookie jar would not send a Secure cookie back over plain HTTP.
func consoleSessionCookie(t *testing.T, base, cred string) *http.Cookie {
	t.Helper()
	resp, err := http.Get(base + "/console/sign-in")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	m := regexp.MustCompile(`name="csrf" value="([^"]+)"`).FindSubmatch(body)
	if resp.StatusCode != http.StatusOK || m == nil || len(resp.Cookies()) != 1 {
		t.Fatalf("sign-in page: %d, csrf found %v, %d cookies", resp.StatusCode, m != nil, len(resp.Cookies()))
	}
	form := url.Values{"credential": {cred}, "csrf": {string(m[1])}}
	req, _ := http.NewRequest(http.MethodPost, base+"/console/sign-in", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Origin", base)
	req.AddCookie(resp.Cookies()[0])
	resp, err = http.DefaultTransport.RoundTrip(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("sign-in: %d, want 303", resp.StatusCode)
	}
	for _, c := range resp.Cookies() {
		if c.Name == "sagate_console" {
			return c
		}
	}
	t.Fatal("the sign-in set no session cookie")
	return nil
}

func TestLoopbackListen(t *testing.T) {
	for addr, want := range map[string]bool{
		"127.0.0.1:8081": true, "127.0.0.2:8081": true, "[::1]:8081": true, "localhost:8081": true, "[::ffff:127.0.0.1]:1": true,
		":8081": false, "0.0.0.0:8081": false, "[::]:8081": false, "10.0.0.7:8081": false, "admin.example.com:8081": false, "8081": false,
	} {
		if got := loopbackListen(addr); got != want {
			t.Errorf("loopbackListen(%q) = %v, want %v", addr, got, want)
		}
	}
}
