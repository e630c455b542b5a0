package redissync

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/redis/go-redis/v9"

	"github.com/sagate/sagate/keystore"
	"github.com/sagate/sagate/keystore/redisops"
	"github.com/sagate/sagate/keystore/wire"
)

// TestWatchUndoesWritesByOthers: with the periodic repair an hour away, a record someone
// else writes (an older record the admin signed put back with RESTORE ... REPLACE over
// a tombstone, the same content at an older revision, a record deleted) is put back to
// the store's state by the keyspace watch, and announced; the admin's own writes are not
// taken for someone else's.
func TestWatchUndoesWritesByOthers(t *testing.T) {
	ctx := context.Background()
	cfg := fastRun
	cfg.ReconcileInterval = time.Hour
	cfg.Registerer = prometheus.NewRegistry()
	e := newEnv(t, cfg)
	e.fill(3)
	startRun(t, e.s)
	waitFor(t, "the initial sync", func() bool { return e.s.Ready(ctx) == nil })
	waitFor(t, "the watch", e.s.WatchActive)
	if got, err := e.rdb.ConfigGet(ctx, "notify-keyspace-events").Result(); err != nil || missingFlags(got["notify-keyspace-events"]) != "" {
		t.Fatalf("notify-keyspace-events = %v (%v), want the watch's flags set", got, err)
	}
	apply := func(rev int64, hs ...keystore.KeyHash) {
		t.Helper()
		if err := e.s.Apply(ctx, keystore.Change{Rev: rev, Action: "test", Hashes: hs}); err != nil {
			t.Fatal(err)
		}
	}
	dump := func(h keystore.KeyHash) string {
		t.Helper()
		b, err := e.rdb.Dump(ctx, wire.RedisKey(h)).Result()
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	restore := func(h keystore.KeyHash, b string) {
		t.Helper()
		if err := e.rdb.RestoreReplace(ctx, wire.RedisKey(h), 0, b).Err(); err != nil {
			t.Fatal(err)
		}
	}
	announced := func(h keystore.KeyHash, after int) bool {
		evs := e.events(t)
		for _, ev := range evs[min(after, len(evs)):] {
			if ev.Kind == wire.EventKeys && slices.Contains(ev.Hashes, h) {
				return true
			}
		}
		return false
	}

	// A revoked key's active record put back.
	revoked := testHash(0)
	active := dump(revoked)
	apply(e.src.remove(revoked), revoked)
	if r, _ := e.record(t, revoked); r.State != keystore.KeyRevoked {
		t.Fatalf("after the revocation: %+v", r)
	}
	before := len(e.events(t))
	restore(revoked, active)
	waitFor(t, "the tombstone back", func() bool {
		r, ok := e.record(t, revoked)
		return ok && r.State == keystore.KeyRevoked && announced(revoked, before)
	})

	// The same content at an older revision: rewritten above the newer one.
	same := testHash(1)
	older := dump(same)
	newRev := e.src.put(same, testRecord(1))
	apply(newRev, same)
	before = len(e.events(t))
	restore(same, older)
	waitFor(t, "the record above the newer revision", func() bool {
		r, ok := e.record(t, same)
		return ok && r.Rev >= newRev && announced(same, before)
	})

	// A record deleted.
	deleted := testHash(2)
	if err := e.rdb.Del(ctx, wire.RedisKey(deleted)).Err(); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the deleted record back", func() bool {
		r, ok := e.record(t, deleted)
		return ok && r.State == keystore.KeyActive
	})

	// Three writes by someone else, each counted once (after its repair); the admin's
	// own writes (its Applies and the repairs above) not at all.
	waitFor(t, "three foreign writes counted", func() bool { return testutil.ToFloat64(e.s.watchSt.foreign) >= 3 })
	if got := testutil.ToFloat64(e.s.watchSt.foreign); got != 3 {
		t.Errorf("foreign writes counted: %v, want 3", got)
	}
	if msg := e.mismatch(t); msg != "" {
		t.Error(msg)
	}
}

