package keycache

import (
	"context"
	"runtime"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/sagate/sagate/internal/testing/keytest"
	"github.com/sagate/sagate/internal/testing/redistest"
	"github.com/sagate/sagate/keystore/wire"
)

// waitFor is how long a test polls for something that happens in the background.
const waitFor = 10 * time.Second

// fakeClock is time.Now moved forward by a settable offset.
type fakeClock struct{ offset atomic.Int64 }

func (f *fakeClock) Now() time.Time          { return time.Now().Add(time.Duration(f.offset.Load())) }
func (f *fakeClock) Advance(d time.Duration) { f.offset.Add(int64(d)) }

// env is a real redis-server, a direct client to it, and a Cache under test. The
// test writes to Redis what the admin would: sealed records and markers, signed
// events, and a revision marker raised before each event.
type env struct {
	t     testing.TB
	srv   *redistest.Server
	rdb   *redis.Client // direct, for the test's own writes
	cache *Cache
	ccli  *redis.Client // the cache's client
	clock *fakeClock
	sk    wire.SigningKey // the admin's signing key (keytest.SigningKey)
	rev   int64           // the store revision: the revision marker's value
}

// envOpts tunes newEnv.
type envOpts struct {
	cfg      Config
	addr     string // the cache client's address; default: the server
	noStart  bool
	noEpoch  bool
	plainCli bool // a client with go-redis defaults (ContextTimeoutEnabled off)
	poolSize int  // the cache client's PoolSize; 0: go-redis default
	// user and password log the cache's client in as a Redis ACL user.
	user, password string
}

var testPolicy = Policy{TTL: time.Minute, StaleIfError: time.Minute}

// newEnv starts redis, writes the epoch "e1" and the revision marker 1, and returns
// a started cache, trusting keytest.SigningKey unless o.cfg.Verifier says otherwise,
// whose follower has caught up.
func newEnv(t testing.TB, o envOpts) *env {
	t.Helper()
	srv := redistest.Start(t)
	return newEnvOn(t, srv, o)
}

func newEnvOn(t testing.TB, srv *redistest.Server, o envOpts) *env {
	t.Helper()
	e := &env{t: t, srv: srv, rdb: srv.Client(), clock: &fakeClock{}, sk: keytest.SigningKey(t)}
	e.rev = 1
	if !o.noEpoch {
		e.setEpoch("e1")
	}
	if o.cfg.Verifier == nil {
		o.cfg.Verifier = testVerifier(t)
	}
	addr := o.addr
	if addr == "" {
		addr = srv.Addr()
	}
	e.ccli = redis.NewClient(&redis.Options{Addr: addr, ContextTimeoutEnabled: !o.plainCli, PoolSize: o.poolSize,
		Username: o.user, Password: o.password})
	t.Cleanup(func() { _ = e.ccli.Close() })
	e.cache = New(e.ccli, o.cfg)
	e.cache.now = e.clock.Now
	e.cache.block = 100 * time.Millisecond
	e.cache.flushEvery = 20 * time.Millisecond
	e.cache.evictEvery = 20 * time.Millisecond
	t.Cleanup(func() { _ = e.cache.Close() })
	if !o.noStart {
		e.cache.Start()
		e.waitConnected(true)
	}
	return e
}

func (e *env) waitConnected(want bool) {
	e.t.Helper()
	eventually(e.t, "follower connected="+strconv.FormatBool(want), func() bool { return e.cache.connected.Load() == want })
}

// testVerifier trusts keytest.SigningKey.
func testVerifier(t testing.TB) *wire.Verifier {
	return wire.NewVerifier(keytest.SigningKey(t).Public())
}

// setEpoch writes the sealed revision marker (at the current revision), then the
// sealed epoch marker, as the admin's full sync does.
func (e *env) setEpoch(epoch string) {
	e.t.Helper()
	e.setRev(e.rev)
	if err := e.rdb.Set(context.Background(), wire.RedisEpoch, wire.SealMarker(e.sk, wire.DomainEpoch, epoch), 0).Err(); err != nil {
		e.t.Fatalf("setting epoch: %v", err)
	}
}

// setRev sets the store revision and writes it as the sealed revision marker.
func (e *env) setRev(rev int64) {
	e.t.Helper()
	e.rev = rev
	if err := e.rdb.Set(context.Background(), wire.RedisRev, wire.SealRev(e.sk, rev), 0).Err(); err != nil {
		e.t.Fatalf("setting the revision marker: %v", err)
	}
}

