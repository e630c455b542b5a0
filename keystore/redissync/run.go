package redissync

import (
	"context"
	"sync"
	"time"

	"go.uber.org/zap"

	"github.com/sagate/sagate/keystore"
)

// Retry bounds of Run after a failed sync.
const (
	retryMin = 250 * time.Millisecond
	retryMax = 30 * time.Second
)

// revGrace is how long Redis' revision marker may stay below a committed revision
// before Run concludes that Redis lacks that change (and not that an Apply is in flight).
const revGrace = 2 * time.Second

// Run keeps Redis in sync until ctx ends, then returns. Its goroutines (one deletes the
// outbox rows of successful Applies every 100ms, outbox.go; one watches for writes by
// others, watch.go) end before Run returns, the first after a last deletion.
//
// It first does a full sync with a new epoch (retrying with backoff while Redis or the
// store is down): a restarted admin cannot know which events its predecessor failed to
// publish, so sidecars are told to drop their caches once Redis is complete. Then:
//   - every EpochCheckInterval it re-applies the store's outbox rows older than revGrace
//     (changes any admin committed and Redis has not confirmed: their admin died before
//     writing Redis, or Redis refused the write), and counts those left (Backlog);
//   - every EpochCheckInterval it reads the epoch and revision markers and the store's
//     revision; a missing or unverifiable epoch (Redis restarted empty or flushed, or
//     written by someone else) or an unverifiable revision marker starts a full sync at
//     once, and so does a revision marker that stays below a revision the store had
//     committed for longer than revGrace (Redis came back older: restarted from a
//     snapshot, a replica promoted with lag, or an admin committed and died before
//     writing Redis);
//   - every ReconcileInterval it reconciles (compare and repair);
//   - after a failed Apply it runs a full sync with a new epoch, at once when Redis
//     answers again, else with backoff (250ms doubling to 30s);
//   - at each key's expiry (at the latest every ExpiryCheckInterval) it announces the
//     keys whose expiry has passed (expiry.go);
//   - every UsageFoldInterval it folds sidecars' last-used times into the store;
//   - all along, a second goroutine watches Redis' keyspace notifications and repairs
//     within about a second any record key written by someone else (watch.go).
func (s *Syncer) Run(ctx context.Context) {
	var wg sync.WaitGroup
	confirmCtx, stopConfirm := context.WithCancel(ctx)
	wg.Go(func() { s.confirm.run(confirmCtx) })
	wg.Go(func() { s.watch(confirmCtx) })
	defer func() {
		stopConfirm()
		wg.Wait()
	}()
	epochT := time.NewTicker(s.cfg.EpochCheckInterval)
	defer epochT.Stop()
	reconcileT := time.NewTicker(s.cfg.ReconcileInterval)
	defer reconcileT.Stop()
	usageT := time.NewTicker(s.cfg.UsageFoldInterval)
	defer usageT.Stop()
	retry := time.NewTimer(0) // the initial sync
	defer retry.Stop()
	// Expiry announcements (expiry.go), when the source can make them; expiryT is
	// stopped (and its channel left unused) when it cannot.
	ea, _ := s.src.(keystore.ExpiryAnnouncer)
	expiryT := time.NewTimer(0)
	defer expiryT.Stop()
	expiryWake := s.expiryWake
	if ea == nil {
		expiryT.Stop()
		expiryWake = nil
	}

	r := runState{s: s, retry: retry, armed: true, pendingFull: true, redisUp: true}
	for {
		select {
		case <-ctx.Done():
			return
		case <-retry.C:
			r.armed = false
			r.attempt(ctx)
		case <-s.dirty:
			// needFull, not the wake-up, says whether a full sync is owed: a full sync
			// that started after markDirty cleared it and covers the failed change,
			// but leaves the wake-up behind; taking that for a new loss would run a
			// second full sync (a second flush of every sidecar's cache) for one loss.
			if !s.needFull.Load() {
				continue
			}
			r.pendingFull = true
			if !r.armed {
				r.arm(max(r.backoff, retryMin))
			}
		case <-epochT.C:
			r.checkEpoch(ctx)
			r.checkPending(ctx)
			s.markerChecks.Add(1)
		case <-reconcileT.C:
			r.pendingRepair = true
			if !r.armed {
				r.attempt(ctx)
			}
		case <-expiryT.C:
			expiryT.Reset(s.announceExpiries(ctx, ea))
		case <-expiryWake:
			expiryT.Reset(0)
		case <-usageT.C:
			if err := s.foldUsage(ctx); err != nil && ctx.Err() == nil {
				s.log.Warn("redis sync: folding last-used times failed", zap.Error(err))
			}
		}
	}
}

