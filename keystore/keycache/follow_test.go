package keycache

import (
	"context"
	"math/rand/v2"
	"runtime"
	"strconv"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/redis/go-redis/v9/maintnotifications"

	"github.com/sagate/sagate/internal/testing/redistest"
	"github.com/sagate/sagate/internal/testing/systest"
	"github.com/sagate/sagate/keystore/wire"
)

func TestKeysEventDropsExactlyThoseEntries(t *testing.T) {
	e := newEnv(t, envOpts{})
	revoked, rec := e.putNew()
	kept, _ := e.putNew()
	created := newHash(t) // unknown now, created later
	e.lookup(revoked)
	e.lookup(kept)
	e.lookup(created)

	e.revoke(revoked, rec)
	e.put(created, activeRecord())
	e.publish(wire.EventKeys, created)
	e.waitEvents(2)

	if ent, src := e.lookup(revoked); src != SourceRedis || ent == nil || ent.State() != wire.KeyRevoked {
		t.Errorf("revoked key: %v %+v, want the tombstone from redis", src, ent)
	}
	if _, src := e.lookup(kept); src != SourceCache {
		t.Errorf("untouched key: %v, want cache", src)
	}
	if ent, src := e.lookup(created); src != SourceRedis || ent == nil {
		t.Errorf("created key: %v %v, want the new record from redis (the negative must go)", src, ent)
	}
}

func TestEventsThatMayHaveBeenMissedFlush(t *testing.T) {
	tests := []struct {
		name  string
		event func(e *env)
	}{
		{"seq gap", func(e *env) {
			last := e.publish(wire.EventKeys)
			e.xadd(last+5, wire.EventKeys)
		}},
		{"resync event", func(e *env) { e.publish(wire.EventResync) }},
		{"unknown kind", func(e *env) { e.publish("something-new") }},
		{"an admin's event without a readable seq", func(e *env) {
			e.publish(wire.EventKeys)
			e.xaddRaw(e.signedFields(wire.EventKeys)...)
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, envOpts{})
			h, _ := e.putNew()
			e.lookup(h)
			if _, src := e.lookup(h); src != SourceCache {
				t.Fatalf("cached: %v", src)
			}
			flushes := e.cache.Stats().Flushes
			tt.event(e)
			eventually(t, "a flush", func() bool { return e.cache.Stats().Flushes > flushes })
			if _, src := e.lookup(h); src != SourceRedis {
				t.Fatalf("after the flush: %v, want redis", src)
			}
			if _, src := e.lookup(h); src != SourceCache {
				t.Fatalf("refetched: %v, want cache", src)
			}
		})
	}
}

// xadd appends a raw event with the given seq, bypassing PublishEvent's numbering,
// signed for its kind and epoch at the current revision (extra fields are not signed).
func (e *env) xadd(seq int64, kind string, extra ...any) {
	e.t.Helper()
	ev := wire.Event{Rev: e.rev, Kind: kind, Epoch: "e1"}
	wire.SignEvent(e.sk, &ev)
	vals := append([]any{"seq", strconv.FormatInt(seq, 10), "rev", strconv.FormatInt(ev.Rev, 10), "kind", kind, "epoch", "e1", "sig", ev.Sig}, extra...)
	if err := e.rdb.XAdd(context.Background(), &redis.XAddArgs{Stream: wire.RedisEvents, Values: vals}).Err(); err != nil {
		e.t.Fatal(err)
	}
}

