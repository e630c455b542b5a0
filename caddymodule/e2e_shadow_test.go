package caddymodule

import (
	"net/http"
	"net/http/httptest"
	"os"
	"regexp"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/sagate/sagate/internal/testing/keytest"
)

// readmeCaddyfile returns the Caddyfile that follows "<!-- caddyfile:NAME -->" in the
// README, with its addresses pointed at the test's sidecar, Redis and upstreams:
// the rest is run as written.
func readmeCaddyfile(t *testing.T, name string, sc sidecar, st *store, addrs map[string]string) string {
	t.Helper()
	return docCaddyfile(t, "../README.md", name, sc, st, addrs)
}

// docCaddyfile is readmeCaddyfile for the Markdown file doc.
func docCaddyfile(t *testing.T, doc, name string, sc sidecar, st *store, addrs map[string]string) string {
	t.Helper()
	cf := strings.Replace(markedCaddyfile(t, doc, name), ":8080 {", sc.url+" {", 1)
	cf = strings.ReplaceAll(cf, "redis://127.0.0.1:6379/0", st.sidecarURL())
	for from, to := range addrs {
		cf = strings.ReplaceAll(cf, from, to)
	}
	t.Setenv("SAGATE_SIGNING_KEY", keytest.SigningKey(t).Public().String())
	return globalOptions + cf
}

// markedCaddyfile returns, as written, the Caddyfile that follows
// "<!-- caddyfile:NAME -->" in the Markdown file doc.
func markedCaddyfile(t *testing.T, doc, name string) string {
	t.Helper()
	b, err := os.ReadFile(doc)
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile("(?s)<!-- caddyfile:" + regexp.QuoteMeta(name) + " -->\n```caddyfile\n(.*?)```").FindSubmatch(b)
	if m == nil {
		t.Fatalf("%s has no Caddyfile marked caddyfile:%s", doc, name)
	}
	return string(m[1])
}

// shadowCount is how many would-be refusals for reason were counted so far.
func shadowCount(r reason) float64 {
	initShadowMetrics()
	return testutil.ToFloat64(shadowMetrics.byReason[r])
}

// TestMigrateFromNoAuthentication runs the README's three steps for an API that had
// no authentication: shadow mode forwards everything, marked and counted; without
// "mode shadow" the same file enforces.
func TestMigrateFromNoAuthentication(t *testing.T) {
	st := newStore(t)
	up := newUpstream(t)
	sc := newSidecarURL(t)
	member := st.newAccount("ci-bot", "ml-team", nil)
	outsider := st.newAccount("intruder", "other-team", nil)
	shadow := readmeCaddyfile(t, "none", sc, st, map[string]string{"127.0.0.1:9000": strings.TrimPrefix(up.URL, "http://")})
	loadCaddy(t, shadow)
	// Both keys are cached before counting: under load a first lookup may time out,
	// which shadow mode reports as unavailable.
	for _, k := range []struct{ key, want string }{{member.key, decisionAllow}, {outsider.key, decisionValues[reasonWorkspace]}} {
		waitUntil(t, "the key's decision", func() bool {
			return sc.do(t, "/", "Bearer "+k.key).status == http.StatusOK && up.last(t).Get(DecisionHeader) == k.want
		})
	}

	// Step 1: nothing is refused; the upstream learns what would have been.
	before := shadowCount(reasonNoKey)
	if a := sc.do(t, "/", "", "X-Service-Account", "forged@ml-team", "Sagate-Decision", "allow"); a.status != http.StatusOK {
		t.Fatalf("shadow mode, no key: %d %s", a.status, a.body)
	}
	got := up.last(t)
	if d := got.Get(DecisionHeader); d != "refuse; status=401; reason=no_key" {
		t.Errorf("Sagate-Decision without a key: %q", d)
	}
	if v := got.Values("X-Service-Account"); len(v) != 0 {
		t.Errorf("a refused request reached the upstream with the client's identity header: %q", v)
	}
	if n := shadowCount(reasonNoKey) - before; n != 1 {
		t.Errorf("sagate_shadow_refusals_total{reason=no_key} rose by %v, want 1", n)
	}
	beforeWs := shadowCount(reasonWorkspace)
	if a := sc.do(t, "/", "Bearer "+outsider.key); a.status != http.StatusOK {
		t.Fatalf("shadow mode, another workspace's key: %d", a.status)
	}
	got = up.last(t)
	if d := got.Get(DecisionHeader); d != "refuse; status=403; reason=workspace" {
		t.Errorf("Sagate-Decision for another workspace's key: %q", d)
	}
	if got.Get("X-Service-Account") != "" || got.Get("Authorization") != "" {
		t.Errorf("a key that does not pass got identity headers or reached the upstream: %v", got)
	}
	if n := shadowCount(reasonWorkspace) - beforeWs; n != 1 {
		t.Errorf("sagate_shadow_refusals_total{reason=workspace} rose by %v, want 1", n)
	}
	if a := sc.do(t, "/", "Bearer "+member.key); a.status != http.StatusOK {
		t.Fatalf("shadow mode, a live key: %d", a.status)
	}
	got = up.last(t)
	if got.Get(DecisionHeader) != "allow" || got.Get("X-Service-Account") != "ci-bot@ml-team" {
		t.Errorf("a live key in shadow mode: decision %q, account %q", got.Get(DecisionHeader), got.Get("X-Service-Account"))
	}

	// Step 3: the same file without "mode shadow" enforces.
	enforce := strings.Replace(shadow, "\t\tmode shadow\n", "", 1)
	if enforce == shadow {
		t.Fatal(`the README's example has no "mode shadow" line to delete`)
	}
	loadCaddy(t, enforce)
	n := up.count()
	if a := sc.do(t, "/", ""); a.status != http.StatusUnauthorized {
		t.Errorf("enforced, no key: %d", a.status)
	}
	if a := sc.do(t, "/", "Bearer "+outsider.key); a.status != http.StatusForbidden {
		t.Errorf("enforced, another workspace's key: %d", a.status)
	}
	if up.count() != n {
		t.Error("an enforced refusal reached the upstream")
	}
	if a := sc.do(t, "/", "Bearer "+member.key); a.status != http.StatusOK || up.last(t).Get(DecisionHeader) != "" {
		t.Errorf("enforced, a live key: %d, decision header %q", a.status, up.last(t).Get(DecisionHeader))
	}
}

