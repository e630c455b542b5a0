// Package redissync is the admin's side of the Redis sync: it writes key records and
// change events after each durable commit, runs full syncs and repairs, and folds the
// sidecars' last-used reports back into the store. The sidecar's side is package
// keycache; the shared formats are in keystore/wire/record.go. docs/protocol.md walks through
// the protocol step by step.
//
// What it writes, every value but the last-used hash sealed with Config.SigningKey
// (wire.SigningKey.Seal):
//
//	sagate:key:<sha256 hex>  string  a wire.Record, or a tombstone (state "revoked") for 24h
//	sagate:events            stream  signed "keys" events (the hashes changed, which are gone)
//	                                 and "resync" events (a new epoch); XADD MAXLEN ~ EventsMaxLen
//	sagate:epoch             string  "<unix ms>-<16 hex>", written last by each full sync
//	sagate:rev               string  the highest store revision whose changes Redis holds
//	sagate:rev:{<tag>}       string  on a Redis Cluster, the same for one slot range, kept
//	                                 on the range's primary (keystore/wire/shards.go, markers.go)
//	sagate:lastused          hash    written by sidecars; taken, emptied and folded by the admin
//
// Every script touches a single key, so the layout works on Redis Cluster, where each
// shard also carries its own revision marker, since a shard can lose writes on its own.
//
// Invariants it keeps:
//   - The store is the truth. A change is committed with its outbox row before anything is
//     written to Redis; Apply then writes its records (read fresh from the store), raises
//     the shard markers (on a Cluster) and sagate:rev, and publishes its event, in that
//     order; an event is never in the stream before the records it announces.
//   - Writes are rev-checked: a stored record of a higher revision is never replaced by a
//     lower one, so concurrent Applies, full syncs and a second admin may interleave freely.
//   - Nothing unverified stays: a value that does not verify with the admin's current key,
//     or carries a revision above the store's, is rewritten from the store by compare-and-set
//     on the bytes read (never over a newer write).
//   - A failed Apply, a missing or unverifiable epoch or revision marker (sagate:rev or a
//     shard marker), a shard marker below sagate:rev, or a marker that stays behind the
//     store's revision for more than 2s brings a full sync with a new epoch, so every
//     sidecar drops its cache.
//   - On Sentinel, where the primary has replicas, a write counts only once a replica
//     acknowledged it (WAIT, replicas.go): otherwise the change is pending and re-applied,
//     so no acknowledged change is one a failover takes back; and the client closes its
//     connections to a primary the Sentinels no longer name (keystore/redisurl).
//   - No marker is raised over a loss: every raise and every check compares the markers
//     with the higher of what this admin saw there and the store's confirmed revision
//     (durable.go), so every admin notices a loss within a check, whoever made the change.
//   - A repair seals again only what it cannot vouch for: the admin keeps, per key, a
//     fingerprint of the content and a keyed digest of the bytes it last wrote or found
//     equal to the store (digest.go), and a value or record that differs from them is
//     checked by sealing afresh (compare.go, repair.go).
//   - A committed change that Redis may lack (its outbox row older than 2s by the store's
//     clock) is re-applied by any live admin; every full sync confirms the rows it covers.
//
// Bounds, as defaults of Config:
//   - ApplyTimeout (DefaultApplyTimeout, 5s) per Apply, which does not follow its
//     caller's cancellation: the change is committed.
//   - EpochCheckInterval (DefaultEpochCheckInterval, 1s): markers and outbox checked; a
//     Redis restarted empty is resynced within about that plus the sync's duration.
//     Failed syncs are retried with backoff from 250ms to 30s.
//   - ReconcileInterval (DefaultReconcileInterval, 5m): the bound within which Redis
//     reflects a change whose write was lost without Apply noticing.
//   - UsageFoldInterval (DefaultUsageFoldInterval, 30s): a crash loses at most that much
//     of last-used times, which are advisory.
//   - EventsMaxLen (wire.DefaultEventsMaxLen, 100000 stream entries); at most 1000
//     hashes per event and per write batch.
//
// docs/protocol.md ("Limits") says what it does not cover: a store restored to an older
// revision, and the one-call take of the last-used hash.
package redissync
