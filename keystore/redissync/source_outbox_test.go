package redissync

import (
	"context"
	"maps"
	"math"
	"slices"
	"time"

	"github.com/sagate/sagate/keystore"
)

// memPending is an outbox row of memSource.
type memPending struct {
	hashes []keystore.KeyHash
	at     time.Time
}

// removePending commits the removal of h with its outbox row, as the Service does, and
// returns the new revision.
func (m *memSource) removePending(h keystore.KeyHash) int64 {
	rev := m.remove(h)
	m.mu.Lock()
	defer m.mu.Unlock()
	m.pending[rev] = memPending{hashes: []keystore.KeyHash{h}, at: time.Now()}
	return rev
}

// pendingRevs returns the revisions in the outbox, in order.
func (m *memSource) pendingRevs() []int64 {
	m.mu.Lock()
	defer m.mu.Unlock()
	return slices.Sorted(maps.Keys(m.pending))
}

func (m *memSource) PendingChanges(ctx context.Context, minAge time.Duration, limit int) ([]keystore.PendingChange, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.authErr != nil {
		return nil, m.authErr
	}
	var out []keystore.PendingChange
	for _, rev := range slices.Sorted(maps.Keys(m.pending)) {
		if p := m.pending[rev]; time.Since(p.at) >= minAge && len(out) < limit {
			out = append(out, keystore.PendingChange{Rev: rev, Hashes: p.hashes})
		}
	}
	return out, nil
}

func (m *memSource) CountPending(ctx context.Context, minAge time.Duration) (int64, error) {
	ps, err := m.PendingChanges(ctx, minAge, math.MaxInt)
	return int64(len(ps)), err
}

func (m *memSource) ConfirmChanges(ctx context.Context, revs []int64) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.authErr != nil {
		return m.authErr
	}
	for _, r := range revs {
		delete(m.pending, r)
	}
	return nil
}

func (m *memSource) ConfirmChangesThrough(ctx context.Context, rev int64) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.authErr != nil {
		return m.authErr
	}
	maps.DeleteFunc(m.pending, func(r int64, _ memPending) bool { return r <= rev })
	return nil
}

// genSource has no outbox: it commits nothing.

func (g *genSource) PendingChanges(context.Context, time.Duration, int) ([]keystore.PendingChange, error) {
	return nil, nil
}

func (g *genSource) CountPending(context.Context, time.Duration) (int64, error) { return 0, nil }

func (g *genSource) ConfirmChanges(context.Context, []int64) error { return nil }

func (g *genSource) ConfirmChangesThrough(context.Context, int64) error { return nil }
