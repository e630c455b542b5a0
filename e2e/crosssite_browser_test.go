package e2e

import (
	"context"
	"fmt"
	"html"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// startPersonProxy is a small authenticating proxy in front of the admin, as an SSO
// proxy is once the person has signed in: every request it forwards carries
// X-Webauth-User: name (whatever the client sent in that header), from 127.0.0.1, an
// address the admin trusts. A browser's request to it is the person's request.
func startPersonProxy(t *testing.T, adminURL, name string) string {
	t.Helper()
	target, err := url.Parse(adminURL)
	if err != nil {
		t.Fatal(err)
	}
	rp := httputil.NewSingleHostReverseProxy(target)
	director := rp.Director
	rp.Director = func(r *http.Request) {
		director(r)
		r.Header.Set("X-Webauth-User", name)
	}
	srv := httptest.NewServer(rp)
	t.Cleanup(srv.Close)
	return srv.URL
}

// TestCrossSiteInBrowser: with the admin behind an authenticating proxy, a page on
// another site (and one on the same site, another port) auto-submits forms to the API in
// headless Chromium: revoke every key of an account, deactivate the account and a key,
// and create an account with a JSON-looking text/plain body. The browser sends the
// person's proxy session with each; the admin refuses every one (cross_site) and
// nothing changes. A script behind the same proxy, sending no Origin, still works.
func TestCrossSiteInBrowser(t *testing.T) {
	chrome := findChromium(t)
	e := newEnv(t, "--proxy-user-header", "X-Webauth-User", "--trusted-proxies", "127.0.0.1/32")
	a := e.admin
	a.must(http.StatusCreated, "POST", "/v1/workspaces", map[string]any{"name": "ml"})
	bot := a.newAccount("ml", "bot", "viewer")
	a.must(http.StatusCreated, "PUT", "/v1/workspaces/ml/admins/person:alice", nil)
	proxy := startPersonProxy(t, a.url, "alice")

	const ws = "/v1/workspaces/ml/service-accounts"
	forms := []struct{ name, action, enctype, field string }{
		{"revoke every key", ws + "/bot/keys/revoke-all", "", ""},
		{"deactivate the account", ws + "/bot/deactivate", "", ""},
		{"deactivate the key", ws + "/bot/keys/" + bot.ID + "/deactivate", "", ""},
		{"create an account", ws, "text/plain", `{"name":"evil","x":"`}, // sent as {"name":"evil","x":"="}
	}
	// The attacker's page: its query names the form to post at once.
	attacker := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f := forms[0]
		for _, c := range forms {
			if c.name == r.URL.Query().Get("form") {
				f = c
			}
		}
		enctype, input := "", ""
		if f.enctype != "" {
			enctype = ` enctype="` + f.enctype + `"`
			input = `<input type="hidden" name="` + html.EscapeString(f.field) + `" value="&quot;}">`
		}
		fmt.Fprintf(w, `<!doctype html><title>cute cats</title><body><form method="post" action="%s%s"%s>%s</form>
<script>document.forms[0].submit()</script>`, proxy, f.action, enctype, input)
	}))
	defer attacker.Close()
	_, port, _ := strings.Cut(strings.TrimPrefix(attacker.URL, "http://"), ":")
	origins := map[string]string{
		"cross-site": "http://localhost:" + port, // the proxy is at 127.0.0.1: another site
		"same-site":  attacker.URL,               // 127.0.0.1, another port: the same site, another origin
	}

	ctx := newBrowser(t, chrome)
	for site, origin := range origins {
		for _, f := range forms {
			tctx, cancel := context.WithTimeout(ctx, 30*time.Second)
			err := chromedp.Do(tctx,
				chromedp.Navigate(origin+"/?form="+url.QueryEscape(f.name)),
				chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
					_, err := chromedp.Poll[chromedp.Void](`location.href.startsWith(`+jsString(proxy)+`) && document.body && document.body.innerText.includes("error")`,
						chromedp.WithPollingTimeout(20*time.Second))(ctx, tg)
					return err
				}),
			)
			var page string
			if err == nil {
				page, err = chromedp.Run(tctx, chromedp.Text(chromedp.CSS("body")))
			}
			cancel()
			if err != nil {
				t.Fatalf("%s page, %s: %v", site, f.name, err)
			}
			if !strings.Contains(page, `"cross_site"`) {
				t.Errorf("%s page, %s: the admin answered %s, want a cross_site refusal", site, f.name, page)
			}
		}
	}
	sa := a.must(http.StatusOK, "GET", ws+"/bot", nil)
	keys := a.must(http.StatusOK, "GET", ws+"/bot/keys", nil)["items"].([]any)
	if sa["state"] != "active" || len(keys) != 1 || keys[0].(map[string]any)["state"] != "active" {
		t.Fatalf("after the attacker's pages: account %v, keys %v; want both active", sa["state"], keys)
	}
	if code, _ := a.call("GET", ws+"/evil", nil); code != http.StatusNotFound {
		t.Fatalf("the attacker's text/plain form created an account (%d)", code)
	}
	audit := fmt.Sprint(a.must(http.StatusOK, "GET", "/v1/audit?workspace=ml", nil)["items"])
	if strings.Contains(audit, "actor:person:alice") {
		t.Fatalf("the audit trail records a change by alice: %s", audit)
	}

	// A script behind the proxy (no Origin, no Sec-Fetch-Site) still changes things.
	code, out := personCall(t, http.DefaultClient, "POST", proxy+ws+"/bot/keys/revoke-all", "", "", "")
	if code != http.StatusOK {
		t.Fatalf("a script's revoke-all through the proxy: %d %v", code, out)
	}
	audit = fmt.Sprint(a.must(http.StatusOK, "GET", "/v1/audit?workspace=ml", nil)["items"])
	if !strings.Contains(audit, "actor:person:alice") {
		t.Fatalf("the script's change is not in the audit trail as alice's: %s", audit)
	}
}

// jsString quotes s as a JavaScript string literal.
func jsString(s string) string { return fmt.Sprintf("%q", s) }
