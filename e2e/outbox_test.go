package e2e

import (
	"net/http"
	"testing"
	"time"

	"github.com/sagate/sagate/internal/testing/pgtest"
	"github.com/sagate/sagate/internal/testing/redistest"
	"github.com/sagate/sagate/internal/testing/systest"
)

// outboxBound is the documented bound within which another admin writes a change whose
// admin died between its commit and Redis: the 2 s grace, one 1 s check, and slack for a
// loaded machine.
const outboxBound = 5 * time.Second

// TestAdminDiesThenOtherAdminCommits: as TestAdminDiesBeforeWritingRedis, admin a commits
// a revocation it cannot write to Redis and dies; then admin b commits a later change,
// which reaches Redis and raises the revision marker past a's revision, so the marker no
// longer shows the gap. Admin b finds a's change in the store's outbox and writes it: the
// sidecar refuses the revoked key within a few seconds, and b's own key works.
func TestAdminDiesThenOtherAdminCommits(t *testing.T) {
	db := pgtest.Start(t)
	r := redistest.Start(t)
	p := systest.StartProxy(t, r.Addr())
	a := startAdminOn(t, "redis://"+p.Addr()+"/0", db)
	b := startAdminOn(t, r.URL(), db)
	up := startUpstream(t)
	s := startSidecar(t, r.URL(), up.srv.URL, "")

	a.must(http.StatusCreated, "POST", "/v1/workspaces", map[string]any{"name": "ha"})
	k := a.newAccount("ha", "one", "viewer")
	if got := s.status(t, k.Key); got != http.StatusOK {
		t.Fatalf("key before the cut = %d", got)
	}
	p.Cut()
	revokeUnwritten(t, a, "/v1/workspaces/ha/service-accounts/one/keys/"+k.ID)
	committed := time.Now()
	a.proc.Kill()
	later := keyOf(t, b.must(http.StatusCreated, "POST", "/v1/workspaces/ha/service-accounts/one/keys", map[string]any{"name": "later"}))
	systest.Eventually(t, outboxBound+propagation, "admin b writes the revocation admin a never wrote", func() bool {
		return s.status(t, k.Key) == http.StatusUnauthorized
	})
	t.Logf("the revoked key refused at the sidecar %v after admin a committed it", time.Since(committed).Round(time.Millisecond))
	if got := s.status(t, later.Key); got != http.StatusOK {
		t.Errorf("admin b's later key = %d, want 200", got)
	}
}
