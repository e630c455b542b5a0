package admin

import (
	"context"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"
	"go.uber.org/zap"

	"github.com/sagate/sagate/keystore/redisops"
)

// A Redis that may evict keys (maxmemory with a policy other than noeviction; see
// redisops.CheckEviction) can lose sagate's records while the epoch stays: the sidecars
// then answer 503 for keys whose record is gone, where they would have let them in.
// The admin reports it: a Warn log line when it starts and stops being the case, the
// sagate_redis_may_evict gauge, and a warning in /readyz's body. /readyz stays 200 for
// it: readiness decides whether this admin gets traffic, and taking every admin out of
// rotation would not make Redis safe, only make the API (revocations included)
// unreachable; the sidecars fail closed (503, never 401 or a wrong 200) meanwhile.

// evictionCheckEvery is how often Serve checks whether Redis may evict keys.
const evictionCheckEvery = 10 * time.Second

// evictWatch is the last answer of the eviction check, shared by Serve's loop and /readyz.
type evictWatch struct {
	rdb   redis.UniversalClient // nil: no check
	gauge prometheus.Gauge
	log   *zap.Logger

	mu      sync.Mutex
	risk    redisops.EvictionRisk
	known   bool // risk holds an answer
	failing bool // the last check failed
}

// newEvictWatch returns the watch of rdb (nil: none), its gauge registered on reg.
func newEvictWatch(rdb redis.UniversalClient, reg prometheus.Registerer, log *zap.Logger) (*evictWatch, error) {
	w := &evictWatch{rdb: rdb, log: log, gauge: prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "sagate_redis_may_evict",
		Help: "1 while Redis may evict sagate's keys (maxmemory with a maxmemory-policy other than noeviction): " +
			"sidecars then answer 503 for keys whose record was evicted. Set noeviction or give sagate its own Redis.",
	})}
	if err := reg.Register(w.gauge); err != nil {
		return nil, err
	}
	return w, nil
}

// check asks Redis and returns the latest answer (the previous one if Redis cannot be
// asked now); ok is false while there is none. A change is logged once, at Warn, as
// is a check that starts failing.
func (w *evictWatch) check(ctx context.Context) (risk redisops.EvictionRisk, ok bool) {
	if w.rdb == nil {
		return risk, false
	}
	ctx, cancel := context.WithTimeout(ctx, readyTimeout)
	defer cancel()
	got, err := redisops.CheckEviction(ctx, w.rdb)
	w.mu.Lock()
	defer w.mu.Unlock()
	if err != nil {
		if !w.failing && ctx.Err() == nil {
			w.log.Warn("cannot tell whether redis may evict sagate's keys", zap.Error(err))
		}
		w.failing = true
		return w.risk, w.known
	}
	w.failing = false
	switch {
	case got.MayEvict && (!w.known || !w.risk.MayEvict):
		w.log.Warn(got.Warning()+"; sidecars answer 503 for keys whose record is missing meanwhile",
			zap.String("maxmemory_policy", got.Policy), zap.Int64("maxmemory", got.MaxMemory))
	case !got.MayEvict && w.known && w.risk.MayEvict:
		w.log.Warn("redis no longer may evict sagate's keys",
			zap.String("maxmemory_policy", got.Policy), zap.Int64("maxmemory", got.MaxMemory))
	}
	w.risk, w.known = got, true
	if got.MayEvict {
		w.gauge.Set(1)
	} else {
		w.gauge.Set(0)
	}
	return got, true
}

// run checks at once and every evictionCheckEvery until ctx ends.
func (w *evictWatch) run(ctx context.Context) {
	if w.rdb == nil {
		return
	}
	t := time.NewTicker(evictionCheckEvery)
	defer t.Stop()
	for {
		w.check(ctx)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
