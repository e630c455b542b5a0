// Package redissync is the admin's side of the Redis sync: it writes key records and
// change events after each durable commit, runs full reconciles (at start, periodically,
// and whenever the epoch marker is missing), and folds sidecars' last-used reports back
// into the store.
//
// CONTRACT STUB: the exported API below is what admin/ builds on; the bodies are being
// implemented, the signatures are fixed.
package redissync

import (
	"context"
	"errors"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"
	"go.uber.org/zap"

	"github.com/sagate/sagate/keystore"
)

// Config configures a Syncer. Zero values take the defaults given.
type Config struct {
	// EventsMaxLen is the approximate length of the events stream. Default: keystore.DefaultEventsMaxLen.
	EventsMaxLen int64
	// ReconcileInterval is how often a full reconcile repairs Redis from the store. Default: 5m.
	ReconcileInterval time.Duration
	// EpochCheckInterval is how often the epoch marker is checked; a missing marker triggers a full sync. Default: 1s.
	EpochCheckInterval time.Duration
	// UsageFoldInterval is how often sidecars' last-used reports are folded into the store. Default: 30s.
	UsageFoldInterval time.Duration
	// Logger; nil: zap.NewNop().
	Logger *zap.Logger
	// Registerer for sagate_sync_* metrics; nil: not registered.
	Registerer prometheus.Registerer
}

// ReconcileStats reports what a full reconcile did.
type ReconcileStats struct {
	Written, Removed, Unchanged int
	NewEpoch                    bool
	Duration                    time.Duration
}

// Syncer writes the store's state to Redis. It implements keystore.Syncer and is safe for concurrent use.
type Syncer struct{}

var _ keystore.Syncer = (*Syncer)(nil)

// New returns a Syncer writing to rdb from src.
func New(rdb redis.UniversalClient, src keystore.RecordSource, cfg Config) *Syncer { return &Syncer{} }

// Apply writes the records of c's keys, then publishes one event.
func (s *Syncer) Apply(ctx context.Context, c keystore.Change) error { return errors.New("not implemented") }

// Run does a full reconcile, then watches the epoch, reconciles periodically and folds usage, until ctx ends.
func (s *Syncer) Run(ctx context.Context) {}

// Reconcile makes Redis match the store.
func (s *Syncer) Reconcile(ctx context.Context) (ReconcileStats, error) {
	return ReconcileStats{}, errors.New("not implemented")
}

// Ready reports whether Redis answers and holds an epoch marker.
func (s *Syncer) Ready(ctx context.Context) error { return errors.New("not implemented") }