// TestUnverifiableEntriesChangeNothing: an entry of the events stream that does not
// verify, whatever it holds, is counted and skipped: the cache keeps its entries fresh,
// the key it names stays live, and the admin's next event neither looks like a gap nor
// is missed.
func TestUnverifiableEntriesChangeNothing(t *testing.T) {
	tests := []struct {
		name  string
		entry func(e *env, h wire.KeyHash, last int64) []any
	}{
		{"junk", func(*env, wire.KeyHash, int64) []any { return []any{"kind", "junk", "sig", "x"} }},
		{"junk with the next seq", func(_ *env, _ wire.KeyHash, last int64) []any {
			return []any{"seq", strconv.FormatInt(last+1, 10), "kind", "junk", "sig", "x"}
		}},
		{"a seq far ahead", func(_ *env, _ wire.KeyHash, last int64) []any {
			return []any{"seq", strconv.FormatInt(last+1000, 10), "kind", wire.EventResync, "epoch", "e2"}
		}},
		{"unreadable hashes", func(e *env, _ wire.KeyHash, _ int64) []any {
			return append(e.signedFields(wire.EventKeys), "h", "not-a-hash")
		}},
		{"unsigned resync", func(_ *env, _ wire.KeyHash, last int64) []any {
			return []any{"seq", strconv.FormatInt(last+1, 10), "rev", "9", "kind", wire.EventResync, "epoch", "e2"}
		}},
		{"gone, signed by another key", func(e *env, h wire.KeyHash, last int64) []any {
			ev := wire.Event{Kind: wire.EventKeys, Epoch: "e1", Rev: 1 << 40, Hashes: []wire.KeyHash{h}, Gone: []bool{true}}
			ev.Sig = otherKey(e.t).Sign(wire.DomainEvent, "", wire.EventSigningPayload(ev))
			return []any{"seq", strconv.FormatInt(last+1, 10), "rev", strconv.FormatInt(ev.Rev, 10), "kind", ev.Kind,
				"epoch", ev.Epoch, "h", h.String(), "gone", "1", "sig", ev.Sig}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, envOpts{})
			h, _ := e.putNew()
			last := e.publish(wire.EventKeys)
			e.waitEvents(1)
			e.lookup(h)
			if _, src := e.lookup(h); src != SourceCache {
				t.Fatalf("cached: %v", src)
			}
			before := e.cache.Stats()
			seen := e.cache.seenRev.Load()
			e.xaddRaw(tt.entry(e, h, last)...)
			eventually(t, "the entry counted", func() bool {
				return e.cache.Stats().SignatureFailures.Events == before.SignatureFailures.Events+1
			})
			// The admin's next event: numbered past the entry, it follows the last one
			// the cache applied.
			other, rec := e.putNew()
			e.lookup(other)
			e.change(other, rec)
			// And the tail check of an idle follower finds the admin's event again.
			e.xaddRaw(tt.entry(e, h, last+1)...)
			eventually(t, "the second entry counted", func() bool {
				return e.cache.Stats().SignatureFailures.Events == before.SignatureFailures.Events+2
			})
			// Idle, the follower checks the tail (twice: the second check began after
			// the entry was there).
			tails := e.commandCalls("xrevrange")
			eventually(t, "two tail checks", func() bool { return e.commandCalls("xrevrange") >= tails+2 })
			st := e.cache.Stats()
			if st.Flushes != before.Flushes {
				t.Errorf("flushes %d, want %d: an entry that does not verify dropped the cache", st.Flushes, before.Flushes)
			}
			if got := e.cache.seenRev.Load(); got != seen+1 {
				t.Errorf("seenRev %d, want %d (the admin's event only)", got, seen+1)
			}
			ent, src := e.lookup(h)
			if src != SourceCache || ent == nil || !ent.Live(time.Now()) {
				t.Fatalf("the key after the entry: %+v from %v, want it live from the cache", ent, src)
			}
			if _, src := e.lookup(other); src != SourceRedis {
				t.Fatalf("the key the admin's event named: %v, want redis (dropped)", src)
			}
		})
	}
}

// signedFields returns the fields of an event of kind at the current revision, signed,
// without seq, followed by extra.
func (e *env) signedFields(kind string, extra ...any) []any {
	ev := wire.Event{Rev: e.rev, Kind: kind, Epoch: "e1"}
	wire.SignEvent(e.sk, &ev)
	return append(extra, "rev", strconv.FormatInt(ev.Rev, 10), "kind", kind, "epoch", "e1", "sig", ev.Sig)
}

// xaddRaw appends an entry of the given fields to the events stream, as anyone who can
// write to Redis can.
func (e *env) xaddRaw(vals ...any) {
	e.t.Helper()
	if err := e.rdb.XAdd(context.Background(), &redis.XAddArgs{Stream: wire.RedisEvents, Values: vals}).Err(); err != nil {
		e.t.Fatal(err)
	}
}

