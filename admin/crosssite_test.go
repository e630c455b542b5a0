package admin_test

import (
	"net/http"
	"net/netip"
	"strings"
	"testing"

	"github.com/sagate/sagate/admin"
	"github.com/sagate/sagate/admin/admintest"
	"github.com/sagate/sagate/keystore"
)

// TestCrossSiteRefused: a state change a browser could have been made to send from
// another site is refused (403 cross_site, or 415 without Content-Type: application/json),
// for a person behind the proxy and for a token alike, and changes nothing; the same
// request as a script sends it (no Origin, no Sec-Fetch-Site) works, as does one from
// the admin's own origin.
func TestCrossSiteRefused(t *testing.T) {
	h := newHarness(t, admintest.Options{ProxyUserHeader: "X-Webauth-User",
		TrustedProxies: []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")}})
	h.workspace("ml")
	op := admintest.OperatorContext()
	if _, _, err := h.Service.SetWorkspaceAdmin(op, "ml", "person:alice"); err != nil {
		t.Fatal(err)
	}
	alice := []string{"Authorization", "", "X-Webauth-User", "alice"}
	host := strings.TrimPrefix(h.URL, "http://")
	const revoke = "/v1/workspaces/ml/service-accounts/bot/keys/revoke-all"
	refused := []struct {
		name   string
		status int
		code   string
		hdr    []string
	}{
		{"form post", 415, admin.CodeUnsupportedMediaType, []string{"Content-Type", "application/x-www-form-urlencoded"}},
		{"text/plain form", 415, admin.CodeUnsupportedMediaType, []string{"Content-Type", "text/plain"}},
		{"no content type", 415, admin.CodeUnsupportedMediaType, []string{"Content-Type", ""}},
		{"cross-site", 403, admin.CodeCrossSite, []string{"Sec-Fetch-Site", "cross-site"}},
		{"same-site", 403, admin.CodeCrossSite, []string{"Sec-Fetch-Site", "same-site"}},
		{"other origin", 403, admin.CodeCrossSite, []string{"Origin", "https://evil.example"}},
		{"other port", 403, admin.CodeCrossSite, []string{"Origin", "http://" + strings.Split(host, ":")[0] + ":1"}},
		{"null origin", 403, admin.CodeCrossSite, []string{"Origin", "null"}},
		{"odd origin", 403, admin.CodeCrossSite, []string{"Origin", "ftp://" + host}},
	}
	for _, who := range []struct {
		name string
		hdr  []string
	}{{"person", alice}, {"operator", nil}} {
		h.account("ml", "bot")
		for _, c := range refused {
			r := h.do("POST", revoke, "", append(append([]string{}, who.hdr...), c.hdr...)...)
			if r.Status != c.status || r.code(t) != c.code {
				t.Fatalf("%s, %s: %d %s, want %d %s", who.name, c.name, r.Status, r.Body, c.status, c.code)
			}
		}
		keys, _, err := h.Service.ListKeys(op, "ml", "bot", keystore.Page{})
		if err != nil || len(keys) != 1 || keys[0].State != keystore.KeyActive {
			t.Fatalf("%s: after the refused requests the key is %+v (%v), want it active", who.name, keys, err)
		}
		// From the admin's own origin, and as a script sends it, the change is made.
		h.must(http.StatusOK, "POST", revoke, "", append(append([]string{}, who.hdr...), "Origin", "http://"+host, "Sec-Fetch-Site", "same-origin")...)
		h.must(http.StatusOK, "POST", "/v1/workspaces/ml/service-accounts/bot/deactivate", "", who.hdr...)
		h.must(http.StatusNoContent, "DELETE", "/v1/workspaces/ml/service-accounts/bot", "", who.hdr...)
	}
	// Reads are not changes: a page may link to them.
	h.must(http.StatusOK, "GET", "/v1/whoami", "", append(alice, "Sec-Fetch-Site", "cross-site")...)
}
