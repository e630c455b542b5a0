package console_test

import (
	"context"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/sagate/sagate/admin/console"
	"github.com/sagate/sagate/keystore"
)

var keyRE = regexp.MustCompile(`<code id="new-key" data-secret>(sak_[A-Za-z0-9_]+)</code>`)

func TestSecurityHeadersOnEveryAnswer(t *testing.T) {
	e := newEnv(t)
	b := e.browser()
	want := map[string]string{
		"Content-Security-Policy": "default-src 'none'; style-src 'self'; script-src 'self'; img-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
		"X-Frame-Options":         "DENY",
		"Cache-Control":           "no-store",
		"X-Content-Type-Options":  "nosniff",
		"Referrer-Policy":         "no-referrer",
	}
	check := func(what string, resp *http.Response) {
		t.Helper()
		for k, v := range want {
			if got := resp.Header.Get(k); got != v {
				t.Errorf("%s: %s = %q, want %q", what, k, got, v)
			}
		}
	}
	for _, p := range []string{"/console/", "/console/sign-in", "/console/static/console.css", "/console/static/console.js", "/console/nope", "/console/workspaces"} {
		resp, _ := b.get(p)
		check(p, resp)
	}
	if resp, _ := b.get("/console/static/"); resp.StatusCode != http.StatusNotFound {
		t.Errorf("/console/static/ lists its files: %d", resp.StatusCode)
	}
	resp, _ := b.post("/console/sign-in", url.Values{"credential": {"wrong"}}, "Origin", "https://evil.example", "Sec-Fetch-Site", "cross-site")
	check("refused post", resp)
	b.signIn()
	resp, body := b.get("/console/w/acme/accounts")
	check("accounts", resp)
	if resp.StatusCode != http.StatusOK || strings.Contains(body, "<script>") || strings.Contains(body, " style=") || strings.Contains(body, " on") && regexp.MustCompile(` on[a-z]+=`).MatchString(body) {
		t.Errorf("accounts page: %d, or inline script or style", resp.StatusCode)
	}
}

func TestSignInSessionAndSignOut(t *testing.T) {
	e := newEnv(t)
	b := e.browser()
	if resp, _ := b.get("/console/workspaces"); resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/console/sign-in" {
		t.Fatalf("signed out: %d to %q, want a redirect to sign-in", resp.StatusCode, resp.Header.Get("Location"))
	}
	b.get("/console/sign-in")
	wrong := "not-the-token-but-secret-looking"
	resp, body := b.post("/console/sign-in", url.Values{"credential": {wrong}})
	if resp.StatusCode != http.StatusUnauthorized || !strings.Contains(body, "not accepted") || strings.Contains(body, wrong) {
		t.Fatalf("wrong credential: %d, body echoes it: %v", resp.StatusCode, strings.Contains(body, wrong))
	}
	resp, _ = b.post("/console/sign-in", url.Values{"credential": {testToken}})
	var sess *http.Cookie
	for _, c := range resp.Cookies() {
		if c.Name == "sagate_console" {
			sess = c
		}
	}
	if sess == nil || !sess.HttpOnly || sess.SameSite != http.SameSiteStrictMode || sess.Path != "/console/" || len(sess.Value) < 43 {
		t.Fatalf("session cookie = %+v", sess)
	}
	if strings.Contains(sess.Value, testToken) || strings.Contains(resp.Header.Get("Location"), testToken) {
		t.Fatal("the credential is in the cookie or the redirect")
	}
	resp, body = b.get("/console/workspaces")
	if resp.StatusCode != http.StatusOK || !strings.Contains(body, "alice (operator)") || !strings.Contains(body, "acme") || strings.Contains(body, testToken) {
		t.Fatalf("workspaces: %d", resp.StatusCode)
	}
	// Idle for 31 minutes: the session is over.
	e.clock.Add(31 * time.Minute)
	if resp, _ := b.get("/console/workspaces"); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("after 31 idle minutes: %d, want a redirect to sign-in", resp.StatusCode)
	}
	// Active every 20 minutes for 12 hours: the absolute timeout ends it.
	b.signIn()
	for i := 0; i < 35; i++ {
		e.clock.Add(20 * time.Minute)
		if resp, _ := b.get("/console/workspaces"); resp.StatusCode != http.StatusOK {
			t.Fatalf("after %d active minutes: %d", (i+1)*20, resp.StatusCode)
		}
	}
	e.clock.Add(20 * time.Minute)
	if resp, _ := b.get("/console/workspaces"); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("after 12 hours: %d, want a redirect to sign-in", resp.StatusCode)
	}
	// Sign out ends the session on the server.
	b.signIn()
	old := *b.hc.Jar.Cookies(mustURL(e.srv.URL + "/console/"))[0]
	resp, _ = b.post("/console/sign-out", nil)
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("sign-out: %d", resp.StatusCode)
	}
	replay := e.browser()
	replay.hc.Jar.SetCookies(mustURL(e.srv.URL+"/console/"), []*http.Cookie{&old})
	if resp, _ := replay.get("/console/workspaces"); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("the signed-out cookie still works: %d", resp.StatusCode)
	}
	e.noSecretLogged(testToken)
}

