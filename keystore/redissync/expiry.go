package redissync

import (
	"context"
	"time"

	"go.uber.org/zap"

	"github.com/sagate/sagate/keystore"
)

// Expiry announcements. A sidecar refuses an expired key on its own clock; a sidecar
// whose clock lags would let it in for as long as the lag. So Run also announces each
// expiry, when the source is a keystore.ExpiryAnnouncer (both SQL stores are): at a
// key's expiry it commits the announcement in the store (a new revision with its outbox
// row) and applies it like any change, which writes the key's tombstone and publishes
// an event that flags the key gone. A sidecar that receives the event refuses the key
// whatever its clock says. A failed Apply is repaired as any other: the outbox row
// stays and Run re-applies it once Redis answers, and the full sync it owes writes the
// tombstone too.
//
// Run wakes at the earliest expiry still to announce, at the latest after
// Config.ExpiryCheckInterval (a key issued through another admin on the same store is
// seen within it), and after each Apply of this Syncer (a key just issued here may
// expire sooner than the wake-up set). Two admins on one store announce each key once:
// the store marks it announced in the transaction that takes the revision.

// expiryRetry is the wait after a failed announcement (the store did not answer).
const expiryRetry = time.Second

// minExpiryWait keeps Run from spinning on an expiry a few microseconds ahead.
const minExpiryWait = 5 * time.Millisecond

// announceExpiries announces every expiry that has passed and returns how long to wait
// before the next call.
func (s *Syncer) announceExpiries(ctx context.Context, ea keystore.ExpiryAnnouncer) time.Duration {
	for {
		// Bounded: Run's other duties wait while this runs.
		actx, cancel := context.WithTimeout(ctx, s.cfg.ApplyTimeout)
		c, next, err := ea.AnnounceExpiries(actx, maxEventHashes)
		cancel()
		if err != nil {
			if ctx.Err() == nil {
				s.log.Warn("redis sync: announcing expired keys failed; will retry", zap.Duration("retry_in", expiryRetry), zap.Error(err))
			}
			return expiryRetry
		}
		if len(c.Hashes) > 0 {
			if err := s.Apply(ctx, c); err != nil {
				s.log.Warn("redis sync: writing the tombstones of expired keys failed; the outbox repairs it",
					zap.Int64("rev", c.Rev), zap.Int("keys", len(c.Hashes)), zap.Error(err))
			} else {
				s.log.Info("redis sync: expiry announced", zap.Int64("rev", c.Rev), zap.Int("keys", len(c.Hashes)))
			}
			if !next.IsZero() && !next.After(now()) {
				continue // more than one batch was due
			}
		}
		wait := s.cfg.ExpiryCheckInterval
		if !next.IsZero() {
			wait = min(wait, next.Sub(now()))
		}
		return max(wait, minExpiryWait)
	}
}

// wakeExpiry asks Run to look for the next expiry again.
func (s *Syncer) wakeExpiry() {
	select {
	case s.expiryWake <- struct{}{}:
	default:
	}
}
