package e2e

import (
	"bytes"
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/sagate/sagate/internal/testing/systest"
	"github.com/sagate/sagate/keystore"
	"github.com/sagate/sagate/keystore/wire"
)

// replayRepairBound is the documented bound within which a sidecar that never saw a
// revocation refuses a record a Redis writer put back (the admin's keyspace watch
// rewrites it and announces it).
const replayRepairBound = 10 * time.Second

// TestReplayedRecordAfterRevocation: a writer to Redis puts back the record the admin
// signed before a revocation (DUMP, revoke, RESTORE ... REPLACE) and appends an event it
// cannot sign. A sidecar that saw the revocation keeps refusing the key; a sidecar
// started after the replay refuses it within the documented bound and from then on;
// the admin counts the foreign write and Redis holds the store's state again.
func TestReplayedRecordAfterRevocation(t *testing.T) {
	start := time.Now()
	e := newEnv(t) // default config: the admin turns keyspace notifications on itself
	rdb := e.redis.Client()
	ctx := context.Background()
	// Precondition: the admin's watch is subscribed (it is the only pattern subscriber).
	systest.Eventually(t, 30*time.Second, "the admin subscribed to keyspace notifications", func() bool {
		n, err := rdb.PubSubNumPat(ctx).Result()
		return err == nil && n >= 1
	})

	e.admin.must(http.StatusCreated, "POST", "/v1/workspaces", map[string]any{"name": "replay"})
	k := e.admin.newAccount("replay", "bot", "viewer")
	a := startSidecar(t, e.redis.URL(), e.up.srv.URL, "")
	if code := a.status(t, k.Key); code != http.StatusOK {
		t.Fatalf("sidecar A, live key = %d, want 200", code)
	}

	name := wire.RedisKey(keystore.HashKey(k.Key))
	dump, err := rdb.Dump(ctx, name).Result()
	if err != nil {
		t.Fatalf("DUMP of the live record: %v", err)
	}
	replayed, err := rdb.Get(ctx, name).Bytes()
	if err != nil {
		t.Fatalf("GET of the live record: %v", err)
	}

	e.admin.must(http.StatusNoContent, "DELETE", "/v1/workspaces/replay/service-accounts/bot/keys/"+k.ID, nil)
	systest.Eventually(t, 10*time.Second, "sidecar A refuses the revoked key", func() bool {
		return a.status(t, k.Key) == http.StatusUnauthorized
	})

	// The replay, as a writer to Redis without the signing key.
	if err := rdb.RestoreReplace(ctx, name, 0, dump).Err(); err != nil {
		t.Fatalf("RESTORE ... REPLACE: %v", err)
	}
	if err := rdb.XAdd(ctx, &redis.XAddArgs{Stream: wire.RedisEvents, Values: []string{"kind", "junk", "sig", "x"}}).Err(); err != nil {
		t.Fatalf("XADD: %v", err)
	}
	replayedAt := time.Now()
	t.Logf("replayed %v after the start (binaries built, admin and sidecar A up)", replayedAt.Sub(start).Round(time.Millisecond))

	// (1) A saw the revocation: every answer is 401.
	n := onlyRefused(t, "sidecar A after the replay", a, k.Key, 3*time.Second)
	t.Logf("sidecar A: %d answers after the replay, all 401", n)

	// (2) B never saw the revocation: within the bound it refuses, and then never lets in.
	b := startSidecar(t, e.redis.URL(), e.up.srv.URL, "")
	ready := time.Now()
	before := map[int]int{} // B's answers before its first 401
	systest.Eventually(t, replayRepairBound, "fresh sidecar B refuses the replayed key", func() bool {
		code := b.status(t, k.Key)
		before[code]++
		return code == http.StatusUnauthorized
	})
	t.Logf("sidecar B refused %v after it was ready (%v after the replay); answers until then: %v",
		time.Since(ready).Round(time.Millisecond), time.Since(replayedAt).Round(time.Millisecond), before)
	// From its first refusal to a couple of seconds past the bound: never a 200.
	after := b.statusesFor(t, k.Key, time.Until(ready.Add(replayRepairBound+2*time.Second)))
	if after[http.StatusOK] > 0 {
		t.Errorf("sidecar B answered 200 %d times after it had refused the revoked key (all: %v)", after[http.StatusOK], after)
	}
	t.Logf("sidecar B after its first refusal: %v", after)

	// (3) The admin counted the write it undid, and Redis no longer holds the replay.
	fams := scrapeFamilies(t, e.admin.url+"/metrics")
	f, ok := fams["sagate_sync_foreign_writes_total"]
	if !ok || len(f.GetMetric()) == 0 {
		t.Fatal("the admin's /metrics has no sagate_sync_foreign_writes_total")
	}
	if v := f.GetMetric()[0].GetCounter().GetValue(); v < 1 {
		t.Errorf("sagate_sync_foreign_writes_total = %v, want >= 1", v)
	}
	now, err := rdb.Get(ctx, name).Bytes()
	if err != nil {
		t.Fatalf("GET of the repaired record: %v", err)
	}
	if bytes.Equal(now, replayed) {
		t.Error("Redis still holds the replayed record")
	}
	if rec, ok := recordOf(t, rdb, k.Key); !ok || rec.State != keystore.KeyRevoked {
		t.Errorf("record after the repair = %+v (present %v), want a tombstone", rec, ok)
	}
}

// onlyRefused asks s with key for d and fails the test on any answer but 401; it
// returns how many answers it got.
func onlyRefused(t *testing.T, what string, s *sidecar, key string, d time.Duration) int {
	t.Helper()
	counts := s.statusesFor(t, key, d)
	onlyStatuses(t, what, counts, http.StatusUnauthorized)
	total := 0
	for _, n := range counts {
		total += n
	}
	return total
}

// statusesFor asks s with key, one request after another, for d (at least once) and
// counts the statuses.
func (s *sidecar) statusesFor(t *testing.T, key string, d time.Duration) map[int]int {
	t.Helper()
	counts := map[int]int{}
	end := time.Now().Add(d)
	for {
		counts[s.status(t, key)]++
		if !time.Now().Before(end) {
			return counts
		}
		time.Sleep(5 * time.Millisecond) // polling: spare the shared CPU
	}
}
