package redissync

import (
	"sync/atomic"

	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"
)

// backlog counts committed changes that Redis has not confirmed: raised by every failed
// Apply (markDirty), lowered by the full sync that covers them. It is exported as the
// gauge sagate_sync_backlog and read by the admin's /readyz.
type backlog struct {
	n     atomic.Int64
	gauge prometheus.Gauge
}

func newBacklog(reg prometheus.Registerer, log *zap.Logger) *backlog {
	b := &backlog{gauge: prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "sagate_sync_backlog",
		Help: "Committed changes Redis has not taken yet (failed applies since the last full sync that repaired Redis); 0 when Redis is in step with the store.",
	})}
	if reg != nil {
		b.gauge = register(reg, b.gauge, log)
	}
	return b
}

// add counts one change Redis did not take. It runs before needFull is set, so that a
// full sync that clears needFull after it also counts the change as covered.
func (b *backlog) add() { b.gauge.Set(float64(b.n.Add(1))) }

// covered returns the count a full sync starting now covers: read after needFull is
// cleared and before the store is scanned, every change counted so far was committed
// before the scan.
func (b *backlog) covered() int64 { return b.n.Load() }

// drain lowers the count by what a successful full sync covered.
func (b *backlog) drain(covered int64) {
	if covered > 0 {
		b.gauge.Set(float64(b.n.Add(-covered)))
	}
}

// Backlog returns how many committed changes Redis has not taken yet: failed Applies
// since the last full sync that covered them. 0 when Redis is in step with the store.
func (s *Syncer) Backlog() int64 { return s.backlog.n.Load() }