// runState is Run's bookkeeping; used by Run's goroutine only.
type runState struct {
	s     *Syncer
	retry *time.Timer
	armed bool // retry is scheduled

	pendingFull   bool // a full sync with a new epoch is owed
	pendingRepair bool // a compare-and-repair reconcile is owed
	backoff       time.Duration
	redisUp       bool // the last epoch check got an answer

	// lagRev is a store revision the revision marker was below at lagSince (0: none).
	lagRev   int64
	lagSince time.Time
}

func (r *runState) arm(d time.Duration) {
	r.retry.Reset(d)
	r.armed = true
}

// attempt runs the owed sync; on failure it schedules a retry with backoff.
func (r *runState) attempt(ctx context.Context) {
	if r.s.needFull.Load() {
		r.pendingFull = true
	}
	if !r.pendingFull && !r.pendingRepair {
		return
	}
	if r.armed {
		r.retry.Stop()
		r.armed = false
	}
	_, err := r.s.reconcile(ctx, r.pendingFull)
	if ctx.Err() != nil {
		return
	}
	if err != nil {
		r.backoff = min(max(2*r.backoff, retryMin), retryMax)
		r.s.log.Warn("redis sync: reconcile failed; will retry",
			zap.Duration("retry_in", r.backoff), zap.Error(err))
		r.arm(r.backoff)
		return
	}
	r.pendingFull, r.pendingRepair, r.backoff = false, false, 0
	if r.s.needFull.Load() { // an Apply failed while we synced
		r.pendingFull = true
		r.arm(retryMin)
	}
}

// checkEpoch reads the markers. A missing or unverifiable marker, or a revision marker
// that stays behind the store (behind), needs a full sync now; Redis answering again
// after an outage lets an owed sync run without waiting for its backoff.
func (r *runState) checkEpoch(ctx context.Context) {
	if err := r.s.refreshShards(ctx); err != nil {
		r.redisUp = false
		return
	}
	if err := r.s.checkPrimary(ctx); err != nil {
		r.redisUp = false
		return
	}
	m, err := r.s.readMarkers(ctx)
	if err != nil {
		r.redisUp = false
		return
	}
	wasDown := !r.redisUp
	r.redisUp = true
	if m.lost && m.epoch != "" && !m.forged {
		r.s.log.Warn("redis sync: redis lost committed changes (restarted from a snapshot, a replica promoted with lag, a cluster shard that lost writes or restarted empty, or slots moved); full sync with a new epoch",
			zap.Int64("redis_rev", m.rev), zap.Int64("redis_rev_seen", max(m.globalRev, r.s.floor.Load())), zap.Int64("store_rev", m.storeRev))
	}
	full := m.epoch == "" || m.forged || m.lost || r.behind(m)
	if !full {
		if err := r.s.sampleDurable(ctx); err != nil && ctx.Err() == nil {
			r.s.log.Warn("redis sync: reading the store's confirmed revision failed", zap.Error(err))
		}
	}
	if full {
		r.pendingFull = true
	}
	if full || (wasDown && (r.pendingFull || r.pendingRepair)) {
		r.attempt(ctx)
	}
}

// behind reports whether the revision marker has stayed below a revision the store had
// committed for revGrace, and logs it; it tracks one such revision at a time.
func (r *runState) behind(m markers) bool {
	at := now()
	if r.lagRev != 0 && m.rev >= r.lagRev {
		r.lagRev = 0 // caught up
	}
	if r.lagRev == 0 {
		if m.rev < m.storeRev {
			r.lagRev, r.lagSince = m.storeRev, at
		}
		return false
	}
	if at.Sub(r.lagSince) < revGrace {
		return false
	}
	r.s.log.Warn("redis sync: redis lacks committed changes (restarted from a snapshot, a lagging replica, or an admin that did not write them); full sync with a new epoch",
		zap.Int64("redis_rev", m.rev), zap.Int64("store_rev", m.storeRev), zap.Duration("behind_for", at.Sub(r.lagSince)))
	r.lagRev = 0
	return true
}
