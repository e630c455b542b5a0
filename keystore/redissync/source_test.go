package redissync

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"maps"
	"sync"
	"time"

	"github.com/sagate/sagate/keystore"
	"github.com/sagate/sagate/keystore/wire"
)

// memSource is an in-memory keystore.RecordSource: a store with a revision counter.
// Redis is never faked; only the store is.
type memSource struct {
	mu   sync.Mutex
	rev  int64
	recs map[keystore.KeyHash]wire.Record
	// ids keeps the identity of every key ever put, as a store keeps revoked keys.
	ids  map[keystore.KeyHash]wire.Record
	uses map[string]time.Time
	// useHook, when set, runs inside RecordKeyUse; its error is returned.
	useHook func() error
	// authErr, when set, fails AuthRecords.
	authErr error
	// pending is the outbox: revision → row (source_outbox_test.go).
	pending map[int64]memPending
	// scans counts the calls of ScanAuthRecords.
	scans int
}

func newMemSource() *memSource {
	return &memSource{recs: map[keystore.KeyHash]wire.Record{}, ids: map[keystore.KeyHash]wire.Record{},
		uses: map[string]time.Time{}, pending: map[int64]memPending{}}
}

// testHash returns a stable key hash for n.
func testHash(n int) keystore.KeyHash { return sha256.Sum256(fmt.Appendf(nil, "key-%d", n)) }

// testRecord returns a live record for key n.
func testRecord(n int) wire.Record {
	return wire.Record{
		KeyID: fmt.Sprintf("key_%d", n), SAID: fmt.Sprintf("sa_%d", n/3), SA: fmt.Sprintf("bot-%d@ws", n/3),
		Workspace: "ws", State: keystore.KeyActive, Roles: map[string]keystore.Role{"*": keystore.RoleViewer},
	}
}

// put commits r for h and returns the new revision.
func (m *memSource) put(h keystore.KeyHash, r wire.Record) int64 {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.rev++
	m.recs[h] = r
	m.ids[h] = r
	return m.rev
}

// remove commits the removal of h (revoked, deleted) and returns the new revision.
func (m *memSource) remove(h keystore.KeyHash) int64 {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.rev++
	delete(m.recs, h)
	return m.rev
}

// edit sets h's record without a new revision, as a hand-made edit of a store's tables.
func (m *memSource) edit(h keystore.KeyHash, r wire.Record) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.recs[h] = r
}

// scanCount is the number of ScanAuthRecords calls so far.
func (m *memSource) scanCount() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.scans
}

// snapshot returns the live records and the current revision.
func (m *memSource) snapshot() (map[keystore.KeyHash]wire.Record, int64) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return maps.Clone(m.recs), m.rev
}

func (m *memSource) AuthRecords(ctx context.Context, hashes []keystore.KeyHash) (map[keystore.KeyHash]wire.Record, int64, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.authErr != nil {
		return nil, 0, m.authErr
	}
	out := make(map[keystore.KeyHash]wire.Record, len(hashes))
	for _, h := range hashes {
		if r, ok := m.recs[h]; ok {
			r.Rev = m.rev
			out[h] = r
		}
	}
	return out, m.rev, nil
}

func (m *memSource) ScanAuthRecords(ctx context.Context, fn func(keystore.KeyHash, wire.Record) error) error {
	m.mu.Lock()
	err := m.authErr
	m.scans++
	m.mu.Unlock()
	if err != nil {
		return err // a store that is down fails its scan too
	}
	recs, rev := m.snapshot()
	for h, r := range recs {
		r.Rev = rev
		if err := fn(h, r); err != nil {
			return err
		}
	}
	return nil
}

func (m *memSource) RecordKeyUse(ctx context.Context, uses map[string]time.Time) error {
	m.mu.Lock()
	hook := m.useHook
	m.mu.Unlock()
	if hook != nil {
		if err := hook(); err != nil {
			return err
		}
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	for id, t := range uses {
		if t.After(m.uses[id]) {
			m.uses[id] = t
		}
	}
	return nil
}

func (m *memSource) Revision(ctx context.Context) (int64, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.authErr != nil {
		return 0, m.authErr
	}
	return m.rev, nil
}

func (m *memSource) KeyIdentities(ctx context.Context, hashes []keystore.KeyHash) (map[keystore.KeyHash]wire.Record, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.authErr != nil {
		return nil, m.authErr
	}
	out := make(map[keystore.KeyHash]wire.Record)
	for _, h := range hashes {
		if r, ok := m.ids[h]; ok {
			out[h] = wire.Record{KeyID: r.KeyID, SAID: r.SAID, SA: r.SA, Workspace: r.Workspace}
		}
	}
	return out, nil
}

func (m *memSource) usesCopy() map[string]time.Time {
	m.mu.Lock()
	defer m.mu.Unlock()
	return maps.Clone(m.uses)
}

// NextExpiry implements keystore.ExpiryReporter: memSource announces no expiry, so it
// is the earliest expiry among its live records.
func (m *memSource) NextExpiry(ctx context.Context) (time.Time, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.authErr != nil {
		return time.Time{}, m.authErr
	}
	var next time.Time
	for _, r := range m.recs {
		if at := time.UnixMilli(r.Exp); r.Exp > 0 && (next.IsZero() || at.Before(next)) {
			next = at
		}
	}
	return next, nil
}

var errStoreDown = errors.New("store down")

var (
	_ keystore.RecordSource   = (*memSource)(nil)
	_ keystore.ExpiryReporter = (*memSource)(nil)
)