// TestWatchWithoutConfig: where the admin may not use CONFIG (a managed Redis, a
// least-privilege user) and the server's notifications are off, the watch says so
// (WatchActive false) and the periodic repair is what puts the store's state back.
func TestWatchWithoutConfig(t *testing.T) {
	ctx := context.Background()
	cfg := fastRun
	cfg.ReconcileInterval = 200 * time.Millisecond
	e := newEnv(t, cfg)
	root := e.rdb
	if err := root.Do(ctx, "ACL", "SETUSER", "adm", "on", ">pw", "resetkeys", "resetchannels", "-@all",
		"+@read", "+@write", "+@scripting", "+@connection", "+psubscribe", "+punsubscribe", "+info", "+dbsize",
		"~sagate:*", "&"+redisops.KeyspacePattern).Err(); err != nil {
		t.Fatal(err)
	}
	adm := redis.NewClient(&redis.Options{Addr: e.srv.Addr(), Username: "adm", Password: "pw"})
	t.Cleanup(func() { _ = adm.Close() })
	e.s = newSyncer(t, adm, e.src, cfg)
	e.fill(2)
	startRun(t, e.s)
	waitFor(t, "the initial sync", func() bool { return e.s.Ready(ctx) == nil })
	if e.s.WatchActive() {
		t.Fatal("the watch reports notifications on without CONFIG")
	}
	h := testHash(0)
	if err := root.Del(ctx, wire.RedisKey(h)).Err(); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the deleted record back, by the periodic repair", func() bool {
		_, ok := e.record(t, h)
		return ok
	})
}

// TestWatchOverFullSync: a full sync writes every key, and each write is notified. The
// watch takes none of them for someone else's, however many more there are than it holds
// (it sweeps them instead of checking each), and a mass write by someone else larger
// than it holds (every key's record deleted) is still put right by the watch alone.
func TestWatchOverFullSync(t *testing.T) {
	ctx := context.Background()
	cfg := fastRun
	cfg.ReconcileInterval = time.Hour
	cfg.Registerer = prometheus.NewRegistry()
	e := newEnv(t, cfg)
	const n = watchPendingMax + 5000
	e.fill(n)
	startRun(t, e.s)
	waitFor(t, "the initial sync", func() bool { return e.s.Ready(ctx) == nil })
	waitFor(t, "the watch", e.s.WatchActive)

	first := e.epoch(t)
	if err := e.rdb.Del(ctx, wire.RedisEpoch).Err(); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "a new epoch", func() bool {
		ep, err := e.rdb.Get(ctx, wire.RedisEpoch).Result()
		return err == nil && ep != first
	})
	checked := e.s.watchSt.checked.Load()
	// The notifications of the sync's own writes come and are swept; none is checked.
	time.Sleep(10 * watchDelay)
	if got := e.s.watchSt.checked.Load() - checked; got != 0 {
		t.Errorf("the watch checked %d of the full sync's own writes exactly, want none", got)
	}

	// Every record deleted at once, in a pipeline: more keys than the watch holds.
	pipe := e.rdb.Pipeline()
	for i := range n {
		pipe.Del(ctx, wire.RedisKey(testHash(i)))
	}
	if _, err := pipe.Exec(ctx); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "every deletion undone", func() bool { return testutil.ToFloat64(e.s.watchSt.foreign) >= n })
	if got := testutil.ToFloat64(e.s.watchSt.foreign); got != n {
		t.Errorf("foreign writes counted: %v, want %d", got, n)
	}
	for _, i := range []int{0, n / 2, n - 1} { // e.mismatch reads every key: slow at this size
		if r, ok := e.record(t, testHash(i)); !ok || r.KeyID != testRecord(i).KeyID || r.State != keystore.KeyActive {
			t.Errorf("key %d after the deletions: %+v (%v), want its live record back", i, r, ok)
		}
	}
}
