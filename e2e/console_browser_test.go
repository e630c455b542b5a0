package e2e

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/sagate/sagate/internal/testing/systest"
)

// TestConsoleInBrowser drives the web console of a real `sagate serve` with headless
// Chromium (Debian's; `make deps` installs it), next to a real Redis and a real Caddy
// sidecar: sign in, create an account, read its key off the page, use it at the sidecar
// (200), revoke it in the console, and see the sidecar refuse it (401). A form posted
// without its CSRF token, or from another site with a valid one, changes nothing. Then
// a project owner, signed in with its service account's key, sees and changes only its
// project. Screenshots go to $SAGATE_SCREENSHOTS (default: a temporary directory).
func TestConsoleInBrowser(t *testing.T) {
	chrome := findChromium(t)
	e := newEnv(t)
	a := e.admin
	a.must(http.StatusCreated, "POST", "/v1/workspaces", map[string]any{"name": "acme"})
	var billing issued
	for _, n := range []string{"billing-sync", "ci-bot", "nightly-report"} {
		k := a.newAccount("acme", n, "viewer")
		if n == "billing-sync" {
			billing = k
		}
	}
	a.must(http.StatusOK, "PUT", "/v1/workspaces/acme/projects/billing/service-accounts/billing-sync", map[string]any{"role": "owner"})
	a.must(http.StatusCreated, "POST", "/v1/workspaces/acme/service-accounts/billing-sync/keys", map[string]any{"name": "next", "expires_in": "720h"})
	lead := a.newAccount("acme", "p1-lead", "")
	a.must(http.StatusOK, "PUT", "/v1/workspaces/acme/projects/p1/service-accounts/p1-lead", map[string]any{"role": "owner"})
	a.must(http.StatusOK, "PUT", "/v1/workspaces/acme/projects/p2/service-accounts/p1-lead", map[string]any{"role": "viewer"})
	s := startSidecar(t, e.redis.URL(), e.up.srv.URL, "")
	if got := s.status(t, billing.Key); got != http.StatusOK { // so that the pages show a last use
		t.Fatalf("the sidecar answers %d to billing-sync's key", got)
	}

	shots := os.Getenv("SAGATE_SCREENSHOTS")
	if shots == "" {
		shots = t.TempDir()
	}
	if err := os.MkdirAll(shots, 0o755); err != nil {
		t.Fatal(err)
	}
	ctx := newBrowser(t, chrome)
	shot := func(name string) chromedp.Action[chromedp.Void] {
		return chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
			png, err := chromedp.FullScreenshot(100)(ctx, tg)
			if err != nil {
				return err
			}
			return os.WriteFile(filepath.Join(shots, name+".png"), png, 0o644)
		})
	}
	run := func(what string, steps ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		tctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		defer cancel()
		if err := chromedp.Do(tctx, steps...); err != nil {
			t.Fatalf("%s: %v", what, err)
		}
	}
	read := func(what string, a chromedp.Action[string]) string {
		t.Helper()
		tctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		defer cancel()
		v, err := chromedp.Run(tctx, a)
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		return v
	}

	run("sign in",
		chromedp.Navigate(a.url+"/console/"),
		chromedp.WaitVisible(chromedp.ID("credential")),
		shot("1-sign-in"),
		chromedp.SendKeys(chromedp.ID("credential"), adminToken),
		chromedp.Submit(chromedp.ID("credential")),
		chromedp.WaitVisible(`//h1[text()="Workspaces"]`),
	)
	run("create an account",
		chromedp.Click(`//a[text()="acme"]`),
		chromedp.WaitVisible(`//h1[text()="Accounts of acme"]`),
		chromedp.Click(`//a[text()="New account"]`),
		chromedp.WaitVisible(chromedp.ID("name")),
		chromedp.SendKeys(chromedp.ID("name"), "web-bot"),
		chromedp.SendKeys(chromedp.ID("description"), "the storefront"),
		chromedp.SetValue(chromedp.ID("role"), "viewer"),
		chromedp.Submit(chromedp.ID("name")),
		chromedp.WaitVisible(chromedp.ID("new-key")),
		shot("3-key-shown-once"),
	)
	key := read("read the key", chromedp.Text(chromedp.ID("new-key")))
	heading := read("read the heading", chromedp.Text(chromedp.CSS("h1")))
	if !strings.HasPrefix(key, "sak_") || !strings.Contains(heading, "web-bot@acme") {
		t.Fatalf("key page: heading %q, key prefix ok: %v", heading, strings.HasPrefix(key, "sak_"))
	}
	// The copy button's script runs under the CSP: the key is copied, or left selected
	// when headless Chromium has no clipboard.
	run("copy the key",
		chromedp.Click(chromedp.CSS("button.copy")),
		chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
			_, err := chromedp.Poll[chromedp.Void](`document.querySelector("button.copy").textContent === "Copied" || `+
				`window.getSelection().toString() === document.getElementById("new-key").textContent`,
				chromedp.WithPollingTimeout(5*time.Second))(ctx, tg)
			return err
		}),
	)
	if got := s.status(t, key); got != http.StatusOK {
		t.Fatalf("the sidecar answers %d to the new key, want 200", got)
	}
	// Shown once means once in a real browser: neither Back, Forward (the pages are
	// no-store) nor Reload shows the key again, and none sends a form again. The page is
	// read and awaited by script: a page restored from the back-forward cache fires no
	// load event, which chromedp's navigation and DOM queries wait for.
	page := func(cond string) chromedp.Action[chromedp.Void] {
		return chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
			for { // until cond holds; an evaluation may meet the context of the page just left
				ok, err := chromedp.Evaluate[bool]("!!("+cond+")")(ctx, tg)
				if err == nil && ok {
					return nil
				}
				select {
				case <-ctx.Done():
					return fmt.Errorf("waiting for %s: %w (last: %v)", cond, ctx.Err(), err)
				case <-time.After(100 * time.Millisecond):
				}
			}
		})
	}
	history := func(js string) chromedp.Action[chromedp.Void] {
		return chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
			_, err := chromedp.Evaluate[bool](js+", true")(ctx, tg)
			return err
		})
	}
	noKey := func(when string) {
		t.Helper()
		html := read("read the page "+when, chromedp.Evaluate[string]("document.documentElement.outerHTML"))
		if strings.Contains(html, key) || strings.Contains(html, key[4:]) {
			t.Fatalf("the key is on the page %s", when)
		}
	}
	const shownOnce = `document.readyState === "complete" && document.querySelector("h1") && document.querySelector("h1").textContent === "Shown once"`
	accountsBefore := len(a.must(http.StatusOK, "GET", "/v1/workspaces/acme/service-accounts", nil)["items"].([]any))
	run("go back", history("history.back()"), page(`location.pathname.endsWith("/new-account") && document.readyState === "complete" && document.getElementById("name") !== null`))
	noKey("after Back")
	run("go forward", history("history.forward()"), page(`location.pathname === "/console/new-key" && `+shownOnce))
	noKey("after Back and Forward")
	run("reload the key page", history("window.beforeReload = true, location.reload()"),
		page(`!window.beforeReload && document.readyState === "complete" && `+shownOnce))
	noKey("after Reload")
	if n := len(a.must(http.StatusOK, "GET", "/v1/workspaces/acme/service-accounts", nil)["items"].([]any)); n != accountsBefore {
		t.Fatalf("Back, Reload and Forward created accounts: %d before, %d after", accountsBefore, n)
	}
	run("revoke it",
		chromedp.Navigate(a.url+"/console/w/acme/accounts/web-bot"),
		chromedp.WaitVisible(chromedp.CSS(`td.actions a.danger`)),
		chromedp.Click(chromedp.CSS(`td.actions a.danger`)),
		chromedp.WaitVisible(`//h1[starts-with(., "Revoke key …")]`),
		shot("4-confirm-revoke"),
		chromedp.Click(chromedp.CSS(`main form button.danger`)),
		chromedp.WaitVisible(chromedp.CSS(`.flash`)),
		shot("5-account"),
	)
	if flash := read("read the message", chromedp.Text(chromedp.CSS(`.flash`))); !strings.Contains(flash, "revoked") || !strings.Contains(flash, key[len(key)-6:]) {
		t.Errorf("after revoking: %q", flash)
	}
	systest.Eventually(t, 10*time.Second, "the sidecar refuses the revoked key", func() bool {
		return s.status(t, key) == http.StatusUnauthorized
	})

	// A form whose CSRF token was removed changes nothing.
	keys := func() int {
		return len(a.must(http.StatusOK, "GET", "/v1/workspaces/acme/service-accounts/web-bot/keys", nil)["items"].([]any))
	}
	keysBefore := keys()
	run("post without the CSRF token",
		chromedp.RemoveAttribute(`//form[contains(@action, "/keys")]/input[@name="csrf"]`, "name"), // the token is not sent
		chromedp.SendKeys(chromedp.ID("key-name"), "sneaky"),
		chromedp.Submit(chromedp.ID("key-name")),
		chromedp.WaitVisible(`//h1[text()="Form expired"]`),
	)
	// A form on another site, even with the session's real token, is refused.
	run("open the account page", chromedp.Navigate(a.url+"/console/w/acme/accounts/web-bot"),
		chromedp.WaitVisible(chromedp.ID("key-name")))
	token := read("read a real token", chromedp.Value(`//form[contains(@action, "/keys")]/input[@name="csrf"]`))
	evil := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, `<!doctype html><form method="post" action="%s/console/w/acme/accounts/web-bot/keys">
<input type="hidden" name="csrf" value="%s"><input name="name" value="evil"><button id="go">go</button></form>`, a.url, token)
	}))
	defer evil.Close()
	run("post from another site",
		chromedp.Navigate(evil.URL),
		chromedp.Click(chromedp.ID("go")),
		chromedp.WaitVisible(`//h1[text()="Refused" or text()="Sign in"]`),
	)
	if after := keys(); after != keysBefore {
		t.Fatalf("forged forms created keys: %d before, %d after", keysBefore, after)
	}
	run("accounts and audit pages",
		chromedp.Navigate(a.url+"/console/w/acme/accounts"),
		chromedp.WaitVisible(chromedp.CSS(`table.accounts`)),
		shot("2-accounts"),
		chromedp.Navigate(a.url+"/console/w/acme/accounts/billing-sync"),
		chromedp.WaitVisible(chromedp.CSS(`table.keys`)),
		shot("7-account-billing-sync"),
		chromedp.Navigate(a.url+"/console/audit?workspace=acme"),
		chromedp.WaitVisible(chromedp.CSS(`table.audit`)),
		shot("6-audit"),
	)

	// A workspace's admins, added and removed in the console.
	admins := func() string {
		var out []string
		for _, x := range a.must(http.StatusOK, "GET", "/v1/workspaces/acme/admins", nil)["items"].([]any) {
			out = append(out, fmt.Sprint(x.(map[string]any)["principal"]))
		}
		return strings.Join(out, " ")
	}
	run("add a workspace admin",
		chromedp.Navigate(a.url+"/console/workspaces"),
		chromedp.Click(`//tr[td[1]/a[text()="acme"]]//a[text()="admins"]`),
		chromedp.WaitVisible(`//h1[text()="Admins of acme"]`),
		chromedp.SendKeys(chromedp.ID("admin-principal"), "person:alice"),
		chromedp.Submit(chromedp.ID("admin-principal")),
		chromedp.WaitVisible(`//p[@class="flash" and contains(., "alice is an admin of acme")]`),
		shot("10-workspace-admins"),
	)
	if got := admins(); got != "person:alice" {
		t.Fatalf("acme's admins after the console added alice: %q", got)
	}
	run("remove it",
		chromedp.Click(`//tr[td[1][text()="alice"]]//button[text()="Remove"]`),
		chromedp.WaitVisible(`//p[@class="flash" and contains(., "no longer an admin")]`),
	)
	if got := admins(); got != "" {
		t.Fatalf("acme's admins after the console removed alice: %q", got)
	}

	// A project owner sees and changes only their project.
	projects := func(sa string) string { // "project:role …" of an account, by the API
		var out []string
		for _, g := range a.must(http.StatusOK, "GET", "/v1/workspaces/acme/service-accounts/"+sa+"/projects", nil)["items"].([]any) {
			m := g.(map[string]any)
			out = append(out, fmt.Sprint(m["project"], ":", m["role"]))
		}
		return strings.Join(out, " ")
	}
	run("sign in as the owner of p1",
		chromedp.Click(chromedp.CSS(`form.signout button`)),
		chromedp.WaitVisible(chromedp.ID("credential")),
		chromedp.SendKeys(chromedp.ID("credential"), lead.Key),
		chromedp.Submit(chromedp.ID("credential")),
		chromedp.WaitVisible(`//h1[starts-with(., "Project p1")]`),
		chromedp.SendKeys(chromedp.ID("account"), "nightly-report"),
		chromedp.SetValue(chromedp.ID("assign-role"), "contributor"),
		chromedp.Submit(chromedp.ID("account")),
		chromedp.WaitVisible(chromedp.CSS(`.flash`)),
		shot("8-project-owner"),
	)
	if flash := read("read the message", chromedp.Text(chromedp.CSS(`.flash`))); !strings.Contains(flash, "nightly-report@acme is now contributor of project p1") {
		t.Errorf("after assigning on p1: %q", flash)
	}
	if got := projects("nightly-report"); got != "*:viewer p1:contributor" {
		t.Fatalf("nightly-report's projects after the owner assigned it: %q", got)
	}
	nav := read("read the menu", chromedp.Text(chromedp.CSS(`header.top`)))
	if strings.Contains(nav, "Audit trail") || !strings.Contains(nav, "service account p1-lead@acme") {
		t.Errorf("the project owner's menu: %q", nav)
	}
	// The same form sent to p2 is refused with keystore's words, and changes nothing.
	run("assign on p2",
		chromedp.SetAttributeValue(`//form[.//input[@id="account"]]`, "action", "/console/w/acme/projects/p2/assign"),
		chromedp.SendKeys(chromedp.ID("account"), "nightly-report"),
		chromedp.Submit(chromedp.ID("account")),
		chromedp.WaitVisible(`//p[@role="alert" and contains(., "needs owner of project p2")]`),
		shot("9-project-owner-refused"),
	)
	if got := projects("nightly-report"); got != "*:viewer p1:contributor" {
		t.Fatalf("nightly-report's projects after the refused form: %q", got)
	}
	run("unassign on p1",
		chromedp.Navigate(a.url+"/console/w/acme/projects/p1"),
		chromedp.Click(`//tr[td[1][contains(., "nightly-report@acme")] and td[3][text()="this project"]]//button[text()="Unassign"]`),
		chromedp.WaitVisible(chromedp.CSS(`.flash`)),
	)
	if got := projects("nightly-report"); got != "*:viewer" {
		t.Fatalf("nightly-report's projects after the owner unassigned it: %q", got)
	}
	run("the overview", chromedp.Navigate(a.url+"/console/workspaces"), chromedp.WaitVisible(`//h1[text()="What you manage"]`))
	overview := read("read the overview", chromedp.Text(chromedp.CSS(`main`)))
	if !strings.Contains(overview, "p1") || strings.Contains(overview, "p2") {
		t.Errorf("the project owner's overview offers p2, or not p1: %q", overview)
	}
	if out := a.proc.Output(); strings.Contains(out, key) || strings.Contains(out, adminToken) || strings.Contains(out, lead.Key) {
		t.Error("the admin's log holds a key or the admin token")
	}
	t.Logf("screenshots in %s", shots)
}

