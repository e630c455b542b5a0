package redissync

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"
	"go.uber.org/zap"

	"github.com/sagate/sagate/keystore"
	"github.com/sagate/sagate/keystore/wire"
)

// Config configures a Syncer. Zero values take the defaults given.
type Config struct {
	// SigningKey seals every record, tombstone and marker and signs every event the
	// Syncer writes; sidecars trust its public half. Required. What Redis holds is checked
	// against this key only: after a change of key the first full sync (Run's start)
	// rewrites everything with the new one.
	SigningKey wire.SigningKey
	// EventsMaxLen is the approximate length of the events stream. Default: wire.DefaultEventsMaxLen.
	EventsMaxLen int64
	// ReconcileInterval is how often a full reconcile repairs Redis from the store. Default: 5m.
	ReconcileInterval time.Duration
	// EpochCheckInterval is how often the epoch marker is checked; a missing marker triggers a full sync. Default: 1s.
	EpochCheckInterval time.Duration
	// UsageFoldInterval is how often sidecars' last-used reports are folded into the store. Default: 30s.
	UsageFoldInterval time.Duration
	// ExpiryCheckInterval is the longest Run waits before looking for keys whose expiry
	// is still to announce (expiry.go); it wakes sooner for an expiry it knows of.
	// Default: DefaultExpiryCheckInterval.
	ExpiryCheckInterval time.Duration
	// ApplyTimeout bounds the Redis writes of one Apply. Apply does not follow the
	// cancellation of its caller's context (a client that hangs up must not leave a
	// committed change half-written), only this bound. Default: 5s.
	ApplyTimeout time.Duration
	// ReplicaTimeout is how long a write waits for a replica to acknowledge it (WAIT),
	// where the primary has replicas on Sentinel (replicas.go); past it the change is
	// pending. Default: DefaultReplicaTimeout.
	ReplicaTimeout time.Duration
	// SingleSeals seals every record on its own, one signature each, as sidecars that
	// predate group seals need (docs/deployment.md, "Upgrading"). Default false: records
	// written together are sealed in groups of wire.MaxTreeLeaves under one signature.
	SingleSeals bool
	// Logger; nil: zap.NewNop(). It is never given a key or a key hash.
	Logger *zap.Logger
	// Registerer for sagate_sync_* metrics; nil: not registered.
	Registerer prometheus.Registerer
}

// Defaults of Config.
const (
	DefaultReconcileInterval   = 5 * time.Minute
	DefaultEpochCheckInterval  = time.Second
	DefaultUsageFoldInterval   = 30 * time.Second
	DefaultApplyTimeout        = 5 * time.Second
	DefaultExpiryCheckInterval = time.Minute
)

// ErrNoEpoch is returned by Ready while Redis holds no epoch marker: it is empty or a
// full sync has not finished, and sidecars cannot tell a valid key from an unknown one.
var ErrNoEpoch = errors.New("redis holds no epoch marker: full sync not finished")

// ReconcileStats reports what a full reconcile did.
type ReconcileStats struct {
	// Written counts live records written; Removed, records replaced by tombstones and
	// keys that were not records at all (deleted); Unchanged, records left as they were
	// (equal to the store, already a tombstone, or newer than what was read).
	Written, Removed, Unchanged int
	// Checked counts the keys a repair compared exactly (sealing or verifying afresh):
	// those whose fingerprint or digest did not match (digest.go).
	Checked int
	// StoreScanned: a repair read every live record of the store to compare them (step
	// 1 of the pass); false when the store had not moved since the last such scan.
	StoreScanned bool
	// NewEpoch: Redis had no epoch marker (or a fresh one was forced), so this was a
	// full sync that wrote a new epoch and published a resync event.
	NewEpoch bool
	Duration time.Duration
}

// Syncer writes the store's state to Redis. It implements keystore.Syncer and is safe for concurrent use.
type Syncer struct {
	rdb redis.UniversalClient
	src keystore.RecordSource
	cfg Config
	key wire.SigningKey
	ver *wire.Verifier
	log *zap.Logger
	m   *metrics

	// mu is held around each repair batch ("read the store, compare, write Redis,
	// publish") and the epoch's setting, which it keeps in order with each other. Apply
	// and the full sync's writes do not take it: every write is rev-checked (docs/protocol.md, "Invariants").
	mu sync.Mutex
	// syncMu lets one reconcile run at a time (Run's and a direct Reconcile call).
	syncMu sync.Mutex
	// dirty wakes Run after a failed Apply; needFull says a fresh full sync is owed
	// because some records or events may not have reached Redis.
	dirty    chan struct{}
	needFull atomic.Bool
	// expiryWake asks Run to look for the next expiry to announce again (expiry.go).
	expiryWake chan struct{}
	// epoch is the epoch marker last read or written, carried by Apply's events.
	epoch atomic.Pointer[string]
	// backlog counts the changes Redis has not confirmed (backlog.go).
	backlog *backlog
	// confirm deletes the outbox rows of successful Applies (outbox.go).
	confirm *confirmer
	// shards is the Cluster's slot map as the shard revision markers follow it
	// (markers.go); nil on a single server or Sentinel, and until first read.
	shards atomic.Pointer[wire.Shards]
	// floor is the highest RedisRev this Syncer has raised or read verified since its
	// last full sync: a revision marker below it lost writes (markers.go).
	floor atomic.Int64
	// adminUses holds the uses of sak_ keys against the admin (NoteKeyUse), key id →
	// latest time, until the next fold writes them with the sidecars' reports.
	adminUses adminUses
	// fullSyncs counts the full syncs started (raised: markers.go); lostWarned is the
	// UnixNano of raised's last warning.
	fullSyncs  atomic.Uint64
	lostWarned atomic.Int64
	// markerChecks counts Run's completed marker checks, so that a test can wait for
	// checks instead of sleeping.
	markerChecks atomic.Uint64
	// written and watchSt are the watch's (watch.go): the values this Syncer last
	// wrote, and what the watch reports.
	written *writtenSet
	watchSt *watchState
	// digests is what the periodic repair compares instead of sealing (digest.go).
	digests *digestSet
	// replicas is how many replicas a write waits for (replicas.go), known once
	// primaryKnown; unguardedWarned: the missing min-replicas-to-write was logged.
	replicas        atomic.Int32
	primaryKnown    atomic.Bool
	unguardedWarned atomic.Bool
	// durable is the store's revision that Redis must hold (durable.go).
	durable durable
}