// TestMigrateFromBasicAuthAndForwardAuth runs the README's files for an API behind
// basic_auth or forward_auth: the old check keeps refusing what it refused, a sagate
// key is enforced, and the old traffic is counted (no_key, malformed).
func TestMigrateFromBasicAuthAndForwardAuth(t *testing.T) {
	st := newStore(t)
	up := newUpstream(t)
	member := st.newAccount("ci-bot", "ml-team", nil)
	revoked := st.newAccount("old-bot", "ml-team", nil)
	st.revoke(revoked)
	auth := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/check" || r.Header.Get("Authorization") != "Bearer legacy-token" {
			w.WriteHeader(http.StatusUnauthorized)
		}
	}))
	t.Cleanup(auth.Close)
	for _, tc := range []struct {
		name      string
		good, bad string // Authorization the old check accepts, refuses
		reason    reason // what sagate makes of good
	}{
		{"basic_auth", "Basic " + basic("report-job", "correct horse"), "Basic " + basic("report-job", "wrong"), reasonNoKey},
		{"forward_auth", "Bearer legacy-token", "Bearer other-token", reasonMalformed},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sc := newSidecarURL(t)
			loadCaddy(t, readmeCaddyfile(t, tc.name, sc, st, map[string]string{
				"127.0.0.1:9000": strings.TrimPrefix(up.URL, "http://"),
				"127.0.0.1:9100": strings.TrimPrefix(auth.URL, "http://"),
			}))
			n := up.count()
			for _, c := range []struct {
				what, auth string
				want       int
			}{
				{"no credentials", "", http.StatusUnauthorized},
				{"credentials the old check refuses", tc.bad, http.StatusUnauthorized},
				{"a revoked sagate key", "Bearer " + revoked.key, http.StatusUnauthorized},
				{"a malformed sagate key", "Bearer " + keytest.BadChecksum(keytest.New(t)), http.StatusUnauthorized},
			} {
				if a := sc.do(t, "/", c.auth); a.status != c.want {
					t.Errorf("%s: %d, want %d", c.what, a.status, c.want)
				}
			}
			if up.count() != n {
				t.Fatal("a request the old check or sagate refuses reached the upstream")
			}
			before := shadowCount(tc.reason)
			if a := sc.do(t, "/", tc.good, "X-Service-Account", "forged@ml-team"); a.status != http.StatusOK {
				t.Fatalf("the old credentials: %d %s", a.status, a.body)
			}
			got := up.last(t)
			if d := got.Get(DecisionHeader); d != decisionValues[tc.reason] || got.Get("X-Service-Account") != "" {
				t.Errorf("the old credentials: decision %q, account %q", d, got.Get("X-Service-Account"))
			}
			if n := shadowCount(tc.reason) - before; n != 1 {
				t.Errorf("sagate_shadow_refusals_total{reason=%s} rose by %v, want 1", reasonNames[tc.reason], n)
			}
			if a := sc.do(t, "/", "Bearer "+member.key); a.status != http.StatusOK {
				t.Fatalf("a live key: %d", a.status)
			}
			if got := up.last(t); got.Get("X-Service-Account") != "ci-bot@ml-team" || got.Get(DecisionHeader) != "" {
				t.Errorf("a live key: account %q, decision %q", got.Get("X-Service-Account"), got.Get(DecisionHeader))
			}
		})
	}
}

// basic is the credentials of HTTP Basic authentication.
func basic(user, password string) string {
	r, _ := http.NewRequest(http.MethodGet, "/", nil)
	r.SetBasicAuth(user, password)
	return strings.TrimPrefix(r.Header.Get("Authorization"), "Basic ")
}