// newHash returns the hash of a fresh random key.
func newHash(t testing.TB) wire.KeyHash {
	t.Helper()
	k, err := wire.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	return wire.HashKey(k)
}

var recSeq atomic.Int64

// activeRecord returns a live record with a unique key id.
func activeRecord() wire.Record {
	n := strconv.FormatInt(recSeq.Add(1), 10)
	return wire.Record{KeyID: "key_" + n, SAID: "sa_" + n, SA: "bot" + n + "@ml", Workspace: "ml",
		State: wire.KeyActive, Roles: map[string]wire.Role{"*": wire.RoleViewer}, Rev: 1}
}

// put writes rec as the record of h, sealed by the admin's key.
func (e *env) put(h wire.KeyHash, rec wire.Record) {
	e.t.Helper()
	b, err := wire.SealRecord(e.sk, h, rec)
	if err != nil {
		e.t.Fatal(err)
	}
	if err := e.rdb.Set(context.Background(), wire.RedisKey(h), b, 0).Err(); err != nil {
		e.t.Fatalf("writing record: %v", err)
	}
}

// putNew writes a new active record and returns its hash.
func (e *env) putNew() (wire.KeyHash, wire.Record) {
	e.t.Helper()
	h, rec := newHash(e.t), activeRecord()
	e.put(h, rec)
	return h, rec
}

// publish appends an event of kind for hashes, as the admin does after writing records.
func (e *env) publish(kind string, hashes ...wire.KeyHash) int64 {
	e.t.Helper()
	return e.publishEvent(wire.Event{Kind: kind, Epoch: "e1", Hashes: hashes})
}

// publishEvent raises the store revision and the revision marker, then appends ev at
// that revision, signed, as the admin does after writing records. It returns its seq.
func (e *env) publishEvent(ev wire.Event) int64 {
	e.t.Helper()
	e.setRev(e.rev + 1)
	ev.Rev = e.rev
	wire.SignEvent(e.sk, &ev)
	_, seq, err := wire.PublishEvent(context.Background(), e.rdb, ev, 0)
	if err != nil {
		e.t.Fatal(err)
	}
	return seq
}

// revoke replaces h's record with a tombstone and publishes the event, as the admin does.
func (e *env) revoke(h wire.KeyHash, rec wire.Record) {
	e.t.Helper()
	rec.State = wire.KeyRevoked
	rec.Rev++
	e.put(h, rec)
	e.publish(wire.EventKeys, h)
}

// lookup is Lookup with the test policy that fails the test on an error.
func (e *env) lookup(h wire.KeyHash) (*Entry, Source) {
	e.t.Helper()
	ent, src, err := foundOf(e.cache.Lookup(context.Background(), h, testPolicy))
	if err != nil {
		e.t.Fatalf("Lookup: %v", err)
	}
	return ent, src
}

// waitEvents waits until the cache has applied at least n events.
func (e *env) waitEvents(n uint64) {
	e.t.Helper()
	eventually(e.t, "events applied >= "+strconv.FormatUint(n, 10), func() bool { return e.cache.Stats().EventsApplied >= n })
}

// markerGets is the GETs of markers in every lookup pipeline: the epoch and the
// revision marker.
const markerGets = 2

// getCalls returns how many GET commands the server has run.
func (e *env) getCalls() int { return e.commandCalls("get") }

// commandCalls returns how many times the server has run the command name (lower case).
func (e *env) commandCalls(name string) int {
	e.t.Helper()
	info, err := e.rdb.Info(context.Background(), "commandstats").Result()
	if err != nil {
		e.t.Fatal(err)
	}
	for line := range strings.SplitSeq(info, "\n") {
		rest, ok := strings.CutPrefix(strings.TrimSpace(line), "cmdstat_"+name+":calls=")
		if !ok {
			continue
		}
		n, err := strconv.Atoi(rest[:strings.IndexByte(rest, ',')])
		if err != nil {
			e.t.Fatal(err)
		}
		return n
	}
	return 0
}

// eventually polls cond until it holds or the deadline passes.
func eventually(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(waitFor)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for: %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// goroutinesBack waits until the goroutine count is at most base.
func goroutinesBack(t testing.TB, base int) {
	t.Helper()
	eventually(t, "goroutines back to "+strconv.Itoa(base), func() bool { return runtime.NumGoroutine() <= base })
}

// foundOf turns Lookup's answer into a pointer, nil for an entry that is not Found.
func foundOf(ent Entry, src Source, err error) (*Entry, Source, error) {
	if !ent.Found() {
		return nil, src, err
	}
	return &ent, src, err
}
