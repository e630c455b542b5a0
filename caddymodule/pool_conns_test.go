package caddymodule

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sagate/sagate/internal/testing/redistest"
	"github.com/sagate/sagate/keystore/keycache"
	"github.com/sagate/sagate/keystore/redisurl"
	"github.com/sagate/sagate/keystore/wire"
)

// TestSidecarHoldsAtMostThreeConnections checks that a burst that opened many of the
// shared pool's connections, commands and pipelines, does not leave them open: at rest, a sidecar holds the
// events follower's connection and at most keycache.MaxIdleConns of the pool, so that
// a fleet of sidecars costs one Redis at most three connections each.
func TestSidecarHoldsAtMostThreeConnections(t *testing.T) {
	srv := redistest.Start(t)
	observer := srv.Client()
	opts, err := redisurl.Parse(srv.URL())
	if err != nil {
		t.Fatal(err)
	}
	client := sidecarClient(opts)
	t.Cleanup(func() { _ = client.Close() })
	c := keycache.New(client, keycache.Config{Verifier: wire.NewVerifier()})
	c.Start()
	t.Cleanup(func() { _ = c.Close() })
	ctx := context.Background()
	// conns counts Redis' clients other than the observer.
	conns := func() int {
		list, err := observer.ClientList(ctx).Result()
		if err != nil {
			t.Fatalf("CLIENT LIST: %v", err)
		}
		return strings.Count(list, "\n") - 1
	}
	const burst = 6
	var wg sync.WaitGroup
	for i := range burst {
		if i%2 == 0 {
			wg.Go(func() { _ = client.BLPop(ctx, time.Second, "sagate:test:nothing").Err() })
			continue
		}
		// Pipelines too, as the lookups send theirs: go-redis gives pipelines a pool of
		// their own unless told not to, and its idle connections would stay.
		wg.Go(func() {
			pipe := client.Pipeline()
			pipe.BLPop(ctx, time.Second, "sagate:test:nothing")
			_, _ = pipe.Exec(ctx)
		})
	}
	// While they block, each holds a connection of its own: the pool grew.
	waitUntil(t, "the burst's connections to open", func() bool { return conns() >= burst })
	wg.Wait()
	waitUntil(t, "the sidecar to be down to three connections", func() bool { return conns() <= 3 })
	// And the cache still works through what is left: the follower is connected.
	waitUntil(t, "the events follower's connection", func() bool { return conns() >= 1 })
}