func mustURL(s string) *url.URL {
	u, err := url.Parse(s)
	if err != nil {
		panic(err)
	}
	return u
}

func TestSecureCookies(t *testing.T) {
	e := newEnv(t, func(c *console.Config) { c.SecureCookies = true })
	resp, _ := e.browser().get("/console/sign-in")
	cs := resp.Cookies()
	if len(cs) != 1 || !cs[0].Secure || !cs[0].HttpOnly || cs[0].SameSite != http.SameSiteStrictMode {
		t.Fatalf("cookies with SecureCookies: %+v", cs)
	}
}

func TestRevokedCredentialEndsTheSession(t *testing.T) {
	valid := true
	e := newEnv(t, func(c *console.Config) {
		c.Recheck = func(ctx context.Context, p console.Principal) (console.Principal, error) {
			if !valid {
				return console.Principal{}, console.ErrBadCredential
			}
			return recheck(ctx, p)
		}
	})
	b := e.browser()
	b.signIn()
	valid = false
	if resp, _ := b.get("/console/workspaces"); resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/console/sign-in?ended=1" {
		t.Fatalf("after the credential was revoked: %d to %q", resp.StatusCode, resp.Header.Get("Location"))
	}
}

func TestProxyHook(t *testing.T) {
	e := newEnv(t, func(c *console.Config) {
		c.FromProxy = func(r *http.Request) (console.Principal, bool, error) {
			u := r.Header.Get("X-Test-User")
			return console.Principal{Actor: "person:" + u, Label: u, Value: keystore.Person(u, "127.0.0.1")}, u != "", nil
		}
	})
	b := e.browser()
	req, _ := http.NewRequest(http.MethodGet, e.srv.URL+"/console/workspaces", nil)
	req.Header.Set("X-Test-User", "carol")
	if resp, body := b.do(req); resp.StatusCode != http.StatusOK || !strings.Contains(body, "carol") {
		t.Fatalf("proxy sign-in: %d", resp.StatusCode)
	}
	req, _ = http.NewRequest(http.MethodGet, e.srv.URL+"/console/workspaces", nil)
	req.Header.Set("X-Test-User", "mallory")
	if resp, _ := b.do(req); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("the proxy now names someone else: %d, want the session ended", resp.StatusCode)
	}
}