var _ keystore.Syncer = (*Syncer)(nil)

// ErrNoSigningKey is returned by New without Config.SigningKey.
var ErrNoSigningKey = errors.New("redis sync: a signing key is required (Config.SigningKey)")

// New returns a Syncer writing to rdb from src.
func New(rdb redis.UniversalClient, src keystore.RecordSource, cfg Config) (*Syncer, error) {
	if !cfg.SigningKey.Valid() {
		return nil, ErrNoSigningKey
	}
	if cfg.EventsMaxLen <= 0 {
		cfg.EventsMaxLen = wire.DefaultEventsMaxLen
	}
	if cfg.ReconcileInterval <= 0 {
		cfg.ReconcileInterval = DefaultReconcileInterval
	}
	if cfg.EpochCheckInterval <= 0 {
		cfg.EpochCheckInterval = DefaultEpochCheckInterval
	}
	if cfg.UsageFoldInterval <= 0 {
		cfg.UsageFoldInterval = DefaultUsageFoldInterval
	}
	if cfg.ExpiryCheckInterval <= 0 {
		cfg.ExpiryCheckInterval = DefaultExpiryCheckInterval
	}
	if cfg.ApplyTimeout <= 0 {
		cfg.ApplyTimeout = DefaultApplyTimeout
	}
	if cfg.ReplicaTimeout <= 0 {
		cfg.ReplicaTimeout = DefaultReplicaTimeout
	}
	log := cfg.Logger
	if log == nil {
		log = zap.NewNop()
	}
	return &Syncer{
		rdb:        rdb,
		src:        src,
		cfg:        cfg,
		key:        cfg.SigningKey,
		ver:        wire.NewVerifier(cfg.SigningKey.Public()),
		log:        log,
		m:          newMetrics(cfg.Registerer, log),
		dirty:      make(chan struct{}, 1),
		expiryWake: make(chan struct{}, 1),
		backlog:    newBacklog(cfg.Registerer, log),
		confirm:    &confirmer{src: src, log: log},
		written:    newWrittenSet(),
		digests:    newDigestSet(),
		watchSt:    newWatchState(cfg.Registerer, log),
	}, nil
}

// Ready reports whether Redis answers and holds an epoch marker this Syncer signed (for /readyz).
func (s *Syncer) Ready(ctx context.Context) error {
	e, err := s.readEpoch(ctx)
	if err != nil {
		return err
	}
	if e == "" {
		return ErrNoEpoch
	}
	return nil
}

// readEpoch returns the text of the epoch marker, "" when it is missing or does not
// verify (written by something other than this admin: a full sync replaces it).
func (s *Syncer) readEpoch(ctx context.Context) (string, error) {
	e, err := s.rdb.Get(ctx, wire.RedisEpoch).Result()
	if err != nil && !errors.Is(err, redis.Nil) {
		return "", fmt.Errorf("reading the epoch marker: %w", err)
	}
	text := s.openEpoch(e)
	s.noteEpoch(text)
	return text, nil
}

// openEpoch returns the text of a sealed epoch marker, "" when sealed is empty or does
// not verify.
func (s *Syncer) openEpoch(sealed string) string {
	if sealed == "" {
		return ""
	}
	text, err := wire.OpenMarker(s.ver, wire.DomainEpoch, sealed)
	if err != nil {
		s.m.forged.WithLabelValues("epoch").Inc()
		return ""
	}
	return text
}

// markDirty records that Redis may lack a committed change and wakes Run, which then
// runs a full sync with a new epoch (so sidecars also drop what a lost event would have told them).
func (s *Syncer) markDirty() {
	s.needFull.Store(true)
	select {
	case s.dirty <- struct{}{}:
	default:
	}
}

// publish appends events of kind for hashes, at most maxEventHashes per event.
func (s *Syncer) publish(ctx context.Context, kind string, rev int64, epoch string, hashes []keystore.KeyHash) error {
	for len(hashes) > 0 {
		n := min(len(hashes), maxEventHashes)
		e := wire.Event{Kind: kind, Rev: rev, Epoch: epoch, Hashes: hashes[:n]}
		wire.SignEvent(s.key, &e)
		if _, _, err := wire.PublishEvent(ctx, s.rdb, e, s.cfg.EventsMaxLen); err != nil {
			return err
		}
		hashes = hashes[n:]
	}
	return nil
}

// noteWrites remembers ws, once sent, for the watch and for the repair's comparisons.
func (s *Syncer) noteWrites(ws []write) {
	s.written.note(ws)
	s.digests.note(ws)
}
