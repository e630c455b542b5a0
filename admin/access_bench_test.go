package admin_test

import (
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/sagate/sagate/admin/admintest"
	"github.com/sagate/sagate/keystore"
)

// BenchmarkAuthenticatedCalls measures management calls over HTTP against the SQLite
// store (with Redis and the syncer running), made by a service account that administers
// its workspace (its key checked against the store, then its rights read in the call's
// transaction) and by the operator token. Run with -cpu 2 for the 2-core goal
// (≥ 1,000 calls/s by a service account).
func BenchmarkAuthenticatedCalls(b *testing.B) {
	env := admintest.Start(b, admintest.Options{})
	op := admintest.OperatorContext()
	svc := env.Service
	if _, err := svc.CreateWorkspace(op, "ml", 1000); err != nil {
		b.Fatal(err)
	}
	_, ci, err := svc.CreateServiceAccount(op, "ml", keystore.CreateServiceAccountInput{Name: "ci", CreateKey: true})
	if err != nil {
		b.Fatal(err)
	}
	if _, _, err := svc.CreateServiceAccount(op, "ml", keystore.CreateServiceAccountInput{Name: "target", CreateKey: true}); err != nil {
		b.Fatal(err)
	}
	if _, _, err := svc.SetWorkspaceAdmin(op, "ml", "sa:ci"); err != nil {
		b.Fatal(err)
	}
	tr := &http.Transport{MaxIdleConnsPerHost: 64}
	hc := &http.Client{Transport: tr}
	calls := []struct{ name, method, path, body string }{
		{"read", "GET", "/v1/workspaces/ml/service-accounts/target", ""},
		{"assign", "PUT", "/v1/workspaces/ml/projects/p1/service-accounts/target", `{"role": "viewer"}`},
	}
	for _, c := range calls {
		for _, who := range []struct{ name, cred string }{{"operator", env.Token}, {"service-account", ci.Key}} {
			b.Run(fmt.Sprintf("%s/%s", c.name, who.name), func(b *testing.B) {
				b.SetParallelism(4)
				b.RunParallel(func(pb *testing.PB) {
					for pb.Next() {
						var rd io.Reader
						if c.body != "" {
							rd = strings.NewReader(c.body)
						}
						req, _ := http.NewRequest(c.method, env.URL+c.path, rd)
						req.Header.Set("Authorization", "Bearer "+who.cred)
						if c.body != "" {
							req.Header.Set("Content-Type", "application/json")
						}
						res, err := hc.Do(req)
						if err != nil {
							b.Error(err)
							return
						}
						_, _ = io.Copy(io.Discard, res.Body)
						res.Body.Close()
						if res.StatusCode != http.StatusOK {
							b.Errorf("%s %s: status %d", c.method, c.path, res.StatusCode)
							return
						}
					}
				})
				b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "calls/s")
			})
		}
	}
}
