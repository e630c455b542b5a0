package redissync

import (
	"context"
	"testing"
	"time"

	"github.com/sagate/sagate/keystore"
)

// TestReapplyNeverRaisesOverALoss: admin A writes and confirms a revocation; Redis comes
// back from a snapshot taken before it; admin B, which never read Redis (its own floor
// is 0), re-applies another change from the outbox. The raise of the revision marker
// must be refused, because the store says the revocation was confirmed: the marker
// stays below it, so every admin and sidecar still sees the loss, and B owes a full
// sync. (Without the store's floor B raised the marker over the lost revocation.)
func TestReapplyNeverRaisesOverALoss(t *testing.T) {
	e := newEnv(t, Config{})
	ctx := context.Background()
	e.fill(3)
	if _, err := e.s.Reconcile(ctx); err != nil {
		t.Fatal(err)
	}
	e.srv.Save()
	h0, h1 := testHash(0), testHash(1)
	rev := e.src.removePending(h0)
	if err := e.s.Apply(ctx, keystore.Change{Rev: rev, Action: "test.revoke", Hashes: []keystore.KeyHash{h0}}); err != nil {
		t.Fatal(err)
	}
	if err := e.src.ConfirmChanges(ctx, []int64{rev}); err != nil { // as A's confirmer does
		t.Fatal(err)
	}

	b := newSyncer(t, e.rdb, e.src, Config{})
	clock := time.Now()
	saved := now
	now = func() time.Time { return clock }
	t.Cleanup(func() { now = saved })
	for range 2 { // two checks revGrace apart
		if err := b.sampleDurable(ctx); err != nil {
			t.Fatal(err)
		}
		clock = clock.Add(revGrace)
	}
	if got := b.durable.get(); got < rev {
		t.Fatalf("durable floor %d, want at least the confirmed revision %d", got, rev)
	}

	e.srv.KillAndRestartKeepingData()
	rev2 := e.src.removePending(h1)
	if err := b.apply(ctx, keystore.Change{Rev: rev2, Action: "sync.pending", Hashes: []keystore.KeyHash{h1}}); err != nil {
		t.Fatal(err)
	}
	if got := e.redisRev(t); got >= rev {
		t.Errorf("the revision marker is %d after the re-apply: raised over the lost revision %d", got, rev)
	}
	if !b.needFull.Load() {
		t.Error("the re-applying admin owes no full sync after finding the loss")
	}
}
