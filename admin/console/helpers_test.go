package console_test

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
	"sync"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"github.com/sagate/sagate/admin/console"
	"github.com/sagate/sagate/keystore"
	"github.com/sagate/sagate/keystore/sqlstore"
)

// testToken is the operator token the tests' Authenticate accepts.
const testToken = "console-test-947aa039aa0e02144cd10656f8a49a8f8cb45e60be8f5b51b51dccd8848ee5f5"

// clock is a settable clock shared by the Service and the console.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// env is a console over a real SQLite store, served by httptest.
type env struct {
	t     testing.TB
	svc   *keystore.Service
	clock *clock
	logs  *observer.ObservedLogs
	srv   *httptest.Server
	con   *console.Console
	op    context.Context // the operator "seed", for the tests' own Service calls
}

// grants lists every grant of an account of acme, as the operator.
func (e *env) grants(sa string) []keystore.Grant {
	e.t.Helper()
	gs, _, err := e.svc.ListAccountGrants(e.op, "acme", sa, keystore.Page{Size: keystore.MaxPageSize})
	if err != nil {
		e.t.Fatal(err)
	}
	return gs
}

// authenticate accepts testToken as the operator "alice".
func authenticate(_ context.Context, cred string) (console.Principal, error) {
	if cred != testToken {
		return console.Principal{}, console.ErrBadCredential
	}
	return console.Principal{Actor: "operator:alice", Label: "alice (operator)", Value: keystore.Operator("alice")}, nil
}

// recheck accepts again the operator "alice" that authenticate returned.
func recheck(_ context.Context, p console.Principal) (console.Principal, error) {
	if p.Actor != "operator:alice" {
		return console.Principal{}, console.ErrBadCredential
	}
	return p, nil
}

// withKeys makes the console accept, besides testToken, a live sak_ key of svc, as sagate does.
func withKeys(svc **keystore.Service) func(*console.Config) {
	return func(c *console.Config) {
		c.Authenticate = func(ctx context.Context, cred string) (console.Principal, error) {
			if !strings.HasPrefix(cred, keystore.KeyPrefix) {
				return authenticate(ctx, cred)
			}
			p, err := (*svc).Authenticate(ctx, cred)
			if err != nil {
				return console.Principal{}, console.ErrBadCredential
			}
			return console.Principal{Actor: p.Ref(), Label: "service account " + p.FullName(), Value: p}, nil
		}
		c.Recheck = func(ctx context.Context, cp console.Principal) (console.Principal, error) {
			p, ok := cp.Value.(keystore.Principal)
			if !ok || p.Kind != keystore.PrincipalServiceAccount {
				return recheck(ctx, cp)
			}
			if p, err := (*svc).Check(ctx, p); err != nil || p.Kind != keystore.PrincipalServiceAccount {
				return console.Principal{}, console.ErrBadCredential
			}
			return cp, nil
		}
	}
}

// signInWith signs the browser in with cred and returns where the console sent it.
func (b *browser) signInWith(cred string) string {
	b.e.t.Helper()
	b.get("/console/sign-in")
	resp, _ := b.post("/console/sign-in", url.Values{"credential": {cred}})
	if resp.StatusCode != http.StatusSeeOther {
		b.e.t.Fatalf("sign-in: %d", resp.StatusCode)
	}
	loc := resp.Header.Get("Location")
	b.get(loc) // for the session's CSRF token
	return loc
}

