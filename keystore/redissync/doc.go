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
//	sagate:events            stream  entries {seq, rev, kind, epoch, h}; XADD MAXLEN ~ EventsMaxLen
//	                                 (default 100000); seq is consecutive (keystore.PublishEvent);
//	                                 kind "keys": h holds up to 1000 space-separated hashes whose
//	                                 records changed; kind "resync": a new epoch, every cached entry goes
//	sagate:epoch             string  "<unix ms>-<16 hex>", written last by each full sync
//	sagate:lastused          hash    key id → unix ms, written by sidecars, taken and emptied by the admin
//
// Every script touches a single key, so the layout works on Redis Cluster (on a single
// server the record script takes up to 50 keys per call to save round trips).
//
// # Writes: records first, then the event
//
// Apply(change) runs after the durable commit. Under a mutex shared with every reconcile
// batch it reads the records of the change's keys from the store (RecordSource.AuthRecords:
// the live records and the revision they were read at), then writes, in one pipelined round
// trip, each live record or, for a key no longer live, a tombstone. The write is a Lua
// script that keeps a stored record whose rev is higher than the one being written, so a
// slower writer or a second admin never brings back an older state. Then it publishes one
// "keys" event (split by 1000 hashes) with the change's revision and the current epoch.
// Apply does not follow its caller's cancellation (the change is committed), only
// Config.ApplyTimeout (5s).
//
// On a Redis or store error Apply counts it (sagate_sync_redis_errors_total), logs the
// action and the number of keys (never a hash), returns the error and marks Redis dirty:
// Run then performs a full sync with a new epoch, at once when Redis answers (checked every
// EpochCheckInterval, 1s), else retried with backoff from 250ms to 30s. A new epoch, not
// just a repair, because an event may be what was lost: the resync event and the changed
// epoch make every sidecar drop its cache.
//
// # Reconcile
//
// The store's scan (RecordSource.ScanAuthRecords) only enumerates the live hashes. Redis
// is then scanned (SCAN MATCH sagate:key:*) for records of keys that are not live, and the
// live hashes are processed, in batches of 1000: for each batch, under the mutex, the
// records are re-read from the store (fresh, with their revision) and written with the
// rev-checked script, so a concurrent Apply is never undone. Keys under the prefix that are
// not a hash are deleted; records of keys that are not live are replaced by tombstones
// (not deleted: the tombstone keeps guarding against an older writer, and expires in 24h).
//
//   - Epoch missing (Redis empty, restarted, flushed, half-filled): a full sync. Every live
//     record is written, then the epoch marker is SET, last, and a "resync" event published.
//     Until then sidecars treat a missing record as "cannot tell" (stale or 503).
//   - Epoch present: a repair. Each batch is compared with what Redis holds (decoded
//     records, every field but rev); only differing records are rewritten, existing
//     tombstones of dead keys are left alone, and the repaired hashes are published as
//     "keys" events. The epoch stays.
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
// Measured on the shared 2-core machine with a load average near 10 (BenchmarkSync1M, an
// in-memory store that builds records on each read; two runs): a full sync of 1,000,000
// keys into an empty Redis took 12.5 s and 26.8 s; a repair pass over 1,000,000
// unchanged keys 21 s and 46 s.
//
// Limits: records are rev-ordered by the store's revision, so a store restored from a
// backup to an older revision needs the sagate:* keys removed from Redis before the admin
// starts (its writes would otherwise lose to the newer revisions left in Redis). The
// last-used hash is taken in one call, which blocks Redis for a time proportional to the
// number of keys used during one fold interval (about 1 ms per 10,000).
package redissync
