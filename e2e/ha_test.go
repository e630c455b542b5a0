package e2e

import (
	"net/http"
	"testing"

	"github.com/sagate/sagate/internal/testing/pgtest"
	"github.com/sagate/sagate/internal/testing/redistest"
	"github.com/sagate/sagate/internal/testing/systest"
	"github.com/sagate/sagate/keystore"
)

// TestTwoAdminsOnPostgres runs the high-availability shape of the README: two `sagate
// serve` processes on one PostgreSQL database and one Redis. A change made through either
// admin reaches the sidecar; the workspace limit holds across both; one admin going down
// leaves the other serving.
func TestTwoAdminsOnPostgres(t *testing.T) {
	db := pgtest.Start(t)
	r := redistest.Start(t)
	a := startAdminOn(t, r.URL(), db)
	b := startAdminOn(t, r.URL(), db)
	up := startUpstream(t)
	s := startSidecar(t, r.URL(), up.srv.URL, "")

	a.must(http.StatusCreated, "POST", "/v1/workspaces", map[string]any{"name": "ha", "max_service_accounts": 2})
	k := a.newAccount("ha", "one", "")
	if got := s.status(t, k.Key); got != http.StatusOK {
		t.Fatalf("key created through admin a = %d", got)
	}
	// Admin b sees what a wrote, and its revocation reaches the sidecar.
	b.must(http.StatusNoContent, "DELETE", "/v1/workspaces/ha/service-accounts/one/keys/"+k.ID, nil)
	systest.Eventually(t, propagation, "revocation through admin b refused", func() bool {
		return s.status(t, k.Key) == http.StatusUnauthorized
	})
	// The limit of 2 holds across both admins.
	b.newAccount("ha", "two", "")
	if code, out := a.call("POST", "/v1/workspaces/ha/service-accounts", map[string]any{"name": "three"}); code != http.StatusConflict {
		t.Fatalf("third account through admin a = %d %v, want 409 (limit 2 across both admins)", code, out)
	}
	// One admin down: the other keeps working, and the sidecar with it.
	a.proc.Stop()
	out := b.must(http.StatusCreated, "POST", "/v1/workspaces/ha/service-accounts/two/keys", map[string]any{"name": "live"})
	live := keyOf(t, out)
	systest.Eventually(t, propagation, "key created through admin b works", func() bool {
		return s.status(t, live.Key) == http.StatusOK
	})
}

// TestAdminDiesBeforeWritingRedis: two admins on one PostgreSQL database; admin a loses
// Redis, commits a revocation it cannot write there, and dies. Admin b sees the store's
// revision ahead of Redis' revision marker (keystore/redissync/doc.go, "Redis came back
// older") and repairs Redis: the sidecar refuses the revoked key.
func TestAdminDiesBeforeWritingRedis(t *testing.T) {
	db := pgtest.Start(t)
	r := redistest.Start(t)
	p := systest.StartProxy(t, r.Addr())
	a := startAdminOn(t, "redis://"+p.Addr()+"/0", db)
	startAdminOn(t, r.URL(), db) // admin b
	up := startUpstream(t)
	s := startSidecar(t, r.URL(), up.srv.URL, "")

	a.must(http.StatusCreated, "POST", "/v1/workspaces", map[string]any{"name": "ha"})
	k := a.newAccount("ha", "one", "")
	if got := s.status(t, k.Key); got != http.StatusOK {
		t.Fatalf("key before the cut = %d", got)
	}
	p.Cut()
	a.must(http.StatusNoContent, "DELETE", "/v1/workspaces/ha/service-accounts/one/keys/"+k.ID, nil)
	a.proc.Kill()
	if rec, ok := recordOf(t, r.Client(), k.Key); !ok || rec.State != keystore.KeyActive {
		t.Fatalf("the cut did not stop admin a's Redis write (record present=%v state=%q): the test proves nothing", ok, rec.State)
	}
	systest.Eventually(t, resyncBound+propagation, "admin b repairs the revocation admin a never wrote", func() bool {
		return s.status(t, k.Key) == http.StatusUnauthorized
	})
}
