package keycache

import (
	"context"
	"errors"
	"runtime"
	"sync"
	"testing"

	"github.com/sagate/sagate/internal/testing/redistest"
	"github.com/sagate/sagate/internal/testing/systest"
	"github.com/sagate/sagate/keystore/wire"
)

func TestRedisDownThenBack(t *testing.T) {
	e := newEnv(t, envOpts{})
	known, rec := e.putNew()
	unknown := newHash(t)
	uncached, _ := e.putNew()
	e.lookup(known)
	e.lookup(unknown)
	ctx := context.Background()

	e.srv.Kill()
	e.waitConnected(false)
	tests := []struct {
		name    string
		h       wire.KeyHash
		wantSrc Source
		wantErr error
	}{
		{"verified before: stale", known, SourceStale, nil},
		{"negative before: cannot tell", unknown, SourceRedis, ErrUnavailable},
		{"never seen: cannot tell", uncached, SourceRedis, ErrUnavailable},
	}
	for _, tt := range tests {
		ent, src, err := foundOf(e.cache.Lookup(ctx, tt.h, testPolicy))
		if src != tt.wantSrc || !errors.Is(err, tt.wantErr) || (err == nil) != (tt.wantErr == nil) {
			t.Errorf("%s: %v %v %v, want %v %v", tt.name, ent, src, err, tt.wantSrc, tt.wantErr)
		}
		if tt.wantErr == nil && (ent == nil || ent.KeyID() != rec.KeyID) {
			t.Errorf("%s: entry %+v", tt.name, ent)
		}
	}

	// Past TTL + StaleIfError, nothing is usable.
	e.clock.Advance(testPolicy.TTL + testPolicy.StaleIfError)
	if _, _, err := e.cache.Lookup(ctx, known, testPolicy); !errors.Is(err, ErrUnavailable) {
		t.Fatalf("past stale_if_error: %v, want ErrUnavailable", err)
	}
	if st := e.cache.Stats(); st.StaleAnswers != 1 || st.RedisErrors < 3 {
		t.Errorf("stats: %+v", st)
	}

	// Redis comes back empty: cannot tell until the admin resyncs; then all is well,
	// with no restart of the cache.
	e.srv.Restart()
	if _, _, err := e.cache.Lookup(ctx, known, testPolicy); !errors.Is(err, ErrUnavailable) {
		t.Fatalf("empty redis: %v, want ErrUnavailable", err)
	}
	e.setEpoch("e2")
	e.put(known, rec)
	// The client may first have to notice its connections died with the old server.
	eventually(t, "the record answered from redis", func() bool {
		ent, src, err := foundOf(e.cache.Lookup(ctx, known, testPolicy))
		return err == nil && src == SourceRedis && ent != nil && ent.KeyID() == rec.KeyID
	})
	e.waitConnected(true)
	e.lookup(known)
	if _, src := e.lookup(known); src != SourceCache {
		t.Fatalf("follower back: %v, want cache", src)
	}
	if ent, src := e.lookup(unknown); ent != nil || src != SourceRedis {
		t.Fatalf("unknown after resync: %v %v", ent, src)
	}
}

func TestSlowRedisGivesUpWithoutPileUp(t *testing.T) {
	// ContextTimeoutEnabled off: the client itself would wait for its 5s ReadTimeout;
	// the cache must still answer within LookupTimeout and bound the lookups left
	// waiting. A pool bigger than the burst shows that the bound is the cache's own.
	srv := redistest.Start(t)
	p := systest.StartProxy(t, srv.Addr())
	e := newEnvOn(t, srv, envOpts{addr: p.Addr(), plainCli: true, poolSize: 1000})
	// Goroutines of the code under test: the proxy's own are left out.
	goroutines := func() int { return runtime.NumGoroutine() - p.Pipes() }
	base := goroutines()
	p.Stall()

	const n = 200
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for range n {
		wg.Go(func() {
			_, _, err := e.cache.Lookup(context.Background(), newHash(t), testPolicy)
			errs <- err
		})
	}
	wg.Wait()
	close(errs)
	during := goroutines()
	for err := range errs {
		if !errors.Is(err, ErrUnavailable) {
			t.Fatalf("lookup on a stalled redis: %v, want ErrUnavailable", err)
		}
	}
	if limit := base + maxFlights + 16; during > limit {
		t.Errorf("%d goroutines while redis is stalled (base %d, limit %d)", during, base, limit)
	}
	// Connections busy (not idle in the pool): the stuck lookups and the follower's.
	if ps := e.ccli.PoolStats(); ps.TotalConns-ps.IdleConns > maxFlights+2 {
		t.Errorf("%d busy connections while redis is stalled: %+v", ps.TotalConns-ps.IdleConns, *ps)
	}
	if st := e.cache.Stats(); st.RedisErrors != n {
		t.Errorf("stats: %+v", st)
	}
	p.Unstall()
	h, _ := e.putNew()
	eventually(t, "redis answers again", func() bool {
		ent, _, err := foundOf(e.cache.Lookup(context.Background(), h, testPolicy))
		return err == nil && ent != nil
	})
	eventually(t, "stuck lookups drained", func() bool {
		flights, hashes := e.cache.lookupsPending()
		return flights == 0 && hashes == 0
	})
}
