package console_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/sagate/sagate/keystore"
)

// BenchmarkAccountsPage renders the accounts page of a workspace with 1,000 accounts
// and 5,000 keys (and 1,500 grants) at the server: the first page, a later page, and a
// name filter. The goal is well under 100 ms per page.
func BenchmarkAccountsPage(b *testing.B) {
	e := newEnv(b)
	if _, err := e.svc.CreateWorkspace(e.op, "big", keystore.MaxServiceAccountsLimit); err != nil {
		b.Fatal(err)
	}
	for i := range 1000 {
		name := fmt.Sprintf("svc-%04d", i)
		if _, _, err := e.svc.CreateServiceAccount(e.op, "big", keystore.CreateServiceAccountInput{
			Name: name, AllProjectsRole: keystore.RoleViewer, CreateKey: true,
		}); err != nil {
			b.Fatal(err)
		}
		for k := range 4 {
			if _, err := e.svc.CreateKey(e.op, "big", name, keystore.CreateKeyInput{Name: fmt.Sprintf("k%d", k)}); err != nil {
				b.Fatal(err)
			}
		}
		if i%2 == 0 {
			if _, err := e.svc.SetGrant(e.op, "big", "billing", name, keystore.RoleOwner); err != nil {
				b.Fatal(err)
			}
		}
	}
	br := e.browser()
	br.signIn()
	cookies := br.hc.Jar.Cookies(mustURL(e.srv.URL + "/console/"))
	_, body := br.get("/console/w/big/accounts")
	i := strings.Index(body, "page=")
	if i < 0 {
		b.Fatal("no next page link")
	}
	token := body[i+len("page=") : i+strings.IndexByte(body[i:], '"')]
	for _, c := range []struct{ name, path string }{
		{"first", "/console/w/big/accounts"},
		{"later", "/console/w/big/accounts?page=" + token},
		{"filter", "/console/w/big/accounts?q=svc-09"},
	} {
		b.Run(c.name, func(b *testing.B) {
			for b.Loop() {
				req := httptest.NewRequest(http.MethodGet, c.path, nil)
				for _, ck := range cookies {
					req.AddCookie(ck)
				}
				rec := httptest.NewRecorder()
				e.con.ServeHTTP(rec, req)
				if rec.Code != http.StatusOK || !strings.Contains(rec.Body.String(), "svc-0") {
					b.Fatalf("status %d", rec.Code)
				}
			}
		})
	}
}
