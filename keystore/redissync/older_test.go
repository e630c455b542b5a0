package redissync

import (
	"context"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/sagate/sagate/internal/testing/redistest"
	"github.com/sagate/sagate/keystore"
	"github.com/sagate/sagate/keystore/sqlstore"
	"github.com/sagate/sagate/keystore/wire"
)

// repaired reports whether Redis holds the store's state: key `revoked`'s record a
// tombstone, key `issued`'s record present, and the revision marker at the store's revision.
func (e *env) repaired(t *testing.T, revoked, issued int) bool {
	t.Helper()
	_, rev := e.src.snapshot()
	gone, ok := e.record(t, testHash(revoked))
	if !ok || gone.State != keystore.KeyRevoked {
		return false
	}
	if _, ok := e.record(t, testHash(issued)); !ok {
		return false
	}
	return e.redisRev(t) == rev
}

// TestRedisBackFromSnapshot: Redis is killed and comes back from a snapshot taken before
// a revocation and an issuance (it holds the revoked key's live record, lacks the new
// key, and its epoch is the current one, so sidecars would notice nothing). The admin
// sees the revision marker behind the store and repairs Redis with a new epoch.
// It runs with a fast check and with the default one (1s), to measure the delay.
func TestRedisBackFromSnapshot(t *testing.T) {
	for _, every := range []time.Duration{100 * time.Millisecond, DefaultEpochCheckInterval} {
		t.Run("check every "+every.String(), func(t *testing.T) { testRedisBackFromSnapshot(t, every) })
	}
}

// snapshotEnv returns a running Syncer with two keys synced, a snapshot of Redis taken
// (Save), and the epoch.
func snapshotEnv(t *testing.T, cfg Config) (*env, string) {
	t.Helper()
	e := newEnv(t, cfg)
	e.fill(2)
	startRun(t, e.s)
	waitFor(t, "the initial sync", func() bool { return e.s.Ready(context.Background()) == nil })
	e.srv.Save()
	return e, e.epoch(t)
}

func testRedisBackFromSnapshot(t *testing.T, every time.Duration) {
	e, epoch := snapshotEnv(t, Config{EpochCheckInterval: every})
	ctx := context.Background()

	apply := func(rev int64, h keystore.KeyHash) {
		t.Helper()
		if err := e.s.Apply(ctx, keystore.Change{Rev: rev, Action: "test", Hashes: []keystore.KeyHash{h}}); err != nil {
			t.Fatal(err)
		}
	}
	apply(e.src.remove(testHash(0)), testHash(0))
	apply(e.src.put(testHash(2), testRecord(2)), testHash(2))
	if !e.repaired(t, 0, 2) {
		t.Fatal("the changes did not reach redis")
	}

	e.srv.KillAndRestartKeepingData()
	back := time.Now()
	// Redis came back older, unless the admin already repaired it (a new epoch): it
	// knows the revision it saw there, so it needs no grace.
	if r, ok := e.record(t, testHash(0)); e.epoch(t) == epoch && (!ok || r.State != keystore.KeyActive) {
		t.Fatalf("redis did not come back from its snapshot: record %+v", r)
	}
	waitFor(t, "the repair of redis", func() bool { return e.repaired(t, 0, 2) })
	took := time.Since(back)
	t.Logf("redis repaired %v after it came back from its snapshot", took.Round(time.Millisecond))
	// The admin saw the newer marker: no grace is needed to tell the loss.
	if every < revGrace/4 && took >= revGrace {
		t.Errorf("repaired %v after Redis came back, checking every %v: the admin waited out the grace (%v) for a loss it knew of", took, every, revGrace)
	}
	if e.epoch(t) == epoch {
		t.Error("the repair kept the epoch: sidecars would keep what they cached from the older redis")
	}
	if msg := e.mismatch(t); msg != "" {
		t.Error(msg)
	}
}