func TestAccountLifecycle(t *testing.T) {
	e := newEnv(t)
	b := e.browser()
	b.signIn()
	resp, body := b.postKey("/console/w/acme/accounts", url.Values{"name": {"ci-bot"}, "description": {"builds"}, "role": {"viewer"}, "create_key": {"on"}, "expires_in": {"720h"}})
	m := keyRE.FindStringSubmatch(body)
	if resp.StatusCode != http.StatusOK || m == nil || !strings.Contains(body, "will not be shown again") ||
		!strings.Contains(body, "export SAGATE_ADMIN_TOKEN="+m[1]) || !strings.Contains(body, `Authorization: Bearer `+m[1]) {
		t.Fatalf("create account: %d, key found: %v", resp.StatusCode, m != nil)
	}
	key := m[1]
	if resp.Header.Get("Cache-Control") != "no-store" || resp.Header.Get("Location") != "" {
		t.Fatal("the key page may be cached or redirects")
	}
	resp, body = b.get("/console/w/acme/accounts")
	if resp.StatusCode != http.StatusOK || !strings.Contains(body, "ci-bot") || !strings.Contains(body, "*: viewer") || strings.Contains(body, key) {
		t.Fatalf("accounts page: %d", resp.StatusCode)
	}
	resp, body = b.get("/console/w/acme/accounts/ci-bot")
	if resp.StatusCode != http.StatusOK || !strings.Contains(body, "…"+keystore.Last6(key)) || strings.Contains(body, key) {
		t.Fatalf("account page: %d", resp.StatusCode)
	}
	// A grant, changed, then removed.
	if resp, _ := b.post("/console/w/acme/accounts/ci-bot/grants", url.Values{"project": {"billing"}, "role": {"owner"}}); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("assign: %d", resp.StatusCode)
	}
	if _, body := b.get("/console/w/acme/accounts/ci-bot"); !strings.Contains(body, "is now owner of project billing") {
		t.Error("no message after assigning")
	}
	b.post("/console/w/acme/accounts/ci-bot/grants", url.Values{"project": {"billing"}, "role": {"contributor"}})
	gs := e.grants("ci-bot")
	if len(gs) != 2 || gs[1].Role != keystore.RoleContributor {
		t.Fatalf("grants after change: %+v", gs)
	}
	b.post("/console/w/acme/accounts/ci-bot/grants/remove", url.Values{"project": {"billing"}})
	if gs := e.grants("ci-bot"); len(gs) != 1 {
		t.Fatalf("grants after remove: %+v", gs)
	}
	// A second key, rotated with a retain window, then one revoked.
	resp, body = b.postKey("/console/w/acme/accounts/ci-bot/keys", url.Values{"name": {"deploy"}, "expires_in": {"0"}})
	if resp.StatusCode != http.StatusOK || keyRE.FindStringSubmatch(body) == nil {
		t.Fatalf("create key: %d", resp.StatusCode)
	}
	keys, _, _ := e.svc.ListKeys(e.op, "acme", "ci-bot", keystore.Page{})
	var deploy, first keystore.APIKey // all keys share one created_at here: find them by name
	for _, k := range keys {
		if k.Name == "deploy" {
			deploy = k
		} else {
			first = k
		}
	}
	_, body = b.get("/console/w/acme/accounts/ci-bot/keys/" + deploy.ID + "/revoke")
	if !strings.Contains(body, "…"+deploy.Last6) {
		t.Error("the revoke confirmation does not name the last six")
	}
	b.get("/console/w/acme/accounts/ci-bot/keys/" + first.ID + "/rotate")
	resp, body = b.postKey("/console/w/acme/accounts/ci-bot/keys/"+first.ID+"/rotate", url.Values{"retain": {"24h"}, "expires_in": {"0"}})
	if resp.StatusCode != http.StatusOK || keyRE.FindStringSubmatch(body) == nil || !strings.Contains(body, "keeps working for 24h") {
		t.Fatalf("rotate: %d", resp.StatusCode)
	}
	b.get("/console/w/acme/accounts/ci-bot")
	if resp, _ := b.post("/console/w/acme/accounts/ci-bot/keys/"+deploy.ID+"/revoke", nil); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("revoke: %d", resp.StatusCode)
	}
	if err := keystore.CheckKey(key); err != nil {
		t.Fatal(err)
	}
	// Revoking it again is an error shown next to the keys.
	resp, body = b.post("/console/w/acme/accounts/ci-bot/keys/"+deploy.ID+"/revoke", nil)
	if resp.StatusCode != http.StatusUnprocessableEntity || !strings.Contains(body, "Not possible right now") {
		t.Errorf("revoking twice: %d", resp.StatusCode)
	}
	// Deactivate and activate the rotated key's successor.
	keys, _, _ = e.svc.ListKeys(e.op, "acme", "ci-bot", keystore.Page{})
	var succ keystore.APIKey // the one active key without an expiry (the retained one has one)
	for _, k := range keys {
		if k.State == keystore.KeyActive && k.ExpiresAt == nil {
			succ = k
		}
	}
	b.get("/console/w/acme/accounts/ci-bot")
	if resp, body := b.post("/console/w/acme/accounts/ci-bot/keys/"+succ.ID+"/deactivate", nil); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("pause: %d %s", resp.StatusCode, regexp.MustCompile(`role="alert">[^<]*`).FindString(body))
	}
	if _, body := b.get("/console/w/acme/accounts/ci-bot"); !strings.Contains(body, "deactivated: sidecars refuse it") || !strings.Contains(body, "/keys/"+succ.ID+"/activate") {
		t.Error("no message or Activate button after deactivating")
	}
	if resp, _ := b.post("/console/w/acme/accounts/ci-bot/keys/"+succ.ID+"/activate", nil); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("resume: %d", resp.StatusCode)
	}
	if resp, body := b.post("/console/w/acme/accounts/ci-bot/keys/"+succ.ID+"/activate", nil); resp.StatusCode != http.StatusUnprocessableEntity || !strings.Contains(body, "Not possible right now") {
		t.Errorf("resuming an active key: %d", resp.StatusCode)
	}
	// Deactivate, reactivate (a new key, shown once), revoke all.
	if resp, _ := b.post("/console/w/acme/accounts/ci-bot/deactivate", nil); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("deactivate: %d", resp.StatusCode)
	}
	resp, body = b.postKey("/console/w/acme/accounts/ci-bot/reactivate", nil)
	if resp.StatusCode != http.StatusOK || keyRE.FindStringSubmatch(body) == nil {
		t.Fatalf("reactivate: %d", resp.StatusCode)
	}
	b.get("/console/w/acme/accounts/ci-bot/confirm/revoke-all")
	if resp, _ := b.post("/console/w/acme/accounts/ci-bot/revoke-all", nil); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("revoke all: %d", resp.StatusCode)
	}
	sums, _, _ := e.svc.ListAccountSummaries(e.op, "acme", "", keystore.Page{})
	if len(sums) != 1 || sums[0].LiveKeys != 0 {
		t.Fatalf("after revoke all: %+v", sums)
	}
	// The audit trail names the console's principal, and filters.
	resp, body = b.get("/console/audit?workspace=acme&action=key.&actor=operator:alice")
	if resp.StatusCode != http.StatusOK || !strings.Contains(body, "<code>key.revoke_all</code>") || strings.Contains(body, "<code>service_account.create</code>") {
		t.Fatalf("audit: %d", resp.StatusCode)
	}
	e.noSecretLogged(key)
	e.noSecretLogged(testToken)
}

