package console_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/sagate/sagate/keystore"
)

// Hostile input against the console's forms, mirroring the API's hostile cases
// (e2e/hostile_test.go): bidi and control characters, over-long values, markup, bad
// CSRF tokens and foreign origins. Properties, for every case: never a 5xx, never a
// change when the request is refused, never markup from the input unescaped in the page.

const script = `<script>alert(1)</script>`

func TestHostileForms(t *testing.T) {
	e := newEnv(t)
	b := e.browser()
	b.signIn()
	if _, _, err := e.svc.CreateServiceAccount(e.op, "acme", keystore.CreateServiceAccountInput{Name: "bot", CreateKey: true}); err != nil {
		t.Fatal(err)
	}
	long := strings.Repeat("a", 10<<10)
	cases := []struct {
		name   string
		path   string
		form   url.Values
		status int
		say    string // the page must say this
	}{
		{"account name with a script", "/console/w/acme/accounts", url.Values{"name": {script}}, 400, "Please check the form"},
		{"account name with a bidi override", "/console/w/acme/accounts", url.Values{"name": {"bot\u202egnp"}}, 400, "lower-case letter"},
		{"account name with NUL", "/console/w/acme/accounts", url.Values{"name": {"bot\x00x"}}, 400, "lower-case letter"},
		{"account name with CRLF", "/console/w/acme/accounts", url.Values{"name": {"bot\r\nSet-Cookie: a=b"}}, 400, "lower-case letter"},
		{"account name 10 KB", "/console/w/acme/accounts", url.Values{"name": {long}}, 400, "at most 63"},
		{"account name not UTF-8", "/console/w/acme/accounts", url.Values{"name": {"\xff\xfebot"}}, 400, "lower-case letter"},
		{"account name taken", "/console/w/acme/accounts", url.Values{"name": {"bot"}}, 409, "already taken"},
		{"description with a control character", "/console/w/acme/accounts", url.Values{"name": {"ok-name"}, "description": {"a\x07b"}}, 400, "control characters"},
		{"unknown role", "/console/w/acme/accounts", url.Values{"name": {"ok-name"}, "role": {"root"}}, 400, "viewer, contributor or owner"},
		{"expiry not a duration", "/console/w/acme/accounts", url.Values{"name": {"ok-name"}, "create_key": {"on"}, "expires_in": {script}}, 400, "from the list"},
		{"expiry negative", "/console/w/acme/accounts/bot/keys", url.Values{"expires_in": {"-1h"}}, 400, "from the list"},
		{"expiry too far", "/console/w/acme/accounts/bot/keys", url.Values{"expires_in": {"999999h"}}, 400, "Please check the form"},
		{"key name with a script", "/console/w/acme/accounts/bot/keys", url.Values{"name": {script}}, 400, "Please check the form"},
		{"key name with a bidi override", "/console/w/acme/accounts/bot/keys", url.Values{"name": {"k\u202e1"}}, 400, "Please check the form"},
		{"project with a script", "/console/w/acme/accounts/bot/grants", url.Values{"project": {script}, "role": {"viewer"}}, 400, "a project is *"},
		{"project 10 KB", "/console/w/acme/accounts/bot/grants", url.Values{"project": {long}, "role": {"viewer"}}, 400, "a project is *"},
		{"unassign a project never assigned", "/console/w/acme/accounts/bot/grants/remove", url.Values{"project": {"nope"}}, 404, "not found: it may have been deleted"},
		{"unknown account", "/console/w/acme/accounts/ghost/keys", url.Values{"name": {"k"}}, 404, "not found: it may have been deleted"},
		{"workspace with a script", "/console/w/" + url.PathEscape(script) + "/accounts", url.Values{"name": {"x"}}, 400, "Please check the form"},
		{"revoke an unknown key", "/console/w/acme/accounts/bot/keys/key_nope/revoke", nil, 404, "not found: it may have been deleted"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			before := state(t, e)
			b.get("/console/w/acme/accounts/bot") // a fresh CSRF token, as a page would have
			resp, body := b.post(c.path, c.form)
			if resp.StatusCode != c.status || !strings.Contains(body, c.say) {
				t.Errorf("status %d, want %d; says %q: %v", resp.StatusCode, c.status, c.say, strings.Contains(body, c.say))
			}
			if strings.Contains(body, script) || strings.Contains(body, "\u202e") && !strings.Contains(c.name, "bidi") {
				t.Error("the page holds the input's markup unescaped")
			}
			if after := state(t, e); after != before {
				t.Errorf("a refused form changed something: %s → %s", before, after)
			}
		})
	}

	// Markup in a description is accepted, and shown as text.
	resp, _ := b.post("/console/w/acme/accounts", url.Values{"name": {"xss"}, "description": {script}})
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("create with markup in the description: %d", resp.StatusCode)
	}
	for _, p := range []string{"/console/w/acme/accounts", "/console/w/acme/accounts/xss"} {
		_, body := b.get(p)
		if strings.Contains(body, script) || !strings.Contains(body, "&lt;script&gt;alert(1)&lt;/script&gt;") {
			t.Errorf("%s: the description is not escaped", p)
		}
	}
	// Filters: markup is reflected escaped; bidi and over-long values are refused.
	for _, c := range []struct {
		path   string
		status int
	}{
		{"/console/w/acme/accounts?q=" + url.QueryEscape(script), 200},
		{"/console/w/acme/accounts?q=" + url.QueryEscape("a\u202eb"), 400},
		{"/console/w/acme/accounts?q=" + strings.Repeat("a", 65), 400},
		{"/console/w/acme/accounts?page=" + url.QueryEscape(script), 400},
		{"/console/audit?actor=" + url.QueryEscape("a\x00b"), 400},
		{"/console/audit?since=" + url.QueryEscape(script), 400},
		{"/console/audit?workspace=" + url.QueryEscape(script), 400},
		{"/console/audit?since=2026-06-02T00:00&until=2026-06-01T00:00", 400},
		{"/console/w/acme/accounts/bot/keys/key_x/" + url.PathEscape(script), 404},
	} {
		resp, body := b.get(c.path)
		if resp.StatusCode != c.status || strings.Contains(body, script) {
			t.Errorf("GET %s: %d, want %d (or markup unescaped)", c.path, resp.StatusCode, c.status)
		}
	}
}

