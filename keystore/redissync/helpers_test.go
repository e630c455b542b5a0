package redissync

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/sagate/sagate/internal/testing/keytest"
	"github.com/sagate/sagate/internal/testing/redistest"
	"github.com/sagate/sagate/keystore"
	"github.com/sagate/sagate/keystore/wire"
)

// env is one test's real Redis, fake store and Syncer.
type env struct {
	srv *redistest.Server
	rdb *redis.Client
	src *memSource
	s   *Syncer
}

func newEnv(t *testing.T, cfg Config) *env {
	t.Helper()
	srv := redistest.Start(t)
	// A client that gives up quickly, so tests with a killed server stay short.
	rdb := redis.NewClient(&redis.Options{Addr: srv.Addr(), MaxRetries: 1, DialTimeout: time.Second})
	t.Cleanup(func() { _ = rdb.Close() })
	src := newMemSource()
	return &env{srv: srv, rdb: rdb, src: src, s: newSyncer(t, rdb, src, cfg)}
}

// newSyncer returns a Syncer with the test signing key (unless cfg has one).
func newSyncer(t testing.TB, rdb redis.UniversalClient, src keystore.RecordSource, cfg Config) *Syncer {
	t.Helper()
	if !cfg.SigningKey.Valid() {
		cfg.SigningKey = keytest.SigningKey(t)
	}
	s, err := New(rdb, src, cfg)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// verifier trusts the test signing key.
func verifier(t testing.TB) *wire.Verifier {
	return wire.NewVerifier(keytest.SigningKey(t).Public())
}

// seal returns r sealed with the test signing key for h.
func seal(t testing.TB, h keystore.KeyHash, r wire.Record) []byte {
	t.Helper()
	b, err := wire.SealRecord(keytest.SigningKey(t), h, r)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// forge returns r "sealed" with another key: what a writer to Redis without the admin's
// key can produce at best.
func forge(t testing.TB, h keystore.KeyHash, r wire.Record) []byte {
	t.Helper()
	k, err := wire.GenerateSigningKey()
	if err != nil {
		t.Fatal(err)
	}
	b, err := wire.SealRecord(k, h, r)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// fill commits n live keys 0..n-1.
func (e *env) fill(n int) {
	for i := range n {
		e.src.put(testHash(i), testRecord(i))
	}
}

// record reads the record of h from Redis; ok is false when there is none.
func (e *env) record(t *testing.T, h keystore.KeyHash) (wire.Record, bool) {
	t.Helper()
	b, err := e.rdb.Get(context.Background(), wire.RedisKey(h)).Bytes()
	if errors.Is(err, redis.Nil) {
		return wire.Record{}, false
	}
	if err != nil {
		t.Fatalf("reading record: %v", err)
	}
	r, err := wire.OpenRecord(verifier(t), h, b)
	if err != nil {
		t.Fatalf("record in redis does not verify: %v: %s", err, b)
	}
	return r, true
}

// events returns every event in the stream, oldest first.
func (e *env) events(t *testing.T) []wire.Event {
	t.Helper()
	msgs, err := e.rdb.XRange(context.Background(), wire.RedisEvents, "-", "+").Result()
	if err != nil {
		t.Fatalf("reading events: %v", err)
	}
	out := make([]wire.Event, 0, len(msgs))
	for _, m := range msgs {
		ev, err := wire.ParseEvent(m)
		if err != nil {
			t.Fatalf("parsing event: %v", err)
		}
		if err := wire.VerifyEvent(verifier(t), ev); err != nil {
			t.Fatalf("event: %v", err)
		}
		out = append(out, ev)
	}
	return out
}

// redisRev returns the verified revision marker (-1 when missing).
func (e *env) redisRev(t *testing.T) int64 {
	t.Helper()
	v, err := e.rdb.Get(context.Background(), wire.RedisRev).Result()
	if errors.Is(err, redis.Nil) {
		return -1
	}
	if err != nil {
		t.Fatal(err)
	}
	rev, err := wire.OpenRev(verifier(t), v)
	if err != nil {
		t.Fatalf("revision marker: %v", err)
	}
	return rev
}

func (e *env) epoch(t *testing.T) string {
	t.Helper()
	return syncerEpoch(t, e.s)
}

// syncerEpoch returns the epoch marker s reads from Redis ("" when missing).
func syncerEpoch(t *testing.T, s *Syncer) string {
	t.Helper()
	ep, err := s.readEpoch(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return ep
}

// mismatch describes how Redis differs from the store ("" when it matches): every live
// key's record equals the store's, and every other record is a tombstone.
func (e *env) mismatch(t *testing.T) string {
	t.Helper()
	return e.mismatchWith(t, e.src)
}

// mismatchWith is mismatch against any RecordSource.
func (e *env) mismatchWith(t *testing.T, src keystore.RecordSource) string {
	t.Helper()
	ctx := context.Background()
	recs := map[keystore.KeyHash]wire.Record{}
	err := src.ScanAuthRecords(ctx, func(h keystore.KeyHash, r wire.Record) error {
		recs[h] = r
		return nil
	})
	if err != nil {
		t.Fatalf("scanning the store: %v", err)
	}
	var cursor uint64
	for {
		keys, next, err := e.rdb.Scan(ctx, cursor, wire.RedisKeyPrefix+"*", 1000).Result()
		if err != nil {
			return "scan: " + err.Error()
		}
		for _, k := range keys {
			h, err := keystore.ParseKeyHash(strings.TrimPrefix(k, wire.RedisKeyPrefix))
			if err != nil {
				return "malformed record key left in redis"
			}
			if _, live := recs[h]; live {
				continue
			}
			if r, ok := e.record(t, h); ok && r.State != keystore.KeyRevoked {
				return "record of " + r.KeyID + " is not in the store but is " + string(r.State)
			}
		}
		if cursor = next; cursor == 0 {
			break
		}
	}
	for h, want := range recs {
		got, ok := e.record(t, h)
		if !ok {
			return "record of " + want.KeyID + " missing"
		}
		if !sameRecord(got, want) {
			return "record of " + want.KeyID + " differs from the store"
		}
	}
	return ""
}

// waitFor polls cond until it holds or 15 s pass.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func hashSet(hs []keystore.KeyHash) map[keystore.KeyHash]bool {
	m := make(map[keystore.KeyHash]bool, len(hs))
	for _, h := range hs {
		m[h] = true
	}
	return m
}
