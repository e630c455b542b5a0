package keystore

import (
	"context"
	"time"

	"github.com/sagate/sagate/keystore/wire"
)

// Change is what one committed admin mutation touched, handed to the Syncer after the
// durable commit.
type Change struct {
	Rev    int64     // store revision of the commit
	Action string    // audit action, for logs and metrics
	Hashes []KeyHash // every key whose Redis record must be rewritten or removed
}

// Syncer carries committed changes to Redis. The Service calls Apply after each
// durable commit; an error there is logged and repaired by the next reconcile, never
// undone in the store.
type Syncer interface {
	Apply(ctx context.Context, c Change) error
}

// RevisionNoter is an optional interface of a Syncer. The Service calls NoteRevision
// instead of Apply after a commit that changed no key record (a workspace, an account
// without keys): the store's revision moved all the same, and Redis' revision marker
// must follow it, or the sync would take the gap for a change Redis lacks.
type RevisionNoter interface {
	NoteRevision(ctx context.Context, rev int64)
}

// RecordSource is the read side of a Store that the Redis sync needs.
type RecordSource interface {
	// SyncOutbox lists and confirms the committed changes Redis may lack (outbox.go).
	SyncOutbox
	// AuthRecords returns the records of the live keys among hashes (not revoked, not expired,
	// account not deleted), read in one transaction, and the store revision they were read at
	// (every returned Record.Rev equals it). A hash with no live key is absent from the map:
	// its record must go (the writer replaces it with a tombstone carrying rev).
	AuthRecords(ctx context.Context, hashes []KeyHash) (recs map[KeyHash]wire.Record, rev int64, err error)
	// ScanAuthRecords calls fn for every live key, in no particular order, from one consistent snapshot.
	// Records may share a Roles map (the keys of one account); neither fn nor the store
	// modifies a map once handed to fn, so a map seen again holds what it held.
	ScanAuthRecords(ctx context.Context, fn func(KeyHash, wire.Record) error) error
	// RecordKeyUse folds last-used times (key id → time) into the store, keeping the later
	// of the stored and the given time, and never a time later than the store's clock,
	// the key's revocation or its expiry: a use reported after the key was revoked (the
	// fold runs every 30 s) still counts, as of at most the revocation. Key ids that are
	// unknown, deactivated or of a deactivated account are ignored: the times come from
	// Redis, which anyone able to write to it can fill, and a deactivated key must not seem used.
	RecordKeyUse(ctx context.Context, uses map[string]time.Time) error
	// Revision returns the store's current revision: one row, cheap enough to read every
	// second (the sync compares it with Redis' revision marker).
	Revision(ctx context.Context) (int64, error)
	// KeyIdentities returns, for those of hashes whose key the store still holds (live or
	// not), the key's identity: KeyID, SAID, SA and Workspace set, nothing else. It is
	// what a tombstone carries; a key not in the store gets "-" instead.
	KeyIdentities(ctx context.Context, hashes []KeyHash) (map[KeyHash]wire.Record, error)
}

// ExpiryReporter is an optional interface of a RecordSource (both SQL stores implement
// it): the earliest expiry that has passed or will pass without an announcement yet
// (ExpiryAnnouncer). Until then, every key that left the live records took a revision;
// the periodic repair relies on it to skip its scan of a store that has not moved.
type ExpiryReporter interface {
	// NextExpiry returns the earliest expiry, by the clock AuthRecords tells expired
	// keys by, of a key that is neither revoked nor announced (zero: none).
	NextExpiry(ctx context.Context) (time.Time, error)
}

// ActionKeyExpire is the Change.Action of the announcement of keys' expiry
// (ExpiryAnnouncer): no one made the change, the clock did.
const ActionKeyExpire = "key.expire"

// ExpiryAnnouncer is an optional interface of a RecordSource (both SQL stores implement
// it). Sidecars refuse an expired key on their own clock; the admin also announces each
// expiry, writing the key's tombstone and publishing an event flagged gone, so that a
// sidecar whose clock lags does not let the key in for longer than the event takes.
type ExpiryAnnouncer interface {
	// AnnounceExpiries commits, in one write transaction that takes a new revision and
	// records its outbox row, that up to limit keys whose expiry has passed by the
	// store's clock (the one AuthRecords uses) and that are neither revoked nor
	// announced yet are announced, and returns that change for the Syncer to apply. When
	// no key is due it writes nothing and returns a Change with no hashes. next is the
	// earliest expiry still to announce (zero: none). Two admins on one store may call
	// it at once: each key is announced by one of them.
	AnnounceExpiries(ctx context.Context, limit int) (c Change, next time.Time, err error)
}
