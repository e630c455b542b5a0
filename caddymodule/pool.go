package caddymodule

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/redis/go-redis/v9"
	"go.uber.org/zap"

	"github.com/sagate/sagate/keystore/keycache"
	"github.com/sagate/sagate/keystore/redisurl"
	"github.com/sagate/sagate/keystore/wire"
)

// caches holds one *sharedCache per distinct cacheSettings. It is package-level so
// that it outlives config reloads: the new config acquires before the old one
// releases, so the client, the cache and its events subscription carry over.
var caches = caddy.NewUsagePool()

// cacheSettings are the options that make two sites need different caches.
// (cache_ttl and stale_if_error are per-lookup policy, so sites may differ there.)
type cacheSettings struct {
	redisURL      string
	size          int
	negativeTTL   time.Duration
	lookupTimeout time.Duration
	// signingKeys are the public keys trusted, sorted, space-separated: sites that
	// trust different admins must not share what one of them verified.
	signingKeys string
}

// key is the pool key. It holds the URL (maybe with a password): never log it.
func (s cacheSettings) key() string {
	return s.redisURL + "\x00" + strconv.Itoa(s.size) + "\x00" + s.negativeTTL.String() + "\x00" + s.lookupTimeout.String() +
		"\x00" + s.signingKeys
}

// sharedCache is one Redis client and the key cache that reads through it.
type sharedCache struct {
	client redis.UniversalClient
	cache  *keycache.Cache
}

// Destruct stops the cache, then closes the client, and keeps the cache's counts in
// the metrics' totals; the pool calls it when the last user releases it.
func (s *sharedCache) Destruct() error {
	err := errors.Join(s.cache.Close(), s.client.Close())
	retireCache(s.cache)
	return err
}

// acquireCache returns the cache for s, creating and starting it if no site holds
// one yet. Each successful call must be paired with releaseCache(key).
func acquireCache(s cacheSettings, logger *zap.Logger) (*keycache.Cache, string, error) {
	key := s.key()
	v, loaded, err := caches.LoadOrNew(key, func() (caddy.Destructor, error) {
		opts, err := redisurl.Parse(s.redisURL)
		if err != nil {
			return nil, err
		}
		keys, err := parseSigningKeys(strings.Fields(s.signingKeys))
		if err != nil {
			return nil, err
		}
		client := sidecarClient(opts)
		// A TLS mistake (untrusted server, refused client certificate) is no outage
		// to ride out: refuse the config rather than answer 503 to every request.
		// An unreachable Redis is not checked here: the cache starts without it.
		if err := opts.CheckTLS(context.Background(), client); err != nil {
			_ = client.Close()
			return nil, err
		}
		c := keycache.New(client, keycache.Config{
			Verifier:      wire.NewVerifier(keys...),
			Size:          s.size,
			NegativeTTL:   s.negativeTTL,
			LookupTimeout: s.lookupTimeout,
			// The cache outlives the config whose handler created it, so it logs
			// through Caddy's process logger, not that handler's.
			Logger:   caddy.Log().Named("sagate.keycache"),
			EventLag: observeEventLag,
		})
		c.Start()
		return &sharedCache{client: client, cache: c}, nil
	})
	if err != nil {
		return nil, "", fmt.Errorf("setting up the key cache: %w", err)
	}
	sc, ok := v.(*sharedCache)
	if !ok {
		return nil, "", fmt.Errorf("setting up the key cache: pool holds %T", v)
	}
	if !loaded {
		logger.Info("key cache started", zap.String("redis", redisurl.Redacted(s.redisURL)), zap.Int("cache_size", s.size),
			zap.Strings("signer_ids", signerIDs(s.signingKeys)))
	}
	return sc.cache, key, nil
}

// sidecarClient builds the key cache's client from opts, keeping no more idle
// connections than the cache uses (keycache.MaxIdleConns), so that a burst does not
// leave a fleet of sidecars holding connections Redis must keep. Pipelines (the
// lookups') share that pool: go-redis would otherwise give them a pool of their own,
// whose idle connections come on top. A Cluster client's pools are per node and left
// as they are.
func sidecarClient(opts redisurl.Options) redis.UniversalClient {
	switch {
	case opts.Simple != nil:
		opts.Simple.MaxIdleConns = keycache.MaxIdleConns
		opts.Simple.PipelinePoolSize = -1
	case opts.Failover != nil:
		opts.Failover.MaxIdleConns = keycache.MaxIdleConns
		opts.Failover.PipelinePoolSize = -1
	}
	return opts.Client()
}

// releaseCache lets go of one hold on the cache under key; the last one closes it.
func releaseCache(key string) error {
	if _, err := caches.Delete(key); err != nil {
		return fmt.Errorf("closing the key cache: %w", err)
	}
	return nil
}
