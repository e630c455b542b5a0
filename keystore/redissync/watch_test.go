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
// (past that it runs a repair pass, which checks none either), and a mass deletion by
// someone else, notified while a reconcile holds the lock, is put right by that pass.
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
	reconciles := func() float64 { return testutil.ToFloat64(e.s.m.reconciles.WithLabelValues("ok")) }
	held := func() int {
		pipe := e.rdb.Pipeline()
		cmds := make([]*redis.IntCmd, n)
		for i := range n {
			cmds[i] = pipe.Exists(ctx, wire.RedisKey(testHash(i)))
		}
		if _, err := pipe.Exec(ctx); err != nil {
			t.Fatal(err)
		}
		k := 0
		for _, c := range cmds {
			k += int(c.Val())
		}
		return k
	}

	first, r0, checked := e.epoch(t), reconciles(), e.s.watchSt.checked.Load()
	if err := e.rdb.Del(ctx, wire.RedisEpoch).Err(); err != nil {
		t.Fatal(err)
	}
	// The full sync, then the watch's repair pass over its notifications.
	waitFor(t, "the full sync and the watch's pass", func() bool { return reconciles() >= r0+2 })
	if e.epoch(t) == first {
		t.Fatal("no new epoch after the epoch marker was deleted")
	}
	if got := e.s.watchSt.checked.Load() - checked; got != 0 {
		t.Errorf("the watch checked %d of the full sync's own writes exactly, want none", got)
	}

	// Every record deleted at once while a reconcile holds the lock: the watch cannot
	// check them as they come, and holds too many to check them one by one after.
	r0 = reconciles()
	e.s.syncMu.Lock()
	pipe := e.rdb.Pipeline()
	for i := range n {
		pipe.Del(ctx, wire.RedisKey(testHash(i)))
	}
	_, err := pipe.Exec(ctx)
	time.Sleep(20 * watchDelay) // the notifications reach the watch
	e.s.syncMu.Unlock()
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the watch's repair pass", func() bool { return reconciles() > r0 })
	if k := held(); k != n {
		t.Errorf("%d of %d records back after the watch's repair pass", k, n)
	}
	for _, i := range []int{0, n / 2, n - 1} { // e.mismatch reads every key: slow at this size
		if r, ok := e.record(t, testHash(i)); !ok || r.KeyID != testRecord(i).KeyID || r.State != keystore.KeyActive {
			t.Errorf("key %d after the deletions: %+v (%v), want its live record back", i, r, ok)
		}
	}
}

// TestWatchTakesOnlyItsOwnWrites: a value this admin only found equal to the store
// (another admin wrote it) is not taken for its own by the watch: once the other admin
// has replaced it, that value put back is checked and rewritten, though this admin's
// digest set still remembers it.
func TestWatchTakesOnlyItsOwnWrites(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t, Config{})
	e.fill(5)
	if _, err := e.s.Reconcile(ctx); err != nil {
		t.Fatal(err)
	}
	other := newSyncer(t, e.rdb, e.src, Config{})
	h := testHash(3)
	owner := testRecord(3)
	owner.Roles = map[string]keystore.Role{"p": keystore.RoleOwner}
	if err := other.Apply(ctx, keystore.Change{Rev: e.src.put(h, owner), Hashes: []keystore.KeyHash{h}}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.s.Reconcile(ctx); err != nil { // finds the other admin's value equal to the store
		t.Fatal(err)
	}
	old, err := e.rdb.Dump(ctx, wire.RedisKey(h)).Result()
	if err != nil {
		t.Fatal(err)
	}
	viewer := testRecord(3)
	viewer.Roles = map[string]keystore.Role{"p": keystore.RoleViewer}
	rev := e.src.put(h, viewer)
	if err := other.Apply(ctx, keystore.Change{Rev: rev, Hashes: []keystore.KeyHash{h}}); err != nil {
		t.Fatal(err)
	}
	if err := e.rdb.RestoreReplace(ctx, wire.RedisKey(h), 0, old).Err(); err != nil {
		t.Fatal(err)
	}
	e.s.syncMu.Lock()
	err = e.s.checkWritten(ctx, []keystore.KeyHash{h})
	e.s.syncMu.Unlock()
	if err != nil {
		t.Fatal(err)
	}
	if r, ok := e.record(t, h); !ok || r.Roles["p"] != keystore.RoleViewer || r.Rev < rev {
		t.Errorf("after the watch's check: %+v (%v), want the viewer record at revision %d or above", r, ok, rev)
	}
}
