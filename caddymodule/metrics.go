package caddymodule

import (
	"errors"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/sagate/sagate/keystore/keycache"
)

// result labels sagate_decisions_total.
type result uint8

const (
	resultAllowed result = iota
	resultNoKey
	resultInvalidToken
	resultForbidden
	resultBadRequest
	resultUnavailable
	resultRateLimited
	numResults
)

var resultNames = [numResults]string{"allowed", "no_key", "invalid_token", "forbidden", "bad_request", "unavailable", "rate_limited"}

// metrics are process-wide, like Caddy's own: they keep counting across config
// reloads, and each new config's registry gets the same collectors.
var metrics = struct {
	once      sync.Once
	decisions *prometheus.CounterVec
	byResult  [numResults]prometheus.Counter // resolved once: no label lookup per request
	verify    *durationHistogram
	eventLag  prometheus.Histogram
	cache     *cacheCollector
}{}

func initMetrics() {
	metrics.once.Do(func() {
		metrics.decisions = prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "sagate_decisions_total",
			Help: "Requests decided by the sagate handler, by result.",
		}, []string{"result"})
		for i, name := range resultNames {
			metrics.byResult[i] = metrics.decisions.WithLabelValues(name)
		}
		metrics.verify = newDurationHistogram("sagate_verify_duration_seconds",
			"Time the sagate handler took to decide on a request, before the next handler.",
			[verifyBuckets]time.Duration{
				time.Microsecond, 2500 * time.Nanosecond, 5 * time.Microsecond, 10 * time.Microsecond, 25 * time.Microsecond,
				100 * time.Microsecond, 500 * time.Microsecond, time.Millisecond, 5 * time.Millisecond, 25 * time.Millisecond,
				100 * time.Millisecond, 250 * time.Millisecond, time.Second,
			})
		metrics.eventLag = prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "sagate_event_lag_seconds",
			Help:    "Time from a key change's event entering Redis to this process's cache dropping the keys (millisecond resolution; includes clock skew between hosts).",
			Buckets: []float64{0.001, 0.002, 0.003, 0.005, 0.0075, 0.01, 0.015, 0.02, 0.03, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10},
		})
		metrics.cache = newCacheCollector()
	})
}

// registerMetrics puts sagate's collectors on reg. Several handlers of one config
// register the same collectors; that is not an error.
func registerMetrics(reg prometheus.Registerer) error {
	initMetrics()
	if reg == nil {
		return nil
	}
	for _, c := range []prometheus.Collector{metrics.decisions, metrics.verify, metrics.eventLag, metrics.cache} {
		if err := reg.Register(c); err != nil {
			var are prometheus.AlreadyRegisteredError
			if !errors.As(err, &are) {
				return err
			}
		}
	}
	return nil
}

// cacheCollector reports the counters of the process's key caches (keycache.Cache.Stats):
// those of the caches alive, plus what the closed ones had counted (retireCache), so
// that replacing a cache on a config reload never lowers a total, which Prometheus
// would read as a counter reset.
type cacheCollector struct {
	hits, misses, stale, negative, redisErrors, events, flushes, entries, lookups, slab, mayEvict *prometheus.Desc
	sigFailures, behind, older                                                                    *prometheus.Desc
}

func newCacheCollector() *cacheCollector {
	d := func(name, help string) *prometheus.Desc { return prometheus.NewDesc(name, help, nil, nil) }
	return &cacheCollector{
		hits:        d("sagate_cache_hits_total", "Lookups answered by a fresh local cache entry."),
		misses:      d("sagate_cache_misses_total", "Lookups that went to Redis."),
		stale:       d("sagate_cache_stale_total", "Lookups answered by a stale entry because Redis could not answer."),
		negative:    d("sagate_cache_negative_hits_total", "Lookups answered by a cached \"no such key\"."),
		redisErrors: d("sagate_redis_errors_total", "Redis commands of the key cache that failed."),
		events:      d("sagate_events_applied_total", "Change events from the admin applied to the local cache."),
		flushes:     d("sagate_cache_flushes_total", "Times the whole local cache was dropped (gap in events, new epoch)."),
		entries:     d("sagate_cache_entries", "Entries in the local key caches."),
		lookups:     d("sagate_redis_lookups_total", "Redis round trips of the miss path (concurrent misses share one: misses ÷ lookups is the batch size)."),
		slab:        d("sagate_cache_slab_bytes", "Memory of the cache slots in use, held outside the Go heap."),
		mayEvict: d("sagate_redis_may_evict", "1 while a Redis of the key caches may evict keys (maxmemory with a policy other than noeviction): "+
			"a missing key record then answers 503 instead of 401. Set maxmemory-policy noeviction or give sagate its own Redis."),
		sigFailures: prometheus.NewDesc("sagate_signature_failures_total",
			"Values read from Redis refused because no trusted signing key signed them (someone other than the admin wrote to Redis, or signing_keys lacks the admin's key), by kind: record, event, epoch, rev.",
			[]string{"kind"}, nil),
		behind: d("sagate_redis_behind_total", "Redis replies refused because Redis' revision marker was missing or lower than the highest revision this process had seen (Redis restored from an older state)."),
		older:  d("sagate_older_records_total", "Key records refused because this process had seen a newer record of the same key, or the key revoked: an older record the admin once signed, put back by someone who can write to Redis."),
	}
}