func TestStreamReplacedFlushes(t *testing.T) {
	e := newEnv(t, envOpts{})
	e.publish(wire.EventKeys)
	e.publish(wire.EventKeys)
	e.waitEvents(2)
	h, _ := e.putNew()
	e.lookup(h)
	flushes := e.cache.Stats().Flushes
	// A new, shorter stream under the same name (Redis restored from an older state).
	if err := e.rdb.Del(context.Background(), wire.RedisEvents).Err(); err != nil {
		t.Fatal(err)
	}
	eventually(t, "a flush", func() bool { return e.cache.Stats().Flushes > flushes })
	if _, src := e.lookup(h); src != SourceRedis {
		t.Fatalf("after the stream was replaced: %v, want redis", src)
	}
	// Following goes on with the new stream.
	before := e.cache.Stats().EventsApplied
	e.revoke(h, activeRecord())
	e.waitEvents(before + 1)
	if ent, _ := e.lookup(h); ent == nil || ent.State() != wire.KeyRevoked {
		t.Fatalf("event on the new stream not applied: %+v", ent)
	}
}

func TestFollowerCutWhileKeyIsRevoked(t *testing.T) {
	srv := redistest.Start(t)
	p := systest.StartProxy(t, srv.Addr())
	e := newEnvOn(t, srv, envOpts{addr: p.Addr()})
	h, rec := e.putNew()
	e.lookup(h)
	if _, src := e.lookup(h); src != SourceCache {
		t.Fatalf("cached: %v", src)
	}
	applied := e.cache.Stats().EventsApplied

	p.Cut()
	e.waitConnected(false)
	e.revoke(h, rec) // written straight to redis: the sidecar cannot see it
	// While cut off, the key is not fresh: at most a stale answer, never a cache hit.
	if _, src, err := e.cache.Lookup(context.Background(), h, testPolicy); err != nil || src != SourceStale {
		t.Fatalf("while cut off: %v %v, want stale", src, err)
	}

	p.Restore()
	e.waitEvents(applied + 1) // replayed from the last id applied
	e.waitConnected(true)
	ent, src := e.lookup(h)
	if ent == nil || ent.Live(e.clock.Now()) {
		t.Fatalf("after reconnect: %v %+v, want the tombstone", src, ent)
	}
	if src != SourceRedis {
		t.Fatalf("after reconnect: source %v, want redis", src)
	}
}

func TestFollowerClientKilled(t *testing.T) {
	e := newEnv(t, envOpts{})
	h, rec := e.putNew()
	e.lookup(h)
	applied := e.cache.Stats().EventsApplied
	if err := e.rdb.ClientKillByFilter(context.Background(), "TYPE", "normal").Err(); err != nil {
		t.Fatal(err)
	}
	e.revoke(h, rec)
	e.waitEvents(applied + 1)
	e.waitConnected(true)
	if ent, _ := e.lookup(h); ent == nil || ent.State() != wire.KeyRevoked {
		t.Fatalf("after the follower's connection was killed: %+v, want the tombstone", ent)
	}
}

func TestCloseStopsEverything(t *testing.T) {
	srv := redistest.Start(t)
	cli := srv.Client()
	if err := cli.Ping(context.Background()).Err(); err != nil {
		t.Fatal(err)
	}
	base := runtime.NumGoroutine()
	c := New(cli, Config{Verifier: testVerifier(t)})
	c.Start()
	eventually(t, "follower connected", c.connected.Load)
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	if err := c.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	c.Start() // after Close: nothing
	goroutinesBack(t, base)
}

func TestEventLagIsReported(t *testing.T) {
	lags := make(chan time.Duration, 4)
	e := newEnv(t, envOpts{cfg: Config{EventLag: func(d time.Duration) { lags <- d }}})
	h, rec := e.putNew()
	e.lookup(h)
	before := time.Now()
	e.revoke(h, rec)
	select {
	case d := <-lags:
		// The stream id's clock is Redis's, in whole milliseconds, and the cache's
		// clock is the fake one (not advanced here): the lag is at most the time since
		// the revocation started, plus the millisecond the id rounds down.
		if d < 0 || d > time.Since(before)+time.Millisecond {
			t.Errorf("lag %v, want between 0 and %v", d, time.Since(before)+time.Millisecond)
		}
	case <-time.After(waitFor):
		t.Fatal("no lag reported for an applied key event")
	}
}

