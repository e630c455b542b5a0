package keycache

import (
	"errors"

	"go.uber.org/zap"

	"github.com/sagate/sagate/keystore/wire"
)

// Revision floors. Anyone who can write to Redis can put back a record the admin once
// signed for the same key (DUMP, then RESTORE ... REPLACE): it verifies, so signatures
// alone do not refuse it. What refuses it is memory: for every key it has cached, the
// cache remembers the highest revision of its record it has seen and whether the key
// was revoked (a tombstone, or an event that flagged it gone), and it never takes an
// older record for that key, nor a live one for a revoked key:
//
//   - while the key is cached, in its slot (positive slots keep the record's revision);
//   - once the slot leaves (evicted from the LRU, dropped by an event, or Redis said
//     "no such key"), in a floor slot of its own list, like the negative answers: about
//     Size/8 of them (floorCapOf), least recently made first out, so a floor is only
//     forgotten once that many other keys of its shard left the cache after it.
//
// Floors never answer a lookup: they only judge what Redis answers. A record older than
// the floor is "cannot tell" (a stale entry or ErrUnavailable: the admin puts the
// store's state back within seconds); a live record of a key whose floor is revoked is
// answered as the revocation it replays over (revocation is final), and cached so.
//
// An event whose revision is not above that of the cached record leaves the entry:
// the record read at that revision or later already holds the change the event
// announces. So a copy of an old event (which verifies) does not push entries out to
// the floor list, nor floors out of it.

// floorShare and minFloors set the room for floors: a shard holding capacity entries
// holds max(capacity/floorShare, minFloors) floors besides, so a cache of Size entries
// about Size/8 (a small cache, 8 per shard). One in eight: at cache_size 100000 the
// shards' indexes keep their size, and floor slots are only backed once used.
const (
	floorShare = 8
	minFloors  = 8
)

// floorCapOf is the room for floors of a shard holding capacity positive slots.
func floorCapOf(capacity int) int { return max(capacity/floorShare, minFloors) }

// errOlder means Redis answered with a record older than one this cache has seen for
// the same key. It never names the key.
var errOlder = errors.New("redis holds an older record of the key than this cache has seen (replayed?)")

// slotRev is a record's revision as a slot keeps it: 40 bits, which fit in the slot's
// padding. A revision above maxSlotRev is kept as maxSlotRev: floors then refuse only
// records below that, never a newer one.
type slotRev [5]byte

// maxSlotRev is the highest revision a slot keeps exactly.
const maxSlotRev = 1<<40 - 1

// get returns the revision.
func (r *slotRev) get() int64 {
	return int64(r[0]) | int64(r[1])<<8 | int64(r[2])<<16 | int64(r[3])<<24 | int64(r[4])<<32
}

// set keeps rev (clamped to [0, maxSlotRev]).
func (r *slotRev) set(rev int64) {
	v := uint64(min(max(rev, 0), maxSlotRev))
	*r = slotRev{byte(v), byte(v >> 8), byte(v >> 16), byte(v >> 24), byte(v >> 32)}
}

// demote turns positive slot i into a floor (its revision and whether it was revoked),
// first dropping the least recently made floor when the list is full. The caller holds
// s.mu.
func (s *shard) demote(i int32) {
	if s.floors >= s.floorCap {
		s.removeTail(&s.slots[s.slots[floorList].prev].tail)
	}
	sl := &s.slots[i]
	s.release(sl)
	s.unlink(i)
	*sl = slot{tail: sl.tail, ver: sl.ver + 1, kind: slotFloor, state: sl.state, rev: sl.rev}
	s.n--
	s.floors++
	s.pushFront(floorList, i)
}

// dropEntry applies a keys event of revision rev (not flagged gone) to h: a cached
// record of rev or later stays (it holds the change); an older one becomes a floor of
// rev, and a floor is raised to rev (the event says the key's record is that new now);
// a negative answer goes. The caller holds s.mu.
func (s *shard) dropEntry(h *wire.KeyHash, rev int64) {
	i, _ := s.find(h)
	if i == 0 {
		return
	}
	switch sl := &s.slots[i]; sl.kind {
	case slotPositive:
		if rev > 0 && rev <= maxSlotRev && sl.rev.get() >= rev {
			return
		}
		s.demote(i)
		fallthrough
	case slotFloor:
		// The record now in Redis is of rev or later: the admin writes it before the
		// event, at the revision it read the store at, never below the change's.
		if rev > sl.rev.get() {
			sl.rev.set(rev)
		}
	case slotNegative:
		s.remove(h)
	}
}

// floorVerdict is how a record read from Redis compares with what a shard remembers
// of its key.
type floorVerdict uint8

const (
	floorPasses  floorVerdict = iota // nothing newer is known
	floorRevoked                     // the key was seen revoked; the record is live
	floorOlder                       // a newer record of the key was seen
)

// checkFloor judges rec against slot i of its key (0: none; a positive or floor slot
// is what the shard remembers). The caller holds s.mu.
func (s *shard) checkFloor(i int32, rec *wire.Record) floorVerdict {
	if i == 0 {
		return floorPasses
	}
	sl := &s.slots[i]
	if sl.kind != slotPositive && sl.kind != slotFloor {
		return floorPasses
	}
	switch {
	case rec.State == wire.KeyRevoked:
		return floorPasses // a tombstone the admin signed is final, whatever its revision
	case sl.state == stateRevoked:
		return floorRevoked
	case rec.Rev < sl.rev.get():
		return floorOlder
	}
	return floorPasses
}

// older counts and logs (rate-limited, never the key) a record refused for being older
// than one seen, and returns errOlder.
func (c *Cache) older() error {
	c.olderN.Add(1)
	if c.warnDue(&c.olderWarned) {
		c.log.Warn("redis holds an older record of a key than this cache has seen, or a live record of a key it saw revoked (someone other than the admin wrote to redis: a replay?); refused until the admin repairs it",
			zap.Uint64("refused_total", c.olderN.Load()))
	}
	return errOlder
}
