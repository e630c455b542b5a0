package keycache_test

import (
	"context"
	"testing"

	"github.com/redis/go-redis/v9"

	"github.com/sagate/sagate/internal/testing/keytest"
	"github.com/sagate/sagate/keystore/keycache"
	"github.com/sagate/sagate/keystore/wire"
)

// The external tests write to Redis what the admin would: records sealed with
// keytest.SigningKey, and the revision and epoch markers.

// sealRecord returns rec sealed for h.
func sealRecord(tb testing.TB, h wire.KeyHash, rec wire.Record) []byte {
	tb.Helper()
	b, err := wire.SealRecord(keytest.SigningKey(tb), h, rec)
	if err != nil {
		tb.Fatal(err)
	}
	return b
}

// queueMarkers queues the revision marker (rev) and then the epoch marker on pipe,
// as a full sync writes them.
func queueMarkers(tb testing.TB, pipe redis.Pipeliner, rev int64, epoch string) {
	tb.Helper()
	ctx := context.Background()
	sk := keytest.SigningKey(tb)
	pipe.Set(ctx, wire.RedisRev, wire.SealRev(sk, rev), 0)
	pipe.Set(ctx, wire.RedisEpoch, wire.SealMarker(sk, wire.DomainEpoch, epoch), 0)
}

// newCache returns keycache.New(rdb, cfg) trusting keytest.SigningKey.
func newCache(tb testing.TB, rdb redis.UniversalClient, cfg keycache.Config) *keycache.Cache {
	tb.Helper()
	cfg.Verifier = wire.NewVerifier(keytest.SigningKey(tb).Public())
	return keycache.New(rdb, cfg)
}