func TestHostileCSRFAndOrigin(t *testing.T) {
	e := newEnv(t)
	b := e.browser()
	b.signIn()
	other := e.browser()
	other.signIn() // another session: its token must not work in b's session
	create := url.Values{"name": {"csrf-victim"}}
	with := func(extra url.Values) url.Values {
		v := url.Values{}
		for k, vs := range create {
			v[k] = vs
		}
		for k, vs := range extra {
			v[k] = vs
		}
		return v
	}
	cases := []struct {
		name string
		form url.Values
		hdr  []string
		want int
	}{
		{"no token", with(url.Values{"csrf": {""}}), nil, 403},
		{"wrong token", with(url.Values{"csrf": {"AAAA"}}), nil, 403},
		{"another session's token", with(url.Values{"csrf": {other.csrf}}), nil, 403},
		{"two tokens, the first wrong", with(url.Values{"csrf": {"AAAA", b.csrf}}), nil, 403},
		{"token with a NUL", with(url.Values{"csrf": {b.csrf + "\x00"}}), nil, 403},
		{"other origin", create, []string{"Origin", "https://evil.example", "Sec-Fetch-Site", ""}, 403},
		{"other origin, same host, other port", create, []string{"Origin", "http://127.0.0.1:1", "Sec-Fetch-Site", ""}, 403},
		{"Origin null, no fetch metadata", create, []string{"Origin", "null", "Sec-Fetch-Site", ""}, 403},
		{"cross-site fetch metadata", create, []string{"Sec-Fetch-Site", "cross-site"}, 403},
		{"same-site fetch metadata", create, []string{"Sec-Fetch-Site", "same-site"}, 403},
		{"no origin at all", create, []string{"Origin", "", "Sec-Fetch-Site", ""}, 403},
		{"other Referer only", create, []string{"Origin", "", "Sec-Fetch-Site", "", "Referer", "https://evil.example/console/"}, 403},
		{"javascript: Origin", create, []string{"Origin", "javascript:alert(1)", "Sec-Fetch-Site", ""}, 403},
		{"body over 64 KiB", with(url.Values{"description": {strings.Repeat("x", 70<<10)}}), nil, 413},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			b.get("/console/workspaces")
			resp, body := b.post("/console/w/acme/accounts", c.form, c.hdr...)
			if resp.StatusCode != c.want || !strings.Contains(body, "nothing was changed") {
				t.Errorf("status %d, want %d", resp.StatusCode, c.want)
			}
			if _, err := e.svc.GetServiceAccount(e.op, "acme", "csrf-victim"); keystore.KindOf(err) != keystore.KindNotFound {
				t.Fatalf("the refused form created the account (err %v)", err)
			}
		})
	}
	// The same form, same-origin with its token, works; so does a Referer-only browser.
	b.get("/console/workspaces")
	if resp, _ := b.post("/console/w/acme/accounts", create, "Origin", "", "Sec-Fetch-Site", "", "Referer", e.srv.URL+"/console/w/acme/new-account"); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("the genuine form: %d", resp.StatusCode)
	}
	// Sign-in has its own token: a forged sign-in is refused too.
	anon := e.browser()
	resp, body := anon.post("/console/sign-in", url.Values{"credential": {testToken}, "csrf": {"forged"}})
	if resp.StatusCode != http.StatusForbidden || strings.Contains(body, testToken) {
		t.Errorf("forged sign-in: %d", resp.StatusCode)
	}
	anon.get("/console/sign-in")
	if resp, _ := anon.post("/console/sign-in", url.Values{"credential": {strings.Repeat("k", 1<<20)}}); resp.StatusCode != http.StatusRequestEntityTooLarge {
		t.Errorf("1 MB credential: %d", resp.StatusCode)
	}
	anon.get("/console/sign-in")
	if resp, _ := anon.post("/console/sign-in", url.Values{"credential": {testToken + "\x00"}}); resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("credential with NUL: %d", resp.StatusCode)
	}
	e.noSecretLogged(testToken)
}

// state summarizes what the store holds: accounts, live keys and grants, as one string.
func state(t *testing.T, e *env) string {
	t.Helper()
	sums, _, err := e.svc.ListAccountSummaries(e.op, "acme", "", keystore.Page{})
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	for _, s := range sums {
		b.WriteString(s.Name + ":" + string(s.State) + ":" + string(rune('0'+s.LiveKeys)))
		for _, p := range s.Projects {
			b.WriteString("," + p.Project + "=" + string(p.Role))
		}
		b.WriteString(";")
	}
	return b.String()
}
