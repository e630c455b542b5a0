// Package redissync is the admin's side of the Redis sync: it writes key records and
// change events after each durable commit, runs full reconciles (at start, periodically,
// and whenever the epoch marker is missing), and folds sidecars' last-used reports back
// into the store. The sidecar's side is package keycache; the shared types are in
// keystore/record.go.
//
// # Redis layout
//
//	sagate:key:<sha256 hex>  string  JSON keystore.Record {key_id, sa_id, sa, ws, state, exp, roles, rev}
//	                                 expiry: none, or exp + 1h (at least 1 minute) when the key expires
//	                                 tombstone: state "revoked", the rev it was written at, the key's
//	                                 identity (or "-" when unknown); expires after 24h
//	sagate:events            stream  entries {seq, rev, kind, epoch, h[, gone]}; XADD MAXLEN ~ EventsMaxLen
//	                                 (default 100000); seq is consecutive (keystore.PublishEvent);
//	                                 kind "keys": h holds up to 1000 space-separated hashes whose
//	                                 records changed, gone (when any is) one '0'/'1' per hash, '1'
//	                                 where the record is now a tombstone; kind "resync": a new
//	                                 epoch, every cached entry goes
//	sagate:epoch             string  "<unix ms>-<16 hex>", written last by each full sync
//	sagate:lastused          hash    key id → unix ms, written by sidecars, taken and emptied by the admin
//
// Every script touches a single key, so the layout works on Redis Cluster (on a single
// server the record script takes up to 50 keys per call to save round trips).
//
// # Writes: records first, then the event
//
// Apply(change) runs after the durable commit. It reads the records of the change's keys
// from the store (RecordSource.AuthRecords: the live records and the revision they were
// read at), then sends, in one pipeline (one round trip), the writes of each live record
// or, for a key no longer live, a tombstone; a GET of the epoch marker; and one "keys"
// event (split by 1000 hashes) with the change's revision, flagging the keys that were
// sent a tombstone as gone (keystore.Event.Gone says why that is safe): a sidecar turns a cached entry of such a key into a refusal on the
// spot instead of dropping it, so the next request with a revoked key is refused without
// a Redis round trip (and while Redis is down). Sidecars that predate the flags drop
// the entries and read the tombstones: the same answer, one round trip later. Redis runs a pipeline in order,
// so an event is in the stream only after the records it announces. The write is a Lua
// script that keeps a stored record whose rev is higher than the one being written, so a
// slower writer or a second admin never brings back an older state. The scripts are sent
// with EVAL, not EVALSHA: after a Redis restart an EVALSHA of the writes could fail with
// NOSCRIPT while the event still went out. The event carries the epoch this Syncer last
// read or wrote (sidecars use the epoch of resync events only); a GET that finds no epoch
// schedules a full sync. Apply does not follow its caller's cancellation (the change is
// committed), only Config.ApplyTimeout (5s).
//
// Apply takes no lock: concurrent Applies (and reconcile batches) may interleave, and
// their events may reach the stream out of revision order. That is safe because every
// record write is rev-checked (Redis ends with the highest revision whatever the order)
// and every Apply's event follows its own writes: the last event for a key comes after
// the last write to it, so a sidecar that drops its entry on that event reads the
// final record.
//
// On a Redis or store error Apply counts it (sagate_sync_redis_errors_total), logs the
// action and the number of keys (never a hash), returns the error and marks Redis dirty:
// Run then performs a full sync with a new epoch, at once when Redis answers (checked every
// EpochCheckInterval, 1s), else retried with backoff from 250ms to 30s. A new epoch, not
// just a repair, because an event may be what was lost: the resync event and the changed
// epoch make every sidecar drop its cache.
//
// # Full sync
//
// Epoch missing (Redis empty, restarted, flushed, half-filled), or a fresh epoch forced
// (Run's start, after a failed Apply): a full sync. Until it ends sidecars treat a missing
// record as "cannot tell" (stale or 503).
//
//  1. SCAN the record keys Redis holds (on an empty Redis, one empty SCAN); keys under
//     the prefix that are not a hash are deleted.
//  2. Stream the store's snapshot (RecordSource.ScanAuthRecords: one read transaction;
//     every Record.Rev is the snapshot's revision S) and write each record as it comes,
//     in pipelines of 1000, the next batch read while the previous one is written. A key
//     Redis did not hold at step 1 is written with SET NX (no record to compare revs
//     with; several times cheaper for Redis than the script); the others, and every SET
//     NX that found a record, go through the rev-checked script. No re-read, no lock.
//  3. Records listed at step 1 whose key is not in the snapshot are re-read from the store
//     and replaced by tombstones (or rewritten, if live again), as a repair batch.
//  4. SET the new epoch, last, and publish a "resync" event.
//
// Why writing an older snapshot is safe against a concurrent Apply: Apply writes what the
// store holds at its read revision A, rev-checked; the sync writes the snapshot's state
// at S, rev-checked. If A > S, Apply's record (or tombstone) wins in either order; if
// A < S, the snapshot's is newer and wins; if A = S both wrote the same state. A key
// revoked or deleted during the sync (after S): its tombstone carries a revision above S,
// so the snapshot's live record loses whether it lands before the tombstone (overwritten)
// or after (refused). A key deleted before S is not in the snapshot: the sync never
// writes it, and a record of it Redis held before the sync began is found at step 1 and
// tombstoned at step 3; a record written after step 1 comes from an Apply, which wrote
// the state at its own revision and is followed by the Apply of the deletion (or, if
// that Apply failed, by another full sync). A tombstone lasts 24h, far longer than a sync.
//
// # Repair
//
// Epoch present: a repair. The store's scan enumerates the live hashes; Redis is scanned
// (SCAN MATCH sagate:key:*) for records of keys that are not live; both sets are then
// processed in batches of 1000: under the repair lock the records are re-read from the
// store (fresh, with their revision), compared with what Redis holds (decoded records,
// every field but rev), and only differing records are rewritten with the rev-checked
// script; existing tombstones of dead keys are left alone, records of keys that are not
// live are replaced by tombstones (not deleted: the tombstone keeps guarding against an
// older writer, and expires in 24h), keys under the prefix that are not a hash are
// deleted, and the repaired hashes are published as "keys" events. The epoch stays.
//
// # Run and its bounds
//
// Run starts with a full sync with a new epoch (a restarted admin cannot know which events
// its predecessor failed to publish), retried with backoff while Redis or the store is
// down. Then it checks the epoch every EpochCheckInterval (default 1s: a Redis restarted
// empty is resynced within about a second plus the sync's duration), repairs every
// ReconcileInterval (default 5m: the bound within which Redis reflects a change whose
// write was lost without Apply noticing), and folds last-used times every
// UsageFoldInterval (default 30s).
//
// Folding takes sagate:lastused atomically (HGETALL and DEL in one script: a sidecar's
// report during the fold lands in a new hash), hands the times to RecordSource.RecordKeyUse,
// and on a store error puts them back keeping the later time per key. A crash between the
// take and the store write loses at most one interval of last-used times (they are advisory).
//
// Measured on the shared 2-core machine (load average 4–7; internal/bench/reconcile, the
// real SQLite store, 1,000,000 keys over 50 accounts, into an empty Redis): a full sync
// took 9.3 s (31.7 s with the earlier re-read of every record under the lock). Issuance
// through the Service with this Syncer (BenchmarkCreateKeyWithRedis, 8 callers): about
// 1,150 keys/s (about 890 before the single round trip and the lock-free Apply).
//
// Limits: records are rev-ordered by the store's revision, so a store restored from a
// backup to an older revision needs the sagate:* keys removed from Redis before the admin
// starts (its writes would otherwise lose to the newer revisions left in Redis). The
// last-used hash is taken in one call, which blocks Redis for a time proportional to the
// number of keys used during one fold interval (about 1 ms per 10,000).
package redissync