// TestChangeAfterRedisWentBack: Redis comes back from an older snapshot and the next
// change arrives before the admin's check. The change must not raise the revision
// marker over what Redis lost (the admin knows the revision it saw there), so the
// repair still follows within seconds.
func TestChangeAfterRedisWentBack(t *testing.T) {
	e, epoch := snapshotEnv(t, Config{})
	ctx := context.Background()
	rev := e.src.remove(testHash(0))
	if err := e.s.Apply(ctx, keystore.Change{Rev: rev, Action: "test", Hashes: []keystore.KeyHash{testHash(0)}}); err != nil {
		t.Fatal(err)
	}
	e.srv.KillAndRestartKeepingData()
	back := time.Now()
	rev = e.src.put(testHash(5), testRecord(5))
	if err := e.s.Apply(ctx, keystore.Change{Rev: rev, Action: "test", Hashes: []keystore.KeyHash{testHash(5)}}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the repair of redis", func() bool { return e.repaired(t, 0, 5) })
	t.Logf("redis repaired %v after it came back from its snapshot, a change in between", time.Since(back).Round(time.Millisecond))
	if e.epoch(t) == epoch {
		t.Error("the repair kept the epoch: sidecars would keep what they cached from the older redis")
	}
}

// TestChangeNeverWrittenToRedis: two admins share a store; one commits a revocation and
// never writes it to Redis (its Redis is unreachable, then it dies). The other admin
// sees the store ahead of Redis' revision marker and repairs Redis.
func TestChangeNeverWrittenToRedis(t *testing.T) {
	e := newEnv(t, Config{EpochCheckInterval: 100 * time.Millisecond})
	ctx := context.Background()
	e.fill(3)
	startRun(t, e.s)
	waitFor(t, "the initial sync", func() bool { return e.s.Ready(ctx) == nil })

	// Admin A: same store, a Redis that does not answer.
	dead := redis.NewClient(&redis.Options{Addr: "127.0.0.1:" + itoa(redistest.FreePort(t)), MaxRetries: -1, DialTimeout: 100 * time.Millisecond})
	t.Cleanup(func() { _ = dead.Close() })
	a := newSyncer(t, dead, e.src, Config{ApplyTimeout: 300 * time.Millisecond})
	rev := e.src.remove(testHash(1))
	if err := a.Apply(ctx, keystore.Change{Rev: rev, Action: "key.revoke", Hashes: []keystore.KeyHash{testHash(1)}}); err == nil {
		t.Fatal("Apply to an unreachable redis succeeded")
	}
	rev = e.src.put(testHash(5), testRecord(5)) // and an issuance that is committed only
	committed := time.Now()
	waitFor(t, "the other admin to repair redis", func() bool { return e.repaired(t, 1, 5) && e.redisRev(t) == rev })
	t.Logf("redis repaired %v after the unwritten commit", time.Since(committed).Round(time.Millisecond))
	if msg := e.mismatch(t); msg != "" {
		t.Error(msg)
	}
}

func itoa(n int) string { return strconv.Itoa(n) }

// TestCommitsWithoutKeysKeepTheEpoch: commits that change no key record (a workspace,
// an account's description) raise the store's revision too; the Service tells the
// Syncer, which raises the revision marker, so the check does not take them for changes
// Redis lacks (a full sync with a new epoch would flush every sidecar's cache).
func TestCommitsWithoutKeysKeepTheEpoch(t *testing.T) {
	e := newEnv(t, Config{EpochCheckInterval: 50 * time.Millisecond})
	ctx := context.Background()
	store, err := sqlstore.OpenSQLite(ctx, filepath.Join(t.TempDir(), "sagate.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = store.Close() })
	e.s = newSyncer(t, e.rdb, store, Config{EpochCheckInterval: 50 * time.Millisecond})
	svc, err := keystore.NewService(store, keystore.ServiceOptions{Syncer: e.s})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.s.reconcile(ctx, true); err != nil { // the initial sync; no Run: the test drives the checks
		t.Fatal(err)
	}
	epoch := e.epoch(t)
	for _, name := range []string{"a", "b", "c"} {
		if _, err := svc.CreateWorkspace(keystore.WithPrincipal(ctx, keystore.Operator("test")), name, 0); err != nil {
			t.Fatal(err)
		}
	}
	rev, err := store.Revision(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if got := e.redisRev(t); got != rev {
		t.Errorf("revision marker %d after commits without keys, want the store's %d", got, rev)
	}
	// Two checks revGrace apart by the loop's clock: a marker left behind the store
	// would be taken for a loss on the second.
	clock := time.Now()
	saved := now
	now = func() time.Time { return clock }
	t.Cleanup(func() { now = saved })
	r := runState{s: e.s, retry: time.NewTimer(time.Hour), redisUp: true}
	defer r.retry.Stop()
	for range 2 {
		r.checkEpoch(ctx)
		clock = clock.Add(revGrace)
	}
	if r.pendingFull {
		t.Error("commits without keys were taken for changes redis lacks: a full sync is owed")
	}
	if got := e.epoch(t); got != epoch {
		t.Error("commits without keys were taken for changes redis lacks: the epoch changed")
	}
}

// TestOneFullSyncPerLoss: changes that keep coming while the admin repairs a Redis that
// came back older do not bring a second full sync (a second flush of every sidecar's
// cache): the sync covers them, and they raise the markers again without the floor.
func TestOneFullSyncPerLoss(t *testing.T) {
	e := newEnv(t, Config{EpochCheckInterval: 50 * time.Millisecond})
	ctx := context.Background()
	e.fill(5000) // a sync long enough for changes to land during it
	startRun(t, e.s)
	waitFor(t, "the initial sync", func() bool { return e.s.Ready(ctx) == nil })
	e.srv.Save()
	before := e.epoch(t)
	apply := func(rev int64, h keystore.KeyHash) {
		t.Helper()
		if err := e.s.Apply(ctx, keystore.Change{Rev: rev, Action: "test", Hashes: []keystore.KeyHash{h}}); err != nil {
			t.Fatal(err)
		}
	}
	apply(e.src.remove(testHash(0)), testHash(0))
	e.srv.KillAndRestartKeepingData()
	for i, end := 0, time.Now().Add(time.Second); time.Now().Before(end); i++ {
		apply(e.src.put(testHash(30000+i), testRecord(30000+i)), testHash(30000+i))
		time.Sleep(5 * time.Millisecond)
	}
	waitFor(t, "the repair of redis", func() bool { return e.mismatch(t) == "" })
	epochs := map[string]bool{}
	for _, ev := range e.events(t) {
		if ev.Kind == wire.EventResync && ev.Epoch != before {
			epochs[ev.Epoch] = true
		}
	}
	if len(epochs) != 1 {
		t.Errorf("%d full syncs after Redis came back older, want 1", len(epochs))
	}
	if rev := e.redisRev(t); rev != e.revOf(t) {
		t.Errorf("the revision marker is at %d after the repair, the store at %d", rev, e.revOf(t))
	}
}

// revOf returns the store's revision.
func (e *env) revOf(t *testing.T) int64 {
	t.Helper()
	_, rev := e.src.snapshot()
	return rev
}
