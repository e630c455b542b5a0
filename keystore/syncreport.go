package keystore

import (
	"context"
	"errors"
	"net"
	"sync"
	"syscall"
)

// SyncState says whether the changes a caller committed have reached Redis.
type SyncState string

// Sync states of a SyncReport.
const (
	// SyncApplied: every committed change that touched a key reached Redis (or none touched one).
	SyncApplied SyncState = "applied"
	// SyncPending: a change is committed in the store but Redis did not take it; the
	// syncer retries (a full sync) until it does. Sidecars may act on the old state until then.
	SyncPending SyncState = "pending"
)

// Reasons a change is pending. They are safe to show to a client: never an address, a key or a hash.
const (
	SyncReasonUnreachable = "redis unreachable"
	SyncReasonFailed      = "redis sync failed"
)

// SyncReport collects the sync outcome of the mutations made with a context from
// WithSyncReport: a caller learns whether Redis took its change without every Service
// method returning it. It is safe for concurrent use.
type SyncReport struct {
	mu        sync.Mutex
	committed bool
	pending   bool
	reason    string
}

type syncReportKey struct{}

// WithSyncReport returns a context whose mutations record their sync outcome in the returned report.
func WithSyncReport(ctx context.Context) (context.Context, *SyncReport) {
	r := &SyncReport{}
	return context.WithValue(ctx, syncReportKey{}, r), r
}

// State is "" when nothing was committed (or the Service has no Syncer), SyncPending when
// any committed change did not reach Redis, else SyncApplied.
func (r *SyncReport) State() SyncState {
	r.mu.Lock()
	defer r.mu.Unlock()
	switch {
	case !r.committed:
		return ""
	case r.pending:
		return SyncPending
	}
	return SyncApplied
}

// Reason is why the state is SyncPending (SyncReasonUnreachable or SyncReasonFailed); "" otherwise.
func (r *SyncReport) Reason() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.reason
}

// recordSync records the outcome of one committed change in ctx's report, if any;
// syncErr is the Syncer's error (nil: Redis took it, or there was nothing to sync).
func recordSync(ctx context.Context, syncErr error) {
	r, ok := ctx.Value(syncReportKey{}).(*SyncReport)
	if !ok {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.committed = true
	if syncErr == nil {
		return
	}
	if !r.pending {
		r.pending, r.reason = true, syncReason(syncErr)
	}
}

// syncReason names the kind of a Syncer error in words safe for a client.
func syncReason(err error) string {
	var ne net.Error
	if errors.As(err, &ne) || errors.Is(err, context.DeadlineExceeded) ||
		errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.ECONNRESET) || errors.Is(err, net.ErrClosed) {
		return SyncReasonUnreachable
	}
	return SyncReasonFailed
}
