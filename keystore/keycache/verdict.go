package keycache

import (
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"go.uber.org/zap"

	"github.com/sagate/sagate/keystore/wire"
)

// Verification of what Redis answers. Every record, marker and event is signed by the
// admin (keystore/wire/sign.go); the cache trusts only what verifies against
// Config.Verifier, and only on the miss path: a cache hit verifies nothing.
//
// An Ed25519 verification costs about 50 µs, a SHA-256 of a record well under 1 µs.
// So a record is verified once per version: the verdict table remembers
// sha256(redis key ‖ sealed value) of the records that verified, and a record seen
// again (refetched after a flush, an eviction or its TTL) costs a hash. The markers
// are verified only when their value changed since the last one that verified.

// Reasons a lookup cannot be answered because of what Redis holds. They never quote it.
var (
	errUnverified = errors.New("redis holds a value that is not signed by a trusted key")
	errBehind     = errors.New("redis is older than what this cache has seen (revision marker missing or lower)")
)

// Sizing of the verdict table.
const (
	// verdictMinSlots is the least number of slots of the verdict table (2 MiB).
	verdictMinSlots = 1 << 16
	// verdictSlotsPerEntry: the table has at least this many slots per entry of the
	// cache (Config.Size), rounded up to a power of two, so that most records of a full
	// cache, fetched again after a flush, still find their verdicts (a lost one costs
	// one verification). One slot, not two: half the memory (4 MiB at cache_size
	// 100000) for a few more verifications after a flush.
	verdictSlotsPerEntry = 1
	// sigWarnEvery bounds the warnings about refused values: at most one per kind of
	// value in this interval; the others are counted (Stats.SignatureFailures).
	sigWarnEvery = 10 * time.Second
)

// verdicts is a bounded set of digests of records that verified: a two-way
// set-associative table of SHA-256 digests, with no pointers for the garbage
// collector to scan. A digest that is overwritten costs one more verification when
// its record comes again; a digest that is present can only be there because its
// record verified (SHA-256 is collision resistant).
type verdicts struct {
	mu    sync.Mutex
	slots [][sha256.Size]byte // buckets of two
	mask  uint64              // buckets - 1
}

// newVerdicts returns a table for a cache of size entries: max(verdictSlotsPerEntry ×
// size, verdictMinSlots) slots, rounded up to a power of two, 32 bytes each.
func newVerdicts(size int) *verdicts {
	n := verdictMinSlots
	for n < verdictSlotsPerEntry*size {
		n <<= 1
	}
	return &verdicts{slots: make([][sha256.Size]byte, n), mask: uint64(n/2 - 1)}
}

// bucket returns the index of d's first slot.
func (v *verdicts) bucket(d *[sha256.Size]byte) uint64 {
	return 2 * (binary.LittleEndian.Uint64(d[:8]) & v.mask)
}

// has reports whether d is in the table.
func (v *verdicts) has(d *[sha256.Size]byte) bool {
	i := v.bucket(d)
	v.mu.Lock()
	ok := v.slots[i] == *d || v.slots[i+1] == *d
	v.mu.Unlock()
	return ok
}

// add puts d in the table: the bucket's newest slot is first, the older one goes.
func (v *verdicts) add(d *[sha256.Size]byte) {
	i := v.bucket(d)
	v.mu.Lock()
	if v.slots[i] != *d {
		v.slots[i+1] = v.slots[i]
		v.slots[i] = *d
	}
	v.mu.Unlock()
}

// recordDigest is sha256(redis key of h ‖ sealed): what the verdict table keeps.
func recordDigest(h wire.KeyHash, sealed []byte) [sha256.Size]byte {
	var buf [redisKeyLen]byte
	d := sha256.New()
	d.Write(appendRedisKey(buf[:0], h))
	d.Write(sealed)
	var out [sha256.Size]byte
	d.Sum(out[:0])
	return out
}

// openRecord verifies the sealed record of h (or finds its verdict) and decodes it.
// A value that does not verify is counted, logged and refused with errUnverified.
func (c *Cache) openRecord(h wire.KeyHash, sealed []byte) (wire.Record, error) {
	d := recordDigest(h, sealed)
	return c.openRecordDigest(h, sealed, &d, c.verdicts.has(&d))
}

// openRecordDigest is openRecord with the record's digest d (recordDigest) and whether
// the verdict table holds it already looked up.
func (c *Cache) openRecordDigest(h wire.KeyHash, sealed []byte, d *[sha256.Size]byte, known bool) (wire.Record, error) {
	if known {
		payload, _ := wire.RecordPayload(sealed)
		return wire.DecodeRecord(payload)
	}
	rec, err := wire.OpenRecord(c.cfg.Verifier, h, sealed)
	if err != nil {
		if reason := sigReason(err); reason != "" {
			return rec, c.refuse(sigRecord, reason)
		}
		return rec, err // signed by the admin, but not a usable record
	}
	c.verdicts.add(d)
	return rec, nil
}

// markers remembers the last epoch and revision markers that verified, so that an
// unchanged marker is not verified again.
type markers struct {
	mu          sync.Mutex
	epochSealed string
	epochText   string
	revSealed   string
	rev         int64
	shardRevs   map[string]sealedRev // by key (shardrev.go)
}

