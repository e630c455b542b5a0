// Package redissync is the admin's side of the Redis sync: after each durable commit it
// writes the changed key records and publishes their event, it runs full syncs and the
// periodic repair, and it folds the sidecars' last-used reports back into the store.
// The sidecar's side is keystore/keycache; the format both read is keystore/wire.
//
// The contract: the store is the truth, and Redis holds, within the bounds in Config,
// exactly the records the store says, each sealed with Config.SigningKey. A change is
// committed with its outbox row before anything is written to Redis, so any live admin
// can re-apply it; writes are revision-checked, so concurrent Applies, full syncs and a
// second admin may interleave; an event is never in the stream before the records it
// announces; a revision marker is never raised over a loss; and whatever is in Redis
// that does not verify, or claims more than the store, is rewritten from the store. A
// loss it cannot repair record by record (a missing or unverifiable epoch or marker, a
// marker left behind) brings a full sync with a new epoch, which empties every
// sidecar's cache.
//
// The periodic repair seals again only what it cannot vouch for: the admin keeps, per
// key, a fingerprint of the content and a keyed digest of the bytes it last wrote or
// found equal to the store (digest.go), and only a value that differs from them is
// checked by sealing afresh (compare.go, repair.go). It reads every live record of the
// store only when the store moved since its last complete scan by a commit this admin
// was not told of (every change to a record takes a new revision, and this admin hears
// of its own with their keys), a key expired unannounced, or an hour passed (quiet.go).
//
// docs/protocol.md walks through the layout, each write, the invariants and the limits.
package redissync