// Describe implements prometheus.Collector.
func (c *cacheCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{c.hits, c.misses, c.stale, c.negative, c.redisErrors, c.events, c.flushes, c.entries, c.lookups, c.slab, c.mayEvict, c.sigFailures, c.behind, c.older} {
		ch <- d
	}
}

// cacheCounters are the counters of keycache.Stats, summed over caches.
type cacheCounters struct {
	hits, misses, stale, negative, redisErrors, events, flushes, lookups, behind, older uint64
	sig                                                                                 keycache.SignatureFailures
}

// countersOf returns the counters of s.
func countersOf(s keycache.Stats) cacheCounters {
	return cacheCounters{
		hits: s.Hits, misses: s.Misses, stale: s.StaleAnswers, negative: s.NegativeHits,
		redisErrors: s.RedisErrors, events: s.EventsApplied, flushes: s.Flushes,
		lookups: s.Lookups, behind: s.RedisBehind, older: s.OlderRecords, sig: s.SignatureFailures,
	}
}

// add adds o's counters to c's.
func (c *cacheCounters) add(o cacheCounters) {
	c.hits += o.hits
	c.misses += o.misses
	c.stale += o.stale
	c.negative += o.negative
	c.redisErrors += o.redisErrors
	c.events += o.events
	c.flushes += o.flushes
	c.lookups += o.lookups
	c.behind += o.behind
	c.older += o.older
	c.sig.Records += o.sig.Records
	c.sig.Events += o.sig.Events
	c.sig.Epochs += o.sig.Epochs
	c.sig.Revs += o.sig.Revs
}

// atLeast raises each counter of c to o's where o's is higher.
func (c *cacheCounters) atLeast(o cacheCounters) {
	for _, p := range []struct{ c, o *uint64 }{
		{&c.hits, &o.hits}, {&c.misses, &o.misses}, {&c.stale, &o.stale}, {&c.negative, &o.negative},
		{&c.redisErrors, &o.redisErrors}, {&c.events, &o.events}, {&c.flushes, &o.flushes},
		{&c.lookups, &o.lookups}, {&c.behind, &o.behind}, {&c.older, &o.older}, {&c.sig.Records, &o.sig.Records},
		{&c.sig.Events, &o.sig.Events}, {&c.sig.Epochs, &o.sig.Epochs}, {&c.sig.Revs, &o.sig.Revs},
	} {
		*p.c = max(*p.c, *p.o)
	}
}

// cacheTotals holds what closed caches counted, and the totals last reported: a
// cache leaves the pool before its final counts are retired, and a scrape in
// between must not report less than the one before.
var cacheTotals struct {
	mu       sync.Mutex
	retired  cacheCounters
	reported cacheCounters
}

// retireCache keeps the counts of a cache that is being closed in the totals.
func retireCache(c *keycache.Cache) {
	s := c.Stats()
	cacheTotals.mu.Lock()
	defer cacheTotals.mu.Unlock()
	cacheTotals.retired.add(countersOf(s))
}