func TestStreamTime(t *testing.T) {
	tests := []struct {
		id   string
		want int64 // Unix ms; 0: not a stream id
	}{
		{"1700000000123-0", 1700000000123}, {"1700000000123-17", 1700000000123},
		{"0-1", 0}, {"abc-1", 0}, {"1700000000123", 0}, {"", 0}, {"-5-1", 0},
	}
	for _, tt := range tests {
		at, ok := streamTime(tt.id)
		if ok != (tt.want != 0) || (ok && at.UnixMilli() != tt.want) {
			t.Errorf("streamTime(%q) = %v, %v; want %d", tt.id, at, ok, tt.want)
		}
	}
}

// A caller's client may have maintenance notifications on. The follower copies its
// options for a connection of its own; go-redis cannot register the notification
// handlers twice, and in "enabled" mode it panics instead of logging (v9.23). The
// follower's copy has them off, so the cache follows events with such a client.
func TestFollowerWithMaintNotificationsEnabled(t *testing.T) {
	srv := redistest.Start(t)
	cli := redis.NewClient(&redis.Options{
		Addr:                     srv.Addr(),
		Protocol:                 3,
		MaintNotificationsConfig: &maintnotifications.Config{Mode: maintnotifications.ModeEnabled},
	})
	t.Cleanup(func() { _ = cli.Close() })
	c := New(cli, Config{Verifier: testVerifier(t)})
	t.Cleanup(func() { _ = c.Close() })
	c.Start()
	eventually(t, "follower connected", c.connected.Load)
	if id := c.followID.Load(); id == 0 {
		t.Fatal("the follower does not hold a connection of its own")
	}
}

// An event that flags a key gone (its record replaced by a tombstone) turns the cached
// entry into a refusal at once: the next request is refused from the cache, without a
// Redis round trip, and still refused when Redis is gone by then. An event without the
// flags (an older admin) drops the entry, and the next lookup reads Redis.
func TestGoneKeyIsRefusedFromTheCache(t *testing.T) {
	e := newEnv(t, envOpts{})
	gone, rec := e.putNew()
	other, orec := e.putNew()
	e.lookup(gone)
	e.lookup(other)
	applied := e.cache.Stats().EventsApplied

	rec.State, rec.Rev = wire.KeyRevoked, rec.Rev+1
	e.put(gone, rec)
	orec.State, orec.Rev = wire.KeyRevoked, orec.Rev+1
	e.put(other, orec)
	e.publishEvent(wire.Event{Kind: wire.EventKeys, Epoch: "e1", Hashes: []wire.KeyHash{gone}, Gone: []bool{true}})
	e.publish(wire.EventKeys, other) // no flags
	e.waitEvents(applied + 2)

	gets := e.getCalls()
	ent, src := e.lookup(gone)
	if ent == nil || ent.State() != wire.KeyRevoked || ent.Live(time.Now()) || src != SourceCache {
		t.Fatalf("gone key: %+v from %v, want a revoked entry from the cache", ent, src)
	}
	if ent.KeyID() != rec.KeyID {
		t.Errorf("gone key's entry has key id %q, want %q (for the refusal's log line)", ent.KeyID(), rec.KeyID)
	}
	if n := e.getCalls(); n != gets {
		t.Errorf("refusing the gone key took %d GETs, want none", n-gets)
	}
	ent, src = e.lookup(other)
	if ent == nil || ent.State() != wire.KeyRevoked || src != SourceRedis || e.getCalls() == gets {
		t.Errorf("key of an event without flags: %+v from %v, want the tombstone read from Redis", ent, src)
	}

	e.srv.Kill()
	e.waitConnected(false)
	ent, src, err := foundOf(e.cache.Lookup(context.Background(), gone, testPolicy))
	if err != nil || ent == nil || ent.State() != wire.KeyRevoked || ent.Live(time.Now()) || src != SourceStale {
		t.Fatalf("gone key with Redis down: %+v from %v, %v; want the revoked entry as the stale fallback", ent, src, err)
	}
}

