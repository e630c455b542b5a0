package admin_test

import (
	"context"
	"errors"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/sagate/sagate/admin"
	"github.com/sagate/sagate/admin/admintest"
	"github.com/sagate/sagate/keystore"
	"github.com/sagate/sagate/keystore/wire"
)

type health struct {
	Status string            `json:"status"`
	Checks map[string]string `json:"checks"`
}

func TestReadiness(t *testing.T) {
	h := newHarness(t, admintest.Options{})
	if got := decode[health](t, h.must(200, "GET", "/healthz", "")); got.Status != "ok" {
		t.Fatalf("healthz: %+v", got)
	}
	if got := decode[health](t, h.must(200, "GET", "/readyz", "")); got.Checks["store"] != "ok" || got.Checks["redis"] != "ok" {
		t.Fatalf("readyz: %+v", got)
	}
	h.Redis.Kill()
	got := decode[health](t, h.must(503, "GET", "/readyz", ""))
	if got.Status != "not_ready" || got.Checks["redis"] != "unavailable" || got.Checks["store"] != "ok" {
		t.Fatalf("readyz with redis down: %+v", got)
	}
	h.must(200, "GET", "/healthz", "")
	// Mutations still commit with Redis down; the next reconcile repairs Redis.
	h.workspace("ml-team")
	k := h.account("ml-team", "bot").APIKey
	h.Redis.Restart()
	admintest.Eventually(t, 10*time.Second, "the record of a key created while redis was down", func() error {
		return recordExists(h, k.Key)
	})
	h.LiveRecord(t, k.Key)
	// Ready again once its readiness check has seen Redis back and the backlog confirmed.
	admintest.Eventually(t, 10*time.Second, "readyz after redis came back", func() error {
		if r := h.do("GET", "/readyz", ""); r.Status != http.StatusOK {
			return errors.New(string(r.Body))
		}
		return nil
	})

	// The store gone: readyz names it, API calls answer a generic 500.
	if err := h.Store.Close(); err != nil {
		t.Fatal(err)
	}
	got = decode[health](t, h.must(503, "GET", "/readyz", ""))
	if got.Checks["store"] != "unavailable" {
		t.Fatalf("readyz with the store closed: %+v", got)
	}
	r := h.fail(500, admin.CodeInternal, "GET", "/v1/workspaces", "")
	if strings.Contains(string(r.Body), "sql") || strings.Contains(string(r.Body), "closed") {
		t.Fatalf("the 500 answer shows its cause: %s", r.Body)
	}
	if h.Logs.FilterMessage("admin request failed").Len() == 0 {
		t.Fatal("the cause of a 500 was not logged")
	}
}