// openEpoch returns the text of the sealed epoch marker.
func (c *Cache) openEpoch(sealed string) (string, error) {
	m := &c.marks
	m.mu.Lock()
	defer m.mu.Unlock()
	if sealed == m.epochSealed && sealed != "" {
		return m.epochText, nil
	}
	text, err := wire.OpenMarker(c.cfg.Verifier, wire.DomainEpoch, sealed)
	if err != nil {
		return "", c.refuse(sigEpoch, sigReason(err))
	}
	m.epochSealed, m.epochText = sealed, text
	return text, nil
}

// openRev returns the revision of the sealed revision marker.
func (c *Cache) openRev(sealed string) (int64, error) {
	m := &c.marks
	m.mu.Lock()
	defer m.mu.Unlock()
	if sealed == m.revSealed && sealed != "" {
		return m.rev, nil
	}
	rev, err := wire.OpenRev(c.cfg.Verifier, sealed)
	if err != nil {
		reason := sigReason(err)
		if reason == "" {
			reason = "not_a_revision"
		}
		return 0, c.refuse(sigRev, reason)
	}
	m.revSealed, m.rev = sealed, rev
	return rev, nil
}

// sigKind names what was refused, for Stats and the log.
type sigKind uint8

const (
	sigRecord sigKind = iota
	sigEvent
	sigEpoch
	sigRev
	numSigKinds
)

var sigKindNames = [numSigKinds]string{"record", "event", "epoch", "rev"}

// SignatureFailures counts the values read from Redis that were refused because
// they were not signed by a trusted key (unsigned, signed by another key, or with a
// signature that does not verify), by kind.
type SignatureFailures struct {
	Records, Events, Epochs, Revs uint64
}

// sigReason classifies a verification error for the log; "" when err is not one.
func sigReason(err error) string {
	switch {
	case errors.Is(err, wire.ErrUnsigned):
		return "unsigned"
	case errors.Is(err, wire.ErrUnknownSigner):
		return "unknown_signer"
	case errors.Is(err, wire.ErrBadSignature):
		return "bad_signature"
	}
	return ""
}

// refuse counts a value of kind that did not verify, logs it at most once per
// sigWarnEvery (never the value, its key or its hash) and returns errUnverified.
func (c *Cache) refuse(kind sigKind, reason string) error {
	c.sigFails[kind].Add(1)
	if c.warnDue(&c.sigWarned[kind]) {
		c.log.Warn("redis holds a value not signed by a trusted key; refused (someone other than the admin wrote to redis, or signing_keys lacks the admin's key)",
			zap.String("kind", sigKindNames[kind]), zap.String("reason", reason),
			zap.Uint64("refused_total", c.sigFails[kind].Load()))
	}
	return fmt.Errorf("%w (%s, %s)", errUnverified, sigKindNames[kind], reason)
}

// warnDue reports whether a rate-limited warning whose last time is in last may be
// logged now, and if so notes now.
func (c *Cache) warnDue(last *atomic.Int64) bool {
	now := c.now().UnixNano()
	prev := last.Load()
	return (prev == 0 || now-prev >= int64(sigWarnEvery)) && last.CompareAndSwap(prev, now)
}

// trustEvent verifies ev. One that does not verify is not the admin's: it is counted
// and logged (ignoreEvent), and changes nothing. A verified event's revision raises
// seenRev.
func (c *Cache) trustEvent(ev wire.Event) bool {
	if err := wire.VerifyEvent(c.cfg.Verifier, ev); err != nil {
		reason := sigReason(err)
		if reason == "" {
			reason = "bad_signature"
		}
		c.ignoreEvent(reason)
		return false
	}
	c.noteRev(ev.Rev)
	return true
}

// ignoreEvent counts and logs (rate-limited, never the entry) an entry of the events
// stream that does not verify, which the follower then skips. Dropping cached entries
// for it would let anyone who can write to Redis empty every sidecar's cache with one
// XADD, and with it what the cache knows of keys it has seen revoked.
func (c *Cache) ignoreEvent(reason string) {
	_ = c.refuse(sigEvent, reason)
}

// sigStats returns the refusals counted so far.
func (c *Cache) sigStats() (SignatureFailures, uint64) {
	return SignatureFailures{
		Records: c.sigFails[sigRecord].Load(),
		Events:  c.sigFails[sigEvent].Load(),
		Epochs:  c.sigFails[sigEpoch].Load(),
		Revs:    c.sigFails[sigRev].Load(),
	}, c.behindN.Load()
}

// noteRev raises seenRev to rev, the revision of a verified marker or event.
func (c *Cache) noteRev(rev int64) {
	for {
		seen := c.seenRev.Load()
		if rev <= seen || c.seenRev.CompareAndSwap(seen, rev) {
			return
		}
	}
}

// behind counts and logs (rate-limited) a reply whose revision marker was missing or
// lower than seen, and returns errBehind.
func (c *Cache) behind(rev, seen int64) error {
	c.behindN.Add(1)
	if c.warnDue(&c.behindWarned) {
		c.log.Warn("redis' revision marker is missing or lower than what this cache has seen (restarted from an older snapshot, a lagging replica, a restored backup?); its answers are refused until the admin repairs it",
			zap.Int64("marker_rev", rev), zap.Int64("seen_rev", seen), zap.Uint64("refused_total", c.behindN.Load()))
	}
	return errBehind
}