// A stream wiped and written again within one millisecond of Redis's clock gives its
// first event the id (and seq) the old last event had: only the fields tell them apart
// (TestRecordAnswersWithoutEpoch failed about one run in three on a fast machine).
func TestReplacedBy(t *testing.T) {
	old := redis.XMessage{ID: "1700000000000-0", Values: map[string]any{"seq": "1", "rev": "2", "kind": "keys", "epoch": "e1", "h": ""}}
	same := redis.XMessage{ID: old.ID, Values: map[string]any{"h": "", "epoch": "e1", "kind": "keys", "rev": "2", "seq": "1"}}
	other := redis.XMessage{ID: old.ID, Values: map[string]any{"seq": "1", "rev": "2", "kind": "keys", "epoch": "e1", "h": "ab"}}
	if eventSum(old) != eventSum(same) {
		t.Fatal("eventSum depends on the order of the fields")
	}
	// Moving a byte from one value to the next must change the sum.
	a := redis.XMessage{Values: map[string]any{"a": "xy", "b": ""}}
	b := redis.XMessage{Values: map[string]any{"a": "x", "b": "y"}}
	if eventSum(a) == eventSum(b) {
		t.Error("eventSum does not separate the values")
	}
	f := &follower{lastID: old.ID, lastSeq: 1, lastSum: eventSum(old)}
	for _, tc := range []struct {
		name     string
		id       string
		seq      int64
		sum      uint64
		replaced bool
	}{
		{"the same last event", old.ID, 1, eventSum(same), false},
		{"more events", "1700000000001-0", 2, 7, false},
		{"a shorter stream", "1700000000001-0", 0, 0, true},
		{"no stream", "0-0", 0, 0, true},
		{"as many events, another id", "1700000000002-0", 1, eventSum(old), true},
		{"as many events, the same id, other fields", old.ID, 1, eventSum(other), true},
	} {
		if got := f.replacedBy(tc.id, tc.seq, tc.sum); got != tc.replaced {
			t.Errorf("%s: replacedBy = %v, want %v", tc.name, got, tc.replaced)
		}
	}
}

// TestFollowerBackoffJitter checks that a follower's wait after losing Redis is spread
// over [d/2, d): many sidecars that lost one Redis together do not reconnect in step.
func TestFollowerBackoffJitter(t *testing.T) {
	const d = time.Second
	if got := jitter(d, func(int64) int64 { return 0 }); got != d/2 {
		t.Errorf("least wait = %v, want %v", got, d/2)
	}
	if got := jitter(d, func(n int64) int64 { return n - 1 }); got != d-1 {
		t.Errorf("longest wait = %v, want %v", got, d-1)
	}
	seen := map[time.Duration]bool{}
	for range 100 {
		got := jitter(d, rand.Int64N)
		if got < d/2 || got >= d {
			t.Fatalf("wait %v outside [%v, %v)", got, d/2, d)
		}
		seen[got] = true
	}
	if len(seen) < 50 {
		t.Errorf("100 waits took only %d distinct values: not spread", len(seen))
	}
	if got := jitter(0, rand.Int64N); got != 0 {
		t.Errorf("jitter(0) = %v", got)
	}
}

// BenchmarkFollowerApplyRevocation is what one revocation event costs a sidecar's
// events follower once it is read: parse it, verify its signature (Ed25519), and turn
// the cached entry of the key it flags gone into a refusal. Each sidecar pays it once
// per event (BENCHMARKS.md, "A fleet of sidecars on one Redis").
func BenchmarkFollowerApplyRevocation(b *testing.B) {
	e := newEnv(b, envOpts{noStart: true})
	h, rec := e.putNew()
	e.lookup(h)
	rec.State, rec.Rev = wire.KeyRevoked, rec.Rev+1
	e.put(h, rec)
	e.publishEvent(wire.Event{Kind: wire.EventKeys, Epoch: "e1", Hashes: []wire.KeyHash{h}, Gone: []bool{true}})
	msgs, err := e.rdb.XRange(context.Background(), wire.RedisEvents, "-", "+").Result()
	if err != nil || len(msgs) != 1 {
		b.Fatalf("reading the event back: %d entries, %v", len(msgs), err)
	}
	ev, err := wire.ParseEvent(msgs[0])
	if err != nil {
		b.Fatal(err)
	}
	f := &follower{c: e.cache}
	b.ReportAllocs()
	for b.Loop() {
		f.lastSeq = ev.Seq - 1 // each round applies the next event: no gap, no flush
		f.apply(msgs)
	}
	if ent, _ := e.lookup(h); ent.Live(time.Now()) {
		b.Fatal("the key is still live after its revocation event")
	}
}
