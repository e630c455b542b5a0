package redissync

import (
	"sync/atomic"

	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"
)

// backlog is the number of committed changes, by any admin on the store, that Redis has
// not confirmed for longer than revGrace: the outbox rows that old (keystore/outbox.go),
// counted by Run every EpochCheckInterval after it re-applied what it could. It is
// exported as the gauge sagate_sync_backlog and read by the admin's /readyz.
type backlog struct {
	n     atomic.Int64
	gauge prometheus.Gauge
}

func newBacklog(reg prometheus.Registerer, log *zap.Logger) *backlog {
	b := &backlog{gauge: prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "sagate_sync_backlog",
		Help: "Committed changes (by any admin on the store) that Redis has not confirmed for more than 2s: the store's outbox rows that old, counted every epoch check; 0 when Redis is in step with the store.",
	})}
	if reg != nil {
		b.gauge = register(reg, b.gauge, log)
	}
	return b
}

// set records the count read from the store.
func (b *backlog) set(n int64) {
	b.n.Store(n)
	b.gauge.Set(float64(n))
}

// Backlog returns how many committed changes Redis has not confirmed for more than 2s,
// as Run last counted them in the store (0 before Run's first check).
func (s *Syncer) Backlog() int64 { return s.backlog.n.Load() }
