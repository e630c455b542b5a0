package redissync

import (
	"context"
	"math/rand/v2"
	"sync"
	"testing"

	"github.com/sagate/sagate/keystore"
)

// TestApplyAndReconcileRace runs writers (store commit, then Apply) against a loop of
// reconciles, with a FLUSHALL in the middle, and checks that Redis ends equal to the store
// without any further repair.
func TestApplyAndReconcileRace(t *testing.T) {
	e := newEnv(t, Config{})
	ctx := context.Background()
	const keys = 300
	e.fill(keys / 2)
	if _, err := e.s.Reconcile(ctx); err != nil {
		t.Fatal(err)
	}
	roles := []keystore.Role{keystore.RoleViewer, keystore.RoleContributor, keystore.RoleOwner}

	var writers sync.WaitGroup
	done := make(chan struct{})
	for w := range 4 {
		writers.Go(func() {
			rnd := rand.New(rand.NewPCG(uint64(w), 42))
			for range 150 {
				i := rnd.IntN(keys)
				var rev int64
				if rnd.IntN(3) == 0 {
					rev = e.src.remove(testHash(i))
				} else {
					r := testRecord(i)
					r.Roles = map[string]keystore.Role{"p": roles[rnd.IntN(len(roles))]}
					rev = e.src.put(testHash(i), r)
				}
				if err := e.s.Apply(ctx, keystore.Change{Rev: rev, Action: "test", Hashes: []keystore.KeyHash{testHash(i)}}); err != nil {
					t.Errorf("Apply: %v", err)
					return
				}
			}
		})
	}
	var reconciler sync.WaitGroup
	reconciler.Go(func() {
		for n := 0; ; n++ {
			select {
			case <-done:
				return
			default:
			}
			if n == 3 {
				if err := e.rdb.FlushAll(ctx).Err(); err != nil {
					t.Errorf("FLUSHALL: %v", err)
					return
				}
			}
			if _, err := e.s.Reconcile(ctx); err != nil {
				t.Errorf("Reconcile: %v", err)
				return
			}
		}
	})
	writers.Wait()
	close(done)
	reconciler.Wait()
	if t.Failed() {
		return
	}
	if msg := e.mismatch(t); msg != "" {
		t.Fatalf("after the race: %s", msg)
	}
	if err := e.s.Ready(ctx); err != nil {
		t.Errorf("Ready: %v", err)
	}
	st, err := e.s.Reconcile(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if st.Written != 0 || st.Removed != 0 || st.NewEpoch {
		t.Errorf("a reconcile after the race repaired something: %+v", st)
	}
}
