package redissync

import (
	"time"

	"github.com/sagate/sagate/keystore"
)

// Skipping the store's scan. The first step of a repair pass reads every live record
// of the store (compareStore): at 10 million keys, the largest part of a pass. The
// store's revision tells when that is needless: every commit that changes a record (its
// content, or whether the key is live) takes a new revision, one more than the last,
// and this Syncer is told of each commit it makes (Apply with the change's keys,
// NoteRevision for a commit that changed none), of each expiry it announces, and of
// each change it re-applies from the outbox. After a complete pass that scanned the
// store at revision R, the entries it confirmed are flagged flagLive. A later pass at
// revision R' ≥ R skips the scan when:
//
//   - this Syncer was told of every revision in (R, R'] (another admin's commit, one
//     not applied yet, or more than maxLoggedKeys keys changed: the pass scans); the
//     keys of those changes lose flagLive and are checked exactly, and R' becomes R;
//   - no key has expired without its expiry announced (keystore.ExpiryReporter): an
//     announcement is a change like any other, but until it is made the expired key
//     has left the live records with no revision;
//   - the last scan is less than maxQuietAge old.
//
// The entries flagged flagLive then are what the scan would confirm. What Redis holds is
// compared on every pass, whether the store was scanned or not.

// maxQuietAge is how long a repair pass may go without scanning the store: past it, the
// pass scans again. It bounds how long an edit made to the store's tables without
// sagate (which takes no revision) can go unseen.
const maxQuietAge = time.Hour

// maxLoggedKeys bounds the keys of the changes logged between two passes; past it the
// next pass scans the store.
const maxLoggedKeys = 1 << 16

// quietStore is what a repair pass needs to know to skip the store's scan.
type quietStore struct {
	// rev is the revision up to which the entries flagged flagLive are the store's
	// live records: read before the last complete scan, moved on by each pass that
	// checked the keys of every change since.
	rev int64
	// at is when that scan began; valid is false until a pass with a scan completes,
	// and after a pass that did not.
	at    time.Time
	valid bool
	// changes holds, by revision, the keys of each change this Syncer was told of
	// above rev (nil for a commit that changed none); overflow: more than
	// maxLoggedKeys keys were logged.
	changes  map[int64][]keystore.KeyHash
	logged   int
	overflow bool
}

// sawChange logs that the store committed revision rev, changing the records of hashes
// (repeats allowed: skipScan drops them).
func (d *digestSet) sawChange(rev int64, hashes []keystore.KeyHash) {
	if rev <= 0 {
		return // a change of unknown revision: the next pass cannot vouch for the gap
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	q := &d.quiet
	if rev <= q.rev || q.overflow {
		return // covered by the last scan or the last pass; or the next pass scans
	}
	if _, seen := q.changes[rev]; seen {
		return // the same change applied again (the outbox)
	}
	if q.logged += len(hashes); q.logged > maxLoggedKeys {
		q.changes, q.logged, q.overflow = nil, 0, true
		return
	}
	if q.changes == nil {
		q.changes = make(map[int64][]keystore.KeyHash)
	}
	q.changes[rev] = hashes
}

// skipScan reports whether a pass that finds the store at revision rev, at time t, may
// skip the scan, expiredUnannounced telling whether a key may have expired without
// its announcement. If so, it returns the keys changed since the quiet revision, clears
// their flagLive and makes rev the quiet revision. d.mu must be held.
func (d *digestSet) skipScan(rev int64, t time.Time, expiredUnannounced bool) (bool, []keystore.KeyHash) {
	q := &d.quiet
	if !q.valid || expiredUnannounced || t.Sub(q.at) >= maxQuietAge || rev < q.rev || q.overflow {
		return false, nil
	}
	for r := q.rev + 1; r <= rev; r++ {
		if _, ok := q.changes[r]; !ok {
			return false, nil
		}
	}
	var changed []keystore.KeyHash
	for r := q.rev + 1; r <= rev; r++ {
		changed = append(changed, q.changes[r]...)
		q.logged -= len(q.changes[r])
		delete(q.changes, r)
	}
	changed = dedupe(changed)
	for _, h := range changed {
		if e := d.m.get(slot(h)); e != nil {
			e.content &^= flagLive
		}
	}
	q.rev = rev
	return true, changed
}

// startScan makes rev, read before the scan that begins at t, the quiet revision; the
// changes logged up to rev are covered by the scan. d.mu must be held.
func (d *digestSet) startScan(rev int64, t time.Time) {
	q := &d.quiet
	q.rev, q.at, q.valid = rev, t, false
	if q.overflow {
		q.changes, q.logged, q.overflow = nil, 0, false
	}
	for r, hs := range q.changes {
		if r <= rev {
			q.logged -= len(hs)
			delete(q.changes, r)
		}
	}
}
