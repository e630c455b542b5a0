package caddymodule

import (
	"context"
	"encoding/json"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sagate/sagate/caddymodule/assertion"
	"github.com/sagate/sagate/examples/verifyassertion"
	"github.com/sagate/sagate/keystore/wire"
)

// assertionSite starts a site that gives assertions for audience and serves its JWKS
// document at /.well-known/sagate-jwks.json: the README's Caddyfile.
func assertionSite(t *testing.T, st *store, up *upstream, audience string) sidecar {
	t.Helper()
	dir := t.TempDir()
	keyFile, jwksFile := filepath.Join(dir, "assertion.key"), filepath.Join(dir, "jwks.json")
	k, err := assertion.WriteNew(keyFile)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(jwksFile, assertion.JWKS(k), 0o644); err != nil {
		t.Fatal(err)
	}
	sc := newSidecarURL(t)
	loadCaddy(t, readmeCaddyfile(t, "assertion", sc, st, map[string]string{
		"/etc/caddy/assertion.key":    keyFile,
		"/etc/caddy/jwks.json":        jwksFile,
		"https://reports.example.com": audience,
		"127.0.0.1:9000":              strings.TrimPrefix(up.URL, "http://"),
	}))
	return sc
}

func TestCaddyAssertion(t *testing.T) {
	st := newStore(t)
	up := newUpstream(t)
	const audience = "https://reports.example.com"
	sc := assertionSite(t, st, up, audience)
	a := st.newAccount("ci-bot", "ml-team", map[string]wire.Role{"forecasting": wire.RoleContributor})

	if res := sc.do(t, "/", "Bearer "+a.key, "X-Project", "forecasting", AssertionHeader, "forged"); res.status != http.StatusOK {
		t.Fatalf("a live key: %d %s", res.status, res.body)
	}
	got := up.last(t).Values(AssertionHeader)
	if len(got) != 1 || got[0] == "forged" {
		t.Fatalf("the upstream got Sagate-Assertion %q; want only the sidecar's", got)
	}
	token := got[0]

	keys, err := verifyassertion.FetchJWKS(context.Background(), sc.url+"/.well-known/sagate-jwks.json")
	if err != nil {
		t.Fatal(err)
	}
	c, err := keys.Verify(token, audience, time.Now())
	if err != nil {
		t.Fatalf("the Go example refuses the sidecar's assertion: %v", err)
	}
	want := verifyassertion.Claims{Issuer: "sagate", Subject: "ci-bot@ml-team", Audience: audience,
		IssuedAt: c.IssuedAt, Expires: c.IssuedAt + 300, ServiceAccountID: "sa_ci-bot", Workspace: "ml-team",
		KeyID: "key_ci-bot", Project: "forecasting", Role: "contributor"}
	if c != want {
		t.Errorf("claims %+v, want %+v", c, want)
	}
	if _, err := keys.Verify(token, "https://other.example.com", time.Now()); err == nil {
		t.Error("the Go example accepts an assertion for another audience")
	}
	if _, err := keys.Verify(token, audience, time.Unix(c.Expires, 0).Add(time.Minute)); err == nil {
		t.Error("the Go example accepts an expired assertion")
	}
	if _, err := keys.Verify(tamper(token), audience, time.Now()); err == nil {
		t.Error("the Go example accepts an altered assertion")
	}

	// The same identity within the minute: the same assertion, signed once.
	sc.do(t, "/", "Bearer "+a.key, "X-Project", "forecasting")
	if again := up.last(t).Get(AssertionHeader); again != token {
		t.Error("a second request within the minute got a newly signed assertion")
	}
	// Another project is another identity.
	a.rec.Roles["billing"] = wire.RoleViewer
	st.put(a)
	waitUntil(t, "the new grant", func() bool {
		return sc.do(t, "/", "Bearer "+a.key, "X-Project", "billing").status == http.StatusOK
	})
	if c, err := keys.Verify(up.last(t).Get(AssertionHeader), audience, time.Now()); err != nil || c.Project != "billing" || c.Role != "viewer" {
		t.Errorf("assertion for project billing: %+v, %v", c, err)
	}
	// A refused request reaches nothing; a request without a project is refused too.
	n := up.count()
	if res := sc.do(t, "/", "", AssertionHeader, token); res.status != http.StatusUnauthorized || up.count() != n {
		t.Errorf("a request with an assertion and no key: %d", res.status)
	}

	t.Run("node jose", func(t *testing.T) {
		verifyWithNode(t, sc.url+"/.well-known/sagate-jwks.json", audience, token)
	})
}

// tamper changes one character of the payload.
func tamper(token string) string {
	parts := strings.Split(token, ".")
	b := []byte(parts[1])
	if b[5] == 'A' {
		b[5] = 'B'
	} else {
		b[5] = 'A'
	}
	return parts[0] + "." + string(b) + "." + parts[2]
}

// verifyWithNode runs examples/verifyassertion/verify.mjs with jose installed in a
// temporary directory: it must accept token for audience and refuse it for another.
func verifyWithNode(t *testing.T, jwksURL, audience, token string) {
	if _, err := exec.LookPath("npm"); err != nil {
		t.Skip("npm is not installed: the Node.js example is not run")
	}
	dir := t.TempDir()
	src, err := os.ReadFile("../examples/verifyassertion/verify.mjs")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "verify.mjs"), src, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "package.json"), []byte(`{"private": true, "type": "module"}`), 0o644); err != nil {
		t.Fatal(err)
	}
	install := exec.Command("npm", "install", "--no-audit", "--no-fund", "--silent", "jose@6")
	install.Dir = dir
	if out, err := install.CombinedOutput(); err != nil {
		t.Fatalf("npm install jose: %v\n%s", err, out)
	}
	node := func(aud string) (string, error) {
		cmd := exec.Command("node", "verify.mjs", jwksURL, aud, token)
		cmd.Dir = dir
		out, err := cmd.CombinedOutput()
		return string(out), err
	}
	out, err := node(audience)
	if err != nil {
		t.Fatalf("verify.mjs refuses the sidecar's assertion: %v\n%s", err, out)
	}
	var c verifyassertion.Claims
	if err := json.Unmarshal([]byte(out), &c); err != nil || c.Subject != "ci-bot@ml-team" || c.Project != "forecasting" {
		t.Errorf("verify.mjs printed %q (%v)", out, err)
	}
	if out, err := node("https://other.example.com"); err == nil || !strings.Contains(out, "invalid assertion") {
		t.Errorf("verify.mjs accepts another audience: %v\n%s", err, out)
	}
}
