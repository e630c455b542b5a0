package redissync

import (
	"context"
	"fmt"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/sagate/sagate/keystore"
	"github.com/sagate/sagate/keystore/wire"
)

// startRun runs s.Run until the test ends, and checks that it returns.
func startRun(t *testing.T, s *Syncer) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Go(func() { s.Run(ctx) })
	t.Cleanup(func() {
		cancel()
		wg.Wait()
	})
}

// waitChecks waits until s's Run has completed n more marker checks.
func waitChecks(t *testing.T, s *Syncer, n uint64) {
	t.Helper()
	target := s.markerChecks.Load() + n
	waitFor(t, fmt.Sprintf("%d more marker checks", n), func() bool { return s.markerChecks.Load() >= target })
}

var fastRun = Config{EpochCheckInterval: 20 * time.Millisecond, UsageFoldInterval: 20 * time.Millisecond}

func TestRunResyncsAfterFlushAll(t *testing.T) {
	e := newEnv(t, fastRun)
	ctx := context.Background()
	e.fill(50)
	startRun(t, e.s)
	waitFor(t, "the initial sync", func() bool { return e.s.Ready(ctx) == nil })
	first := e.epoch(t)

	if err := e.rdb.FlushAll(ctx).Err(); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the resync after FLUSHALL", func() bool { return e.s.Ready(ctx) == nil })
	if ep := e.epoch(t); ep == first {
		t.Errorf("epoch %q unchanged after a full sync", ep)
	}
	if msg := e.mismatch(t); msg != "" {
		t.Error(msg)
	}
	evs := e.events(t)
	if last := evs[len(evs)-1]; last.Kind != wire.EventResync || last.Epoch != e.epoch(t) {
		t.Errorf("last event %+v, want a resync with the new epoch", last)
	}
}

func TestRunRecoversFromRedisKilledDuringApply(t *testing.T) {
	reg := prometheus.NewRegistry()
	cfg := fastRun
	cfg.Registerer = reg
	e := newEnv(t, cfg)
	ctx := context.Background()
	e.fill(30)
	startRun(t, e.s)
	waitFor(t, "the initial sync", func() bool { return e.s.Ready(ctx) == nil })

	e.srv.Kill()
	rev := e.src.remove(testHash(7)) // committed while Redis is down
	if err := e.s.Apply(ctx, keystore.Change{Rev: rev, Action: "key.revoke", Hashes: []keystore.KeyHash{testHash(7)}}); err == nil {
		t.Fatal("Apply succeeded with Redis killed")
	}
	if n := testutil.ToFloat64(e.s.m.redisErrors); n < 1 {
		t.Errorf("sagate_sync_redis_errors_total = %v, want ≥ 1", n)
	}
	e.src.put(testHash(100), testRecord(100)) // and one more, never applied

	e.srv.Restart()
	waitFor(t, "the resync after restart", func() bool { return e.s.Ready(ctx) == nil })
	if msg := e.mismatch(t); msg != "" {
		t.Error(msg)
	}
	if r, ok := e.record(t, testHash(7)); ok && r.State != keystore.KeyRevoked {
		t.Errorf("revoked key is %s after the resync", r.State)
	}
}

func TestRunFoldsUsage(t *testing.T) {
	e := newEnv(t, fastRun)
	ctx := context.Background()
	at := time.UnixMilli(1_700_000_000_000)
	startRun(t, e.s)
	if err := e.rdb.HSet(ctx, wire.RedisLastUsed, "key_1", strconv.FormatInt(at.UnixMilli(), 10)).Err(); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the fold", func() bool { return e.src.usesCopy()["key_1"].Equal(at) })
	waitFor(t, "the hash to be emptied", func() bool { return e.rdb.Exists(ctx, wire.RedisLastUsed).Val() == 0 })
}

func TestRunRepairsAfterFailedApplyWithRedisUp(t *testing.T) {
	e := newEnv(t, fastRun)
	ctx := context.Background()
	e.fill(10)
	startRun(t, e.s)
	waitFor(t, "the initial sync", func() bool { return e.s.Ready(ctx) == nil })
	first := e.epoch(t)

	// The store fails during Apply: the committed change did not reach Redis.
	e.src.mu.Lock()
	e.src.authErr = errStoreDown
	e.src.mu.Unlock()
	rev := e.src.remove(testHash(2))
	if err := e.s.Apply(ctx, keystore.Change{Rev: rev, Action: "key.revoke", Hashes: []keystore.KeyHash{testHash(2)}}); err == nil {
		t.Fatal("Apply succeeded while the store fails")
	}
	e.src.mu.Lock()
	e.src.authErr = nil
	e.src.mu.Unlock()
	waitFor(t, "a full sync with a new epoch", func() bool { ep, _ := e.s.readEpoch(ctx); return ep != first && ep != "" })
	if msg := e.mismatch(t); msg != "" {
		t.Error(msg)
	}
}