func newEnv(t testing.TB, mod ...func(*console.Config)) *env {
	t.Helper()
	ctx := context.Background()
	st, err := sqlstore.Open(ctx, "sqlite://"+filepath.Join(t.TempDir(), "c.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })
	clk := &clock{t: time.Date(2026, 6, 1, 9, 0, 0, 0, time.UTC)}
	core, logs := observer.New(zapcore.DebugLevel)
	log := zap.New(core)
	svc, err := keystore.NewService(st, keystore.ServiceOptions{Now: clk.Now, Logger: log.Named("keystore")})
	if err != nil {
		t.Fatal(err)
	}
	bind := func(ctx context.Context, p console.Principal) context.Context {
		kp, _ := p.Value.(keystore.Principal)
		return keystore.WithPrincipal(ctx, kp)
	}
	cfg := console.Config{Service: svc, Authenticate: authenticate, Recheck: recheck, Bind: bind, Logger: log.Named("console"), Now: clk.Now}
	for _, m := range mod {
		m(&cfg)
	}
	c, err := console.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(c)
	t.Cleanup(srv.Close)
	op := keystore.WithPrincipal(ctx, keystore.Operator("seed"))
	if _, err := svc.CreateWorkspace(op, "acme", 0); err != nil {
		t.Fatal(err)
	}
	return &env{t: t, svc: svc, clock: clk, logs: logs, srv: srv, con: c, op: op}
}

// browser is a client with a cookie jar that follows no redirect.
type browser struct {
	e    *env
	hc   *http.Client
	csrf string // from the last page read
}

func (e *env) browser() *browser {
	jar, _ := cookiejar.New(nil)
	return &browser{e: e, hc: &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error {
		return http.ErrUseLastResponse
	}}}
}

var csrfRE = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

// do sends a request and returns the response with its body read.
func (b *browser) do(req *http.Request) (*http.Response, string) {
	b.e.t.Helper()
	resp, err := b.hc.Do(req)
	if err != nil {
		b.e.t.Fatalf("%s %s: %v", req.Method, req.URL.Path, err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	if m := csrfRE.FindSubmatch(raw); m != nil {
		b.csrf = string(m[1])
	}
	return resp, string(raw)
}

func (b *browser) get(path string) (*http.Response, string) {
	req, _ := http.NewRequest(http.MethodGet, b.e.srv.URL+path, nil)
	return b.do(req)
}

// post sends a form as a same-origin browser would, with the CSRF token of the last page
// unless form sets csrf itself; hdr adds or replaces headers (a "" value removes one).
func (b *browser) post(path string, form url.Values, hdr ...string) (*http.Response, string) {
	if form == nil {
		form = url.Values{}
	}
	if _, ok := form["csrf"]; !ok {
		form.Set("csrf", b.csrf)
	}
	req, _ := http.NewRequest(http.MethodPost, b.e.srv.URL+path, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Origin", b.e.srv.URL)
	req.Header.Set("Sec-Fetch-Site", "same-origin")
	for i := 0; i+1 < len(hdr); i += 2 {
		if hdr[i+1] == "" {
			req.Header.Del(hdr[i])
		} else {
			req.Header.Set(hdr[i], hdr[i+1])
		}
	}
	return b.do(req)
}

// postKey posts a form that issues a key and follows the redirect to the page that
// shows it once, whose answer it returns; any other answer is returned as it is.
func (b *browser) postKey(path string, form url.Values) (*http.Response, string) {
	resp, body := b.post(path, form)
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/console/new-key" {
		return resp, body
	}
	return b.get("/console/new-key")
}

// signIn signs the browser in with testToken.
func (b *browser) signIn() {
	b.e.t.Helper()
	b.get("/console/sign-in")
	resp, _ := b.post("/console/sign-in", url.Values{"credential": {testToken}})
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/console/workspaces" {
		b.e.t.Fatalf("sign-in: %d to %q", resp.StatusCode, resp.Header.Get("Location"))
	}
	b.get("/console/workspaces") // for the session's CSRF token
}

// noSecretLogged fails if any log line holds secret.
func (e *env) noSecretLogged(secret string) {
	e.t.Helper()
	for _, l := range e.logs.All() {
		line := l.Message
		for _, f := range l.Context {
			line += " " + f.String + " " + f.Key
			if f.Interface != nil {
				if s, ok := f.Interface.(interface{ Error() string }); ok {
					line += " " + s.Error()
				}
			}
		}
		if strings.Contains(line, secret) {
			e.t.Errorf("a log line holds a secret: %q", l.Message)
		}
	}
}
