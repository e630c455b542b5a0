// Package redissync is the admin's side of the Redis sync: it writes key records and
// change events after each durable commit, runs full reconciles (at start, periodically,
// and whenever the epoch marker is missing), and folds sidecars' last-used reports back
// into the store. The sidecar's side is package keycache; the shared types are in
// keystore/record.go.
//
// # Redis layout
//
// Everything a sidecar trusts is signed by the admin (keystore/sign.go, keystore/signed.go)
// with Config.SigningKey, whose public half the sidecars hold: a writer to Redis without
// that key can delete or replay what the admin wrote, never mint or alter a record, an
// event or a marker. "Sealed" below is keystore.SigningKey.Seal: the signature, then the
// payload from byte keystore.SealedPrefixLen (107), where the Lua scripts read it.
//
//	sagate:key:<sha256 hex>  string  sealed (domain record, name: the hash) JSON keystore.Record
//	                                 {key_id, sa_id, sa, ws, state, exp, roles, rev}
//	                                 expiry: none, or exp + 1h (at least 1 minute) when the key expires
//	                                 tombstone: state "revoked", the rev it was written at, the key's
//	                                 identity from the store (or "-" when the store no longer holds
//	                                 the key), sealed by the admin; expires after 24h
//	sagate:events            stream  entries {seq, rev, kind, epoch, h[, gone], sig}; XADD MAXLEN ~
//	                                 EventsMaxLen (default 100000); seq is consecutive
//	                                 (keystore.PublishEvent) and the only field sig does not cover
//	                                 (keystore.EventSigningPayload); kind "keys": h holds up to 1000
//	                                 space-separated hashes whose records changed, gone (when any is)
//	                                 one '0'/'1' per hash, '1' where the record is now a tombstone;
//	                                 kind "resync": a new epoch, every cached entry goes
//	sagate:epoch             string  sealed "<unix ms>-<16 hex>", written last by each full sync
//	sagate:rev               string  sealed "<store revision>": the highest revision whose changes
//	                                 Redis holds; raised by every Apply after its records and before
//	                                 its event and by every commit that changes no key record
//	                                 (NoteRevision), set by each full sync before the epoch
//	sagate:lastused          hash    key id → unix ms, written by sidecars, taken and emptied by the admin
//
// Every script touches a single key, so the layout works on Redis Cluster (on a single
// server the record script takes up to 50 keys per call to save round trips).
//
// # The store is the truth
//
// What Redis holds is checked against the store, never believed: a record, tombstone or
// marker that does not verify with the admin's key, or that carries a revision above the
// store's current revision (a revision from the future is a forgery: the store never
// went there), is rewritten from the store by the full sync and by the repair, whatever
// its rev says. Such a value is replaced with a compare-and-set on the exact bytes read
// (SET only while GET still returns them), so a concurrent Apply's newer write is never
// overwritten; the next pass checks that one too. Values that do not verify are counted
// in sagate_sync_unverified_values_total{kind}. The admin trusts only its current key:
// after a change of key, the full sync at start rewrites everything with the new one
// (sidecars trust both keys meanwhile).
//
// # Writes: commit and outbox row, records, revision marker, event, outbox row deleted
//
// The order of one change:
//
//  1. The commit, and in the same transaction the change's outbox row (the store's table
//     sync_pending: its revision and the hashes of its keys; keystore/outbox.go). Either
//     both are durable or neither.
//  2. Apply: the records (or tombstones) of its keys, read fresh from the store.
//  3. The revision marker raised to the change's revision.
//  4. The signed "keys" event.
//  5. The outbox row deleted: Apply queues the revision, and Run's goroutine deletes the
//     queued rows every 100ms in one statement (one store write per 100ms, not per change).
//
// Steps 2–4 go in one pipeline. A change whose steps 2–5 never happen (its admin died
// after the commit, or Redis refused the writes) keeps its row: see "The outbox".
//
// Apply(change) runs after the durable commit. It reads the records of the change's keys
// from the store (RecordSource.AuthRecords: the live records and the revision they were
// read at; KeyIdentities for the keys no longer live), seals them, then sends, in one
// pipeline (one round trip), the writes of each live record or, for a key no longer live,
// a tombstone; a GET of the epoch marker; the raise of the revision marker to the change's
// revision; and one signed "keys" event (split by 1000 hashes) with that revision, flagging the keys that were
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
// action and the number of keys (never a hash), returns the error (the outbox row stays)
// and marks Redis dirty:
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
//     every Record.Rev is the snapshot's revision S) in batches of 1000, which GOMAXPROCS
//     workers seal and write while the scan reads on (sealing, an Ed25519 signature per
//     record, is most of the sync's CPU). A key Redis did not hold at step 1 is written
//     with SET NX (no record to compare revs with; several times cheaper for Redis than
//     the script); the others, and every SET NX that found a record, go through the
//     rev-checked script. No re-read, no lock.
//  3. Records listed at step 1 whose key is not in the snapshot, and records the script
//     kept for their higher rev (an Apply's, or a forgery), are checked as repair batches
//     (below): re-read from the store, rewritten unless they are the store's own.
//  4. Set the revision marker to the highest revision written (replacing one that does
//     not verify or is from the future), then the new epoch, last, and publish a signed
//     "resync" event.
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
// processed in batches of 1000 under the repair lock: Redis is read first, then the store
// (so that a record an admin wrote carries a rev no higher than the store's revision R).
// A live key's record is left alone when its bytes equal the store's record sealed afresh
// at the stored rev: Ed25519 signatures are deterministic, so equal bytes mean the same
// content and a valid signature, and the check costs a signature (about 25 µs, on
// GOMAXPROCS goroutines) instead of a verification (about 50 µs). A key that is not live
// keeps a tombstone that verifies. Anything else is rewritten from the store at R: with
// the rev-checked script when the stored rev is at most R, by compare-and-set when it is
// above (a forgery). Keys under the prefix that are not a hash are deleted, and the
// repaired hashes are published as signed "keys" events after the revision marker is
// raised to R. The epoch stays.
//
// # Run and its bounds
//
// Run starts with a full sync with a new epoch (a restarted admin cannot know which events
// its predecessor failed to publish), retried with backoff while Redis or the store is
// down. Then it checks the markers every EpochCheckInterval (default 1s: a Redis restarted
// empty is resynced within about a second plus the sync's duration); an epoch or a
// revision marker that does not verify starts a full sync at once.
//
// The outbox: every EpochCheckInterval, Run also reads the outbox rows older than 2s
// (revGrace, by the store's clock: the database server's for PostgreSQL, so admins on
// hosts whose clocks differ agree), up to 100 per tick. Younger rows may belong to an
// Apply in flight, this admin's or another's. An older row is a committed change that
// Redis may lack, whoever committed it: the admin re-applies the changes as one Apply
// (the current records of their keys, read from the store and rev-checked, so the write
// is right whatever happened since; then the marker and an event), deletes their rows,
// and logs once at Warn (the revisions, the number of changes and keys, never a hash).
// While Redis does not answer, and while a full sync is owed (it covers them), the rows
// wait for the next tick. Any live admin thus
// repairs a change whose admin died between the commit and Redis within the grace plus
// one check: measured (TestOutboxRepairsAChangeOfADeadAdmin, SQLite, 1s check) 2.7s
// after the commit, though a later change by the surviving admin had raised the marker
// past it. A single admin that restarts does the same at its start: the full sync
// writes one snapshot, then deletes every row up to the revision read before it
// (ConfirmChangesThrough), as does every full sync. The gauge sagate_sync_backlog
// (Backlog, /readyz) is the number of rows older than the grace left after each check:
// the same on every admin.
//
// Redis came back older: the check also compares the revision marker with the store's
// revision (RecordSource.Revision, one row). If the marker stays below a revision the
// store had committed for longer than 2s (long enough for an Apply in flight, this
// admin's or another's, to raise it), Redis lacks a committed change: it restarted from
// its RDB or AOF, a lagging replica was promoted, a backup was restored, or an admin
// committed and died before writing. Its epoch may be the current one, so sidecars would
// not notice: the admin logs the two revisions once at Warn and runs a full sync with a
// new epoch. Measured (TestRedisBackFromSnapshot): Redis repaired 2.1 s after it came
// back with a 100 ms check, 3.9 s with the default 1 s check. A change committed and
// never written is hidden from this check once a later change raises the marker past
// it; the outbox (above) finds it all the same. Run repairs every
// ReconcileInterval (default 5m: the bound within which Redis reflects a change whose
// write was lost without Apply noticing), and folds last-used times every
// UsageFoldInterval (default 30s).
//
// Folding takes sagate:lastused atomically (HGETALL and DEL in one script: a sidecar's
// report during the fold lands in a new hash), clamps every time to the fold's (anyone
// who can write to Redis can write the hash), hands the times to RecordSource.RecordKeyUse
// (which ignores keys that are not live),
// and on a store error puts them back keeping the later time per key. A crash between the
// take and the store write loses at most one interval of last-used times (they are advisory).
//
// Measured on the shared 2-core machine (load average 4–7; internal/tools/bench/reconcile, the
// real SQLite store, 1,000,000 keys over 50 accounts, into an empty Redis): a full sync
// took 9.3 s before records were signed (31.7 s with the earlier re-read of every record
// under the lock). Signing costs about 34 µs of CPU per record (an Ed25519 signature
// and its encoding): with 200,000 keys, on the same machine at load average 20–29, the
// full sync's process used 7.6 s of CPU (27.8 s wall; unsigned: 7.9 s wall), and
// BenchmarkSync1M's admin CPU per sync went from 0.9 to 7.7 s (into an empty Redis),
// 1.1 to 7.4 s (over a synced Redis: an admin's restart) and 1.4 to 7.8 s (a repair
// finding nothing to do), Redis' own CPU unchanged (0.7–2.1 s). For 1,000,000 keys on
// two otherwise idle cores that is about 38 s of signing CPU on two workers: a full sync
// or a repair of about 20–22 s. Issuance through the Service with this Syncer
// (BenchmarkCreateKeyWithRedis, 8 callers), before signing: about 1,150 keys/s. The
// outbox row in each commit and the batched deletes (Run running) cost a few percent:
// alternating runs at load average 3, 1,339–2,387 keys/s without, 1,468–2,228 with.
//
// Limits: a store restored from a backup to an older revision finds records in Redis
// from its future; the full sync at start rewrites them (as forgeries), but sidecars that
// saw the higher revisions answer "cannot tell" until the store's revision catches up, so
// remove the sagate:* keys from Redis and restart the sidecars with it. The
// last-used hash is taken in one call, which blocks Redis for a time proportional to the
// number of keys used during one fold interval (about 1 ms per 10,000).
package redissync