func TestAccountsFilterAndPaging(t *testing.T) {
	e := newEnv(t, func(c *console.Config) { c.PageSize = 2 })
	for _, n := range []string{"a-bot", "b-svc", "c-bot", "d-bot"} {
		if _, _, err := e.svc.CreateServiceAccount(e.op, "acme", keystore.CreateServiceAccountInput{Name: n}); err != nil {
			t.Fatal(err)
		}
	}
	b := e.browser()
	b.signIn()
	_, body := b.get("/console/w/acme/accounts?q=bot")
	next := regexp.MustCompile(`href="([^"]*page=[^"]*)">Next page`).FindStringSubmatch(body)
	if !strings.Contains(body, "a-bot") || !strings.Contains(body, "c-bot") || strings.Contains(body, "b-svc") || next == nil {
		t.Fatalf("first page of bot: next link %v", next)
	}
	_, body = b.get(strings.ReplaceAll(next[1], "&amp;", "&"))
	if !strings.Contains(body, "d-bot") || strings.Contains(body, "a-bot") || strings.Contains(body, "Next page") {
		t.Fatal("second page of bot")
	}
}

// TestShownOnceMeansOnce: a new key is shown by the GET a POST redirects to, once; the
// page again shows nothing, and the same form sent again (Back, then reload) creates
// nothing and says so.
func TestShownOnceMeansOnce(t *testing.T) {
	e := newEnv(t)
	if _, _, err := e.svc.CreateServiceAccount(e.op, "acme", keystore.CreateServiceAccountInput{Name: "ci-bot"}); err != nil {
		t.Fatal(err)
	}
	b := e.browser()
	b.signIn()
	b.get("/console/w/acme/accounts/ci-bot")
	form := url.Values{"name": {"deploy"}, "expires_in": {"0"}, "csrf": {b.csrf}}
	resp, _ := b.post("/console/w/acme/accounts/ci-bot/keys", form)
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/console/new-key" {
		t.Fatalf("create key: %d to %q, want a redirect to the key page", resp.StatusCode, resp.Header.Get("Location"))
	}
	before, _, _ := e.svc.ListKeys(e.op, "acme", "ci-bot", keystore.Page{})
	if resp, body := b.get("/console/new-key"); resp.StatusCode != http.StatusOK || keyRE.FindStringSubmatch(body) == nil {
		t.Fatalf("the key page: %d", resp.StatusCode)
	}
	if resp, body := b.get("/console/new-key"); resp.StatusCode != http.StatusGone || strings.Contains(body, "sak_") {
		t.Fatalf("the key page reloaded: %d, shows a key: %v", resp.StatusCode, strings.Contains(body, "sak_"))
	}
	resp, body := b.post("/console/w/acme/accounts/ci-bot/keys", form)
	if resp.StatusCode != http.StatusConflict || !strings.Contains(body, "Nothing was created again") {
		t.Fatalf("the form sent again: %d", resp.StatusCode)
	}
	if after, _, _ := e.svc.ListKeys(e.op, "acme", "ci-bot", keystore.Page{}); len(after) != len(before) {
		t.Fatalf("the form sent again made a key: %d keys, then %d", len(before), len(after))
	}
	// A fresh page's form makes another.
	b.get("/console/w/acme/accounts/ci-bot")
	if resp, _ := b.postKey("/console/w/acme/accounts/ci-bot/keys", url.Values{"name": {"deploy2"}, "expires_in": {"0"}}); resp.StatusCode != http.StatusOK {
		t.Fatalf("a second key from a fresh page: %d", resp.StatusCode)
	}
}
