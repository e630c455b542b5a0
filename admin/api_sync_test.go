package admin_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/sagate/sagate/admin"
	"github.com/sagate/sagate/admin/admintest"
)

// backlogOf reads the gauge sagate_sync_backlog from the admin's registry.
func backlogOf(t *testing.T, reg *prometheus.Registry) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatalf("gathering metrics: %v", err)
	}
	for _, mf := range mfs {
		if mf.GetName() == "sagate_sync_backlog" {
			return mf.GetMetric()[0].GetGauge().GetValue()
		}
	}
	t.Fatal("no sagate_sync_backlog metric")
	return 0
}

type readyBody struct {
	Status      string            `json:"status"`
	Checks      map[string]string `json:"checks"`
	SyncBacklog int64             `json:"sync_backlog"`
}

// A change committed while Redis is down says so: the answer carries Sagate-Sync
// pending; the backlog gauge and /readyz show it once it is older than the grace (2 s),
// until it reaches Redis after Redis returns.
func TestSyncPendingWhileRedisDown(t *testing.T) {
	h := newHarness(t, admintest.Options{})
	ws := "/v1/workspaces/ml-team"
	r := h.must(http.StatusCreated, "POST", "/v1/workspaces", `{"name": "ml-team"}`)
	if got := r.Header.Get(admin.SyncHeader); got != "applied" {
		t.Fatalf("workspace create with redis up: %s %q, want applied", admin.SyncHeader, got)
	}
	bot := h.account("ml-team", "bot")
	if got := h.must(http.StatusOK, "GET", ws+"/service-accounts/bot", "").Header.Get(admin.SyncHeader); got != "" {
		t.Fatalf("a read answered %s %q", admin.SyncHeader, got)
	}
	if n := backlogOf(t, h.Registry); n != 0 {
		t.Fatalf("backlog %v with redis up", n)
	}

	h.Redis.Kill()
	r = h.must(http.StatusNoContent, "DELETE", ws+"/service-accounts/bot/keys/"+bot.APIKey.ID, "")
	if got := r.Header.Get(admin.SyncHeader); got != `pending; reason="redis unreachable"` {
		t.Fatalf("revoke with redis down: %s %q", admin.SyncHeader, got)
	}
	// The Go client reports it too.
	c := h.Client(t)
	ctx, st := admin.TrackSync(context.Background())
	k, err := c.CreateKey(ctx, "ml-team", "bot", admin.CreateKeyRequest{Name: "second"})
	if err != nil {
		t.Fatalf("create key with redis down: %v", err)
	}
	h.mu.Lock()
	h.keys = append(h.keys, k.Key)
	h.mu.Unlock()
	if !st.Pending() || st.Reason != "redis unreachable" || st.Notice() != "not yet at the sidecars: Redis unreachable, retrying" {
		t.Fatalf("client sync status with redis down: %+v %q", *st, st.Notice())
	}
	// An error answer commits nothing and says nothing about sync.
	if got := h.fail(http.StatusNotFound, "not_found", "DELETE", ws+"/service-accounts/nobody", "").Header.Get(admin.SyncHeader); got != "" {
		t.Fatalf("a failed request answered %s %q", admin.SyncHeader, got)
	}
	admintest.Eventually(t, 10*time.Second, "the backlog to count the two changes", func() error {
		if n := backlogOf(t, h.Registry); n < 2 {
			return fmt.Errorf("backlog %v with two changes Redis did not take, want >= 2", n)
		}
		return nil
	})
	rb := decode[readyBody](t, h.must(http.StatusServiceUnavailable, "GET", "/readyz", ""))
	if rb.SyncBacklog < 2 || rb.Checks["sync"] != "backlog" {
		t.Fatalf("readyz with a backlog: %+v", rb)
	}

	h.Redis.Restart()
	admintest.Eventually(t, 10*time.Second, "the backlog to drain", func() error {
		if n := backlogOf(t, h.Registry); n != 0 {
			return fmt.Errorf("backlog %v", n)
		}
		return nil
	})
	h.AssertNotLive(t, bot.APIKey.Key)
	h.LiveRecord(t, k.Key)
	rb = decode[readyBody](t, h.must(http.StatusOK, "GET", "/readyz", ""))
	if rb.SyncBacklog != 0 || rb.Checks["sync"] != "" {
		t.Fatalf("readyz after the backlog drained: %+v", rb)
	}
	r = h.must(http.StatusOK, "POST", ws+"/service-accounts/bot/deactivate", "")
	if got := r.Header.Get(admin.SyncHeader); got != "applied" {
		t.Fatalf("deactivate after redis returned: %s %q", admin.SyncHeader, got)
	}
	ctx, st = admin.TrackSync(context.Background())
	if _, err := c.ReactivateServiceAccount(ctx, "ml-team", "bot"); err != nil {
		t.Fatal(err)
	}
	if st.State != "applied" || st.Pending() || st.Notice() != "" {
		t.Fatalf("client sync status with redis up: %+v", *st)
	}
}

func TestParseSyncHeader(t *testing.T) {
	cases := map[string]admin.SyncStatus{
		"":                                    {},
		"applied":                             {State: "applied"},
		`pending; reason="redis unreachable"`: {State: "pending", Reason: "redis unreachable"},
		`pending;reason="redis sync failed"`:  {State: "pending", Reason: "redis sync failed"},
		"pending":                             {State: "pending"},
		"something-new":                       {State: "pending", Reason: "redis sync failed"},
	}
	for in, want := range cases {
		if got := admin.ParseSyncHeader(in); got != want {
			t.Errorf("ParseSyncHeader(%q) = %+v, want %+v", in, got, want)
		}
	}
	b, _ := json.Marshal(admin.ParseSyncHeader(`pending; reason="redis unreachable"`))
	if string(b) != `{"state":"pending","reason":"redis unreachable"}` {
		t.Errorf("SyncStatus JSON: %s", b)
	}
}
