package keystore

import (
	"context"
	"fmt"
	"time"
)

// The sync outbox: every committed change that touched key records leaves a row in the
// store's table sync_pending (its revision and the hashes of its keys), written in the
// same transaction as the change. The admin whose Apply wrote the change to Redis
// deletes the row; a row that stays is a change Redis may lack (its admin died between
// the commit and Redis, or Redis refused the write), and any admin on the store
// re-applies it. The store and Redis alone tell every admin what is missing, whatever
// happened to the admin that committed it.

// PendingChange is a committed change that no admin has confirmed in Redis yet: one
// row of the outbox.
type PendingChange struct {
	Rev    int64     // the store revision of the commit
	Hashes []KeyHash // the keys whose Redis records the commit changed
}

// SyncOutbox is the store's side of the outbox. Ages are measured by the store's clock
// (the database server's for PostgreSQL), the one that stamped the rows, so that admins
// on hosts whose clocks differ agree on them.
type SyncOutbox interface {
	// PendingChanges returns up to limit pending changes recorded at least minAge ago,
	// lowest revision first.
	PendingChanges(ctx context.Context, minAge time.Duration, limit int) ([]PendingChange, error)
	// CountPending counts the pending changes recorded at least minAge ago.
	CountPending(ctx context.Context, minAge time.Duration) (int64, error)
	// ConfirmChanges deletes the pending changes of revs; revisions without one are ignored.
	ConfirmChanges(ctx context.Context, revs []int64) error
	// ConfirmChangesThrough deletes every pending change of revision rev or lower (a
	// full sync of a snapshot taken after rev was committed covers them).
	ConfirmChangesThrough(ctx context.Context, rev int64) error
}

// recordPending adds the outbox row of the mutation m to tx, when m changed key records
// and a Syncer is there to confirm it (a Service without one writes no Redis: offline
// tools and tests; the admin's full sync at start covers their changes).
func (s *Service) recordPending(ctx context.Context, tx Tx, m *mutation) error {
	if s.opts.Syncer == nil || len(m.hashes) == 0 {
		return nil
	}
	if err := tx.InsertSyncPending(ctx, m.hashes); err != nil {
		return fmt.Errorf("recording the change for redis: %w", err)
	}
	return nil
}
