package redissync

import (
	"context"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/sagate/sagate/keystore"
)

// The backlog counts the changes Redis did not take once they are older than the grace
// (the store's outbox rows that old), and drains when they reach Redis once it is back.
func TestBacklogRisesAndDrains(t *testing.T) {
	reg := prometheus.NewRegistry()
	cfg := fastRun
	cfg.Registerer = reg
	e := newEnv(t, cfg)
	ctx := context.Background()
	e.fill(5)
	startRun(t, e.s)
	waitFor(t, "the initial sync", func() bool { return e.s.Ready(ctx) == nil })
	if n := e.s.Backlog(); n != 0 {
		t.Fatalf("backlog %d after the initial sync", n)
	}

	e.srv.Kill()
	for _, i := range []int{1, 2} {
		rev := e.src.removePending(testHash(i))
		if err := e.s.Apply(ctx, keystore.Change{Rev: rev, Action: "key.revoke", Hashes: []keystore.KeyHash{testHash(i)}}); err == nil {
			t.Fatal("Apply succeeded with Redis killed")
		}
	}
	waitFor(t, "the backlog to count the two changes", func() bool { return e.s.Backlog() == 2 })
	if g := testutil.ToFloat64(e.s.backlog.gauge); g != 2 {
		t.Fatalf("sagate_sync_backlog = %v, want 2", g)
	}
	if n, err := testutil.GatherAndCount(reg, "sagate_sync_backlog"); err != nil || n != 1 {
		t.Fatalf("sagate_sync_backlog registered %d times: %v", n, err)
	}

	e.srv.Restart()
	waitFor(t, "the backlog to drain", func() bool { return e.s.Backlog() == 0 })
	if g := testutil.ToFloat64(e.s.backlog.gauge); g != 0 {
		t.Fatalf("sagate_sync_backlog = %v after the resync, want 0", g)
	}
	if revs := e.src.pendingRevs(); len(revs) != 0 {
		t.Errorf("outbox after the resync: %v, want empty", revs)
	}
	if msg := e.mismatch(t); msg != "" {
		t.Error(msg)
	}
}