// findChromium returns Debian's Chromium (`make deps` installs it) or fails.
func findChromium(t *testing.T) string {
	for _, name := range []string{"chromium", "chromium-browser"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	t.Fatal("chromium is not installed: run `make deps` (scripts/ensure-deps.sh chromium)")
	return ""
}

// newBrowser starts headless Chromium for the test and returns its context.
func newBrowser(t *testing.T, chrome string) context.Context {
	opts := append(slices.Clone(chromedp.DefaultExecAllocatorOptions[:]),
		chromedp.ExecPath(chrome),
		chromedp.Headless,
		chromedp.DisableGPU,
		chromedp.WindowSize(1280, 860),
		chromedp.UserDataDir(t.TempDir()),
	)
	if os.Geteuid() == 0 {
		opts = append(opts, chromedp.NoSandbox) // Chromium's sandbox cannot run as root
	}
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(actx)
	t.Cleanup(func() { cancel(); cancelAlloc() })
	if err := chromedp.Do(ctx); err != nil { // starts the browser
		t.Fatalf("starting chromium: %v", err)
	}
	return ctx
}

// TestConsoleFlag: sagate serve serves the console by default, and not with --console=false.
func TestConsoleFlag(t *testing.T) {
	for _, c := range []struct {
		args []string
		want int
	}{{nil, http.StatusOK}, {[]string{"--console=false"}, http.StatusNotFound}} {
		e := newEnv(t, c.args...)
		resp, err := http.Get(e.admin.url + "/console/sign-in")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != c.want {
			t.Errorf("serve %v: /console/sign-in answers %d, want %d", c.args, resp.StatusCode, c.want)
		}
	}
}
