package redissync

import (
	"errors"

	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"
)

// metrics are the sagate_sync_* collectors.
type metrics struct {
	duration    *prometheus.HistogramVec // label op: apply | reconcile
	redisErrors prometheus.Counter
	reconciles  *prometheus.CounterVec // label result: ok | error
	repaired    prometheus.Counter
	lastSuccess prometheus.Gauge
	forged      *prometheus.CounterVec // label kind: record | epoch | rev
}

func newMetrics(reg prometheus.Registerer, log *zap.Logger) *metrics {
	m := &metrics{
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "sagate_sync_duration_seconds",
			Help:    "Duration of Redis sync operations (apply: one committed change; reconcile: a full reconcile).",
			Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60},
		}, []string{"op"}),
		redisErrors: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "sagate_sync_redis_errors_total",
			Help: "Redis errors met while syncing the store to Redis.",
		}),
		reconciles: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "sagate_sync_reconciles_total",
			Help: "Full reconciles of Redis with the store, by result.",
		}, []string{"result"}),
		repaired: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "sagate_sync_records_repaired_total",
			Help: "Records a reconcile found different from the store and rewrote or removed.",
		}),
		lastSuccess: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "sagate_sync_last_success_timestamp_seconds",
			Help: "Unix time of the last successful apply or reconcile.",
		}),
		forged: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "sagate_sync_unverified_values_total",
			Help: "Values found in Redis that do not verify with the admin's signing key or carry a revision above the store's, by kind; each is rewritten from the store.",
		}, []string{"kind"}),
	}
	if reg == nil {
		return m
	}
	m.duration = register(reg, m.duration, log)
	m.redisErrors = register(reg, m.redisErrors, log)
	m.reconciles = register(reg, m.reconciles, log)
	m.repaired = register(reg, m.repaired, log)
	m.lastSuccess = register(reg, m.lastSuccess, log)
	m.forged = register(reg, m.forged, log)
	return m
}

// register registers c, or returns the collector already registered under its name
// (a second Syncer on the same registry shares the first one's metrics).
func register[T prometheus.Collector](reg prometheus.Registerer, c T, log *zap.Logger) T {
	err := reg.Register(c)
	if err == nil {
		return c
	}
	var are prometheus.AlreadyRegisteredError
	if errors.As(err, &are) {
		if existing, ok := are.ExistingCollector.(T); ok {
			return existing
		}
	}
	log.Warn("registering a sync metric", zap.Error(err))
	return c
}

func (m *metrics) success() { m.lastSuccess.SetToCurrentTime() }