func TestMetrics(t *testing.T) {
	h := newHarness(t, admintest.Options{})
	h.workspace("ml-team")
	h.account("ml-team", "bot")
	h.do("GET", "/v1/workspaces/ml-team/service-accounts/bot", "")
	h.do("GET", "/v1/workspaces/ml-team/service-accounts/nobody", "")
	h.do("GET", "/v1/nope", "")
	h.do("GET", "/v1/workspaces", "", "Authorization", "")
	body := string(h.must(200, "GET", "/metrics", "", "Authorization", "").Body)
	for _, want := range []string{
		`sagate_admin_requests_total{code="201",route="POST /v1/workspaces"} 1`,
		`sagate_admin_requests_total{code="200",route="GET /v1/workspaces/{ws}/service-accounts/{sa}"} 1`,
		`sagate_admin_requests_total{code="404",route="GET /v1/workspaces/{ws}/service-accounts/{sa}"} 1`,
		`sagate_admin_requests_total{code="401",route="GET /v1/workspaces"} 1`,
		`sagate_admin_requests_total{code="404",route="unmatched"} 1`,
		`sagate_admin_request_duration_seconds_count{route="POST /v1/workspaces/{ws}/service-accounts"} 1`,
		"sagate_admin_keys_issued_total",
		"go_goroutines",
		"process_cpu_seconds_total",
	} {
		if !strings.Contains(body, want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
	if strings.Contains(body, "nobody") {
		t.Fatal("a raw path became a metric label")
	}
	if h.Logs.FilterMessage("admin request").FilterField(zapString("route", "GET /v1/workspaces/{ws}/service-accounts/{sa}")).Len() != 2 {
		t.Fatal("the access log lacks the route pattern")
	}
}

// TestAuditActor: the audit trail names the authenticated principal; X-Sagate-Actor,
// once the caller's own claim, is refused and changes nothing.
func TestAuditActor(t *testing.T) {
	h := newHarness(t, admintest.Options{})
	h.must(201, "POST", "/v1/workspaces", `{"name": "ml-team"}`)
	h.account("ml-team", "bot")
	for _, claim := range []string{"alice@laptop", "admin", ""} {
		h.fail(400, admin.CodeInvalid, "POST", "/v1/workspaces/ml-team/service-accounts/bot/deactivate", "", admin.ActorHeader, claim+" ")
	}
	l := decode[admin.List[keystore.AuditEvent]](t, h.must(200, "GET", "/v1/audit", ""))
	if len(l.Items) != 2 {
		t.Fatalf("audit: %+v", l.Items)
	}
	newest, oldest := l.Items[0], l.Items[len(l.Items)-1]
	if oldest.Action != "workspace.create" || oldest.Actor != "operator:admin" || oldest.Principal == nil ||
		oldest.Principal.Kind != keystore.PrincipalOperator || oldest.Principal.Name != admin.EnvTokenOperator {
		t.Fatalf("oldest audit event: %+v", oldest)
	}
	if newest.Action != "service_account.create" || newest.Actor != "operator:admin" || newest.At.Before(oldest.At) {
		t.Fatalf("newest audit event: %+v", newest)
	}
	page := decode[admin.List[keystore.AuditEvent]](t, h.must(200, "GET", "/v1/audit?page_size=1", ""))
	if len(page.Items) != 1 || page.NextPageToken == "" || page.Items[0].ID != newest.ID {
		t.Fatalf("audit page: %+v", page)
	}
}

func TestRestartKeepsEverything(t *testing.T) {
	h := newHarness(t, admintest.Options{})
	h.workspace("ml-team")
	out := h.account("ml-team", "bot", "all_projects_role", "owner")
	k2 := decode[keystore.IssuedKey](t, h.must(201, "POST", "/v1/workspaces/ml-team/service-accounts/bot/keys", `{"name": "second"}`))
	h.must(204, "DELETE", "/v1/workspaces/ml-team/service-accounts/bot/keys/"+k2.ID, "")
	h.must(200, "PUT", "/v1/workspaces/ml-team/projects/vision/service-accounts/bot", `{"role": "viewer"}`)
	h.Stop()

	h2 := newHarness(t, admintest.Options{Redis: h.Redis, DBPath: h.DBPath})
	h2.keys = append(h2.keys, out.APIKey.Key, k2.Key)
	sa := decode[keystore.ServiceAccount](t, h2.must(200, "GET", "/v1/workspaces/ml-team/service-accounts/bot", ""))
	if sa.ID != out.ServiceAccount.ID {
		t.Fatalf("account after restart: %+v", sa)
	}
	keys := decode[admin.List[keystore.APIKey]](t, h2.must(200, "GET", "/v1/workspaces/ml-team/service-accounts/bot/keys", ""))
	if len(keys.Items) != 2 || keys.Items[0].State != keystore.KeyActive || keys.Items[1].State != keystore.KeyRevoked {
		t.Fatalf("keys after restart: %+v", keys.Items)
	}
	grants := decode[admin.List[keystore.Grant]](t, h2.must(200, "GET", "/v1/workspaces/ml-team/projects/vision/service-accounts", ""))
	if len(grants.Items) != 2 {
		t.Fatalf("grants after restart: %+v", grants.Items)
	}
	rec := h2.LiveRecord(t, out.APIKey.Key)
	if rec.Roles["vision"] != keystore.RoleViewer || rec.Roles["*"] != keystore.RoleOwner {
		t.Fatalf("record after restart: %+v", rec)
	}
	h2.AssertNotLive(t, k2.Key)
	h2.fail(409, string(keystore.KindNameTaken), "POST", "/v1/workspaces", `{"name": "ml-team"}`)
}

func TestFlushAllResync(t *testing.T) {
	h := newHarness(t, admintest.Options{})
	h.workspace("ml-team")
	k := h.account("ml-team", "bot").APIKey
	revoked := decode[keystore.IssuedKey](t, h.must(201, "POST", "/v1/workspaces/ml-team/service-accounts/bot/keys", ""))
	h.must(204, "DELETE", "/v1/workspaces/ml-team/service-accounts/bot/keys/"+revoked.ID, "")
	if err := h.RDB.FlushAll(context.Background()).Err(); err != nil {
		t.Fatal(err)
	}
	admintest.Eventually(t, 10*time.Second, "the resync after FLUSHALL", func() error {
		if r := h.do("GET", "/readyz", ""); r.Status != http.StatusOK {
			return errors.New("not ready")
		}
		return recordExists(h, k.Key)
	})
	h.LiveRecord(t, k.Key)
	h.AssertNotLive(t, revoked.Key)
}

func TestServeShutsDown(t *testing.T) {
	h := newHarness(t, admintest.Options{})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- h.Server.Serve(ctx, ln) }()
	c := h.Client(t)
	c2, err := admin.NewClient("http://"+ln.Addr().String(), h.Token)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c2.CreateWorkspace(context.Background(), admin.CreateWorkspaceRequest{Name: "via-serve"}); err != nil {
		t.Fatal(err)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("Serve after its context ended: %v", err)
	}
	if _, err := c2.AllWorkspaces(context.Background()); err == nil {
		t.Fatal("the server still answers after shutdown")
	}
	if ws, err := c.AllWorkspaces(context.Background()); err != nil || len(ws) != 1 {
		t.Fatalf("workspaces: %v %v", ws, err)
	}
}

// recordExists reports, as an error for polling, whether Redis holds a record for key.
func recordExists(h *harness, key string) error {
	n, err := h.RDB.Exists(context.Background(), wire.RedisKey(keystore.HashKey(key))).Result()
	if err != nil {
		return err
	}
	if n == 0 {
		return errors.New("no record yet")
	}
	return nil
}