// Collect implements prometheus.Collector.
func (c *cacheCollector) Collect(ch chan<- prometheus.Metric) {
	var live cacheCounters
	var entries, slab int
	var mayEvict float64
	caches.Range(func(_, v any) bool {
		if sc, ok := v.(*sharedCache); ok {
			s := sc.cache.Stats()
			live.add(countersOf(s))
			entries += s.Entries
			slab += s.SlabBytes
			if s.RedisMayEvict {
				mayEvict = 1
			}
		}
		return true
	})
	cacheTotals.mu.Lock()
	t := cacheTotals.retired
	t.add(live)
	t.atLeast(cacheTotals.reported)
	cacheTotals.reported = t
	cacheTotals.mu.Unlock()

	counter := func(d *prometheus.Desc, v uint64) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, float64(v))
	}
	counter(c.hits, t.hits)
	counter(c.misses, t.misses)
	counter(c.stale, t.stale)
	counter(c.negative, t.negative)
	counter(c.redisErrors, t.redisErrors)
	counter(c.events, t.events)
	counter(c.flushes, t.flushes)
	counter(c.lookups, t.lookups)
	counter(c.behind, t.behind)
	counter(c.older, t.older)
	for kind, v := range map[string]uint64{"record": t.sig.Records, "event": t.sig.Events, "epoch": t.sig.Epochs, "rev": t.sig.Revs} {
		ch <- prometheus.MustNewConstMetric(c.sigFailures, prometheus.CounterValue, float64(v), kind)
	}
	ch <- prometheus.MustNewConstMetric(c.slab, prometheus.GaugeValue, float64(slab))
	ch <- prometheus.MustNewConstMetric(c.entries, prometheus.GaugeValue, float64(entries))
	ch <- prometheus.MustNewConstMetric(c.mayEvict, prometheus.GaugeValue, mayEvict)
}

// observeEventLag records how long a key change took to reach a cache
// (keycache.Config.EventLag).
func observeEventLag(d time.Duration) {
	initMetrics()
	metrics.eventLag.Observe(d.Seconds())
}

// verifyBuckets is the number of upper bounds of sagate_verify_duration_seconds.
const verifyBuckets = 13

// durationHistogram is a Prometheus histogram of durations, observed on every
// request: prometheus.Histogram without the float conversion, the binary search of
// the bounds and the compare-and-swap loop of the float sum. An observation is two
// atomic additions (its bucket and the sum, in nanoseconds) on one of a few shards,
// so that requests on several cores rarely share a cache line; the count is the sum
// of the buckets. A scrape reads each counter once: an observation made during it may
// be in the sum and not yet in its bucket, which prometheus.Histogram avoids at the
// cost of more atomics per observation.
type durationHistogram struct {
	desc   *prometheus.Desc
	bounds [verifyBuckets]time.Duration // upper bounds, ascending, read by every observation
	_      [64]byte                     // no shard on the cache line of the bounds
	shards [histogramShards]histogramShard
}

// histogramShards is the number of counter sets of a durationHistogram.
const histogramShards = 8

// histogramShard is one set of counters, 64 bytes away from the next: the counters of
// two shards never share a cache line, wherever the histogram was allocated.
type histogramShard struct {
	counts [verifyBuckets + 1]atomic.Uint64 // the last: above every bound (+Inf)
	sum    atomic.Int64                     // nanoseconds
	_      [64]byte
}

func newDurationHistogram(name, help string, bounds [verifyBuckets]time.Duration) *durationHistogram {
	return &durationHistogram{desc: prometheus.NewDesc(name, help, nil, nil), bounds: bounds}
}

// observe counts d, on the shard picked by spread: anything that differs between
// requests served at once, such as the address of the request.
func (h *durationHistogram) observe(d time.Duration, spread uintptr) {
	i := 0
	for i < len(h.bounds) && d > h.bounds[i] {
		i++
	}
	s := &h.shards[spread%histogramShards]
	s.counts[i].Add(1)
	s.sum.Add(int64(d))
}

// Describe implements prometheus.Collector.
func (h *durationHistogram) Describe(ch chan<- *prometheus.Desc) { ch <- h.desc }

// Collect implements prometheus.Collector.
func (h *durationHistogram) Collect(ch chan<- prometheus.Metric) {
	var counts [verifyBuckets + 1]uint64
	var sum int64
	for i := range h.shards {
		s := &h.shards[i]
		for j := range counts {
			counts[j] += s.counts[j].Load()
		}
		sum += s.sum.Load()
	}
	buckets := make(map[float64]uint64, len(h.bounds))
	var cum uint64
	for i, b := range h.bounds {
		cum += counts[i]
		buckets[b.Seconds()] = cum
	}
	ch <- prometheus.MustNewConstHistogram(h.desc, cum+counts[verifyBuckets], time.Duration(sum).Seconds(), buckets)
}
