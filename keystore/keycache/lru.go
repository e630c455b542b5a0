package keycache

import (
	"encoding/binary"
	"math/bits"
	"sync"

	"github.com/sagate/sagate/keystore/wire"
)

// maxShards is the most shards a cache is split into, so that 2–8 cores hitting it
// at once rarely wait on one mutex.
const maxShards = 64

// minPerShard keeps tiny caches in few shards, so that Size stays a tight bound.
const minPerShard = 8

// negativeShare sets the room for "no such key" answers: besides its Size verified
// entries, a cache holds at most Size/negativeShare negative ones (at least one per
// shard), in a list of their own. Unknown keys only ever evict each other, so no flood
// of made-up keys (the key checksum is public: random well-formed keys pass it) can
// push a verified key out. A negative answer lasts NegativeTTL, a few seconds: its
// region only needs to hold the unknown keys that come back within that time.
const negativeShare = 8

// Sentinels of a shard's three LRU lists: slots[posList] for verified entries and
// refusals, slots[negList] for "no such key", slots[floorList] for what the cache still
// knows of keys that left the first list (floor.go). Slots from firstSlot on are handed out.
const (
	posList   int32 = 0
	negList   int32 = 1
	floorList int32 = 2
	firstSlot int32 = 3
)

// MaxKeyIDLen is the longest key id an entry holds (keystore ids are 24 bytes). A
// record with a longer key id is an error: the sidecar answers 503 rather than guess.
const MaxKeyIDLen = 32

// Kinds of slot.
const (
	slotFree     uint8 = iota // on the free list
	slotNegative              // Redis said there is no such key
	slotPositive              // a record
	slotFloor                 // a key's revision floor, after its record left (floor.go)
)

// slot is one cached answer. Slots live in the shard's slab, which the garbage
// collector neither scans nor counts (slab.go): a slot must hold no Go pointer. What
// a record shares with the other keys of its account is in the shard's account table,
// at index acc.
type slot struct {
	// tail is the hash without its first 8 bytes, which chose the shard: 192 bits of
	// SHA-256 tell keys apart as surely as 256 (a collision would take ~2^96 work).
	tail hashTail
	// confirmed is when the Redis lookup that produced it started, as Cache.mono
	// (monotonic nanoseconds). A negative answers for NegativeTTL from then.
	confirmed int64
	gen       uint64 // generation it was fetched under
	exp       int64  // Unix milliseconds; 0: never expires
	// lastUse is the Unix nanosecond time of the last reported use of this key.
	lastUse    int64
	prev, next int32 // LRU list of its kind (posList or negList is the sentinel)
	acc        int32 // index in shard.accs (positive slots)
	ver        uint32
	kind       uint8
	state      uint8 // stateCode of the record
	kidLen     uint8
	rev        slotRev // the record's revision (positive and floor slots)
	kid        [MaxKeyIDLen]byte
}

// hashTail is what a slot keeps of a key hash.
type hashTail [len(wire.KeyHash{}) - 8]byte

// tailOf returns the part of h a slot keeps.
func tailOf(h *wire.KeyHash) *hashTail { return (*hashTail)(h[8:]) }

// shard is a bounded LRU of slots with its own lock: three lists, one of positive
// slots (at most cap), one of negative slots (at most negCap) and one of floors (at
// most floorCap), each evicting only its own; a positive slot evicted becomes a floor.
// Not safe for concurrent use without holding mu.
type shard struct {
	mu sync.Mutex
	// slots is the slab: slots[posList] and slots[negList] are the lists' sentinels
	// (.next is the most recently used, .prev the least), slots[firstSlot:used] have
	// been handed out.
	slots []slot
	used  int32
	free  int32 // first free slot (linked by next), 0: none
	// index maps a hash to its slot: open addressing with linear probing, 0 = empty.
	index []int32
	n     int // slots in use (positive and negative)
	neg   int // negative slots in use
	cap   int // the most positive slots
	// negCap is the most negative slots (see negativeShare).
	negCap int
	// floors is the floor slots in use, not counted in n; floorCap the most (floorShare).
	floors, floorCap int
	// closed is set by Cache.Close before the slab is released.
	closed bool
	// inv is bumped whenever an event drops a hash of this shard. A lookup notes it
	// before asking Redis and does not cache its reply if it moved meanwhile: that
	// reply may predate the change the event announced (see Cache.store).
	inv uint64
	// Hit counters, under mu, so that hits do not contend on a shared cache line.
	hits, negHits uint64
	// accounts interns the shared parts of the shard's entries by service account id
	// (usually one per account; more while an account's records are being rewritten);
	// accs holds them by index (nil: a free index, listed in freeAccs).
	accounts map[string][]*account
	accs     []*account
	freeAccs []int32
	intern   *accountIntern // the cache's, shared by its shards

	_ [64]byte // keep neighbouring shards' locks off one cache line
}

// newShards splits size entries into a power-of-two number of shards whose
// capacities add up to at most size, their slots carved out of one slab, each with
// room for negative answers besides (negCapOf).
func newShards(size int) ([]shard, uint64, *slab) {
	n := maxShards
	for n > 1 && size/n < minPerShard {
		n /= 2
	}
	per := max(size/n, 1)
	span := int(firstSlot) + per + negCapOf(per) + floorCapOf(per)
	sl := newSlab(n * span)
	intern := &accountIntern{m: make(map[string][]*accountData)}
	shards := make([]shard, n)
	for i := range shards {
		shards[i].init(per, sl.slots[i*span:(i+1)*span:(i+1)*span], intern)
	}
	return shards, uint64(n - 1), sl
}

// negCapOf is the room for negative answers of a shard holding capacity positive ones.
func negCapOf(capacity int) int { return max(capacity/negativeShare, 1) }

// init prepares an empty shard holding at most capacity positive slots and
// negCapOf(capacity) negative ones and floorCapOf(capacity) floors in slots
// (firstSlot+capacity+negCapOf(capacity)+floorCapOf(capacity) long, zeroed), interning
// account content in intern (shared by the cache's shards).
func (s *shard) init(capacity int, slots []slot, intern *accountIntern) {
	s.intern = intern
	s.cap = capacity
	s.negCap = negCapOf(capacity)
	s.floorCap = floorCapOf(capacity)
	s.slots = slots
	s.slots[negList].next, s.slots[negList].prev = negList, negList // posList's are 0 already
	s.slots[floorList].next, s.slots[floorList].prev = floorList, floorList
	s.used = firstSlot
	// At most half full: short probe sequences.
	s.index = make([]int32, 1<<bits.Len(uint(2*(capacity+s.negCap+s.floorCap))))
	s.accounts = make(map[string][]*account)
}

// shard returns the shard of h. Key hashes are SHA-256 output, so any 8 bytes are
// uniformly distributed.
func (c *Cache) shard(h wire.KeyHash) *shard {
	return &c.shards[binary.LittleEndian.Uint64(h[:8])&c.mask]
}

// home is t's first probe position in the index (other bytes than the shard's).
func (s *shard) home(t *hashTail) int {
	return int(binary.LittleEndian.Uint64(t[:8]) & uint64(len(s.index)-1))
}

// find returns the slot of h, or 0, and its position in the index.
func (s *shard) find(h *wire.KeyHash) (int32, int) { return s.findTail(tailOf(h)) }

// findTail returns the slot whose hash ends in t, or 0, and its position in the index.
func (s *shard) findTail(t *hashTail) (i int32, pos int) {
	mask := len(s.index) - 1
	for pos = s.home(t); ; pos = (pos + 1) & mask {
		i = s.index[pos]
		if i == 0 || s.slots[i].tail == *t {
			return i, pos
		}
	}
}

// unindex empties position pos of the index and moves later entries of its probe
// run back into the gap, so that every entry stays reachable from its home.
func (s *shard) unindex(pos int) {
	mask := len(s.index) - 1
	for j := (pos + 1) & mask; s.index[j] != 0; j = (j + 1) & mask {
		home := s.home(&s.slots[s.index[j]].tail)
		// The entry at j may fill pos unless its home lies cyclically in (pos, j].
		if (j > pos && (home <= pos || home > j)) || (j < pos && home <= pos && home > j) {
			s.index[pos] = s.index[j]
			pos = j
		}
	}
	s.index[pos] = 0
}

// unlink takes slot i off the list.
func (s *shard) unlink(i int32) {
	sl := &s.slots[i]
	s.slots[sl.prev].next = sl.next
	s.slots[sl.next].prev = sl.prev
	sl.prev, sl.next = 0, 0
}

// pushFront puts slot i at the most recently used end of the list whose sentinel is root.
func (s *shard) pushFront(root, i int32) {
	r := &s.slots[root]
	s.slots[i].prev = root
	s.slots[i].next = r.next
	s.slots[r.next].prev = i
	r.next = i
}

// listOf returns the sentinel of the list that holds slots of kind.
func listOf(kind uint8) int32 {
	switch kind {
	case slotNegative:
		return negList
	case slotFloor:
		return floorList
	}
	return posList
}

// touch marks slot i as the most recently used of its list.
func (s *shard) touch(i int32) {
	root := listOf(s.slots[i].kind)
	if s.slots[root].next == i {
		return
	}
	s.unlink(i)
	s.pushFront(root, i)
}

// put returns the slot for h, emptied but for its kind (slotPositive or slotNegative;
// the caller fills in the rest) and at the front of that kind's list: the one h had, a
// free one, or the least recently used one of the same kind, evicted. A negative
// answer never evicts a positive one, nor the reverse; a positive one evicted becomes
// a floor (demote). Its ver has moved on, so that a use report for what it held before
// is not taken for the new answer.
func (s *shard) put(h *wire.KeyHash, kind uint8) int32 {
	i, pos := s.find(h)
	if i != 0 && s.slots[i].kind != kind {
		// It changes lists: leave the old one, then enter the new one as a new slot.
		s.removeTail(tailOf(h))
		i = 0
	}
	root, full := posList, s.n-s.neg >= s.cap
	if kind == slotNegative {
		root, full = negList, s.neg >= s.negCap
	}
	switch {
	case i != 0:
		s.release(&s.slots[i])
		s.unlink(i)
	case full && kind == slotPositive:
		s.demote(s.slots[root].prev)
		i, pos = s.alloc(h)
	case full:
		s.removeTail(&s.slots[s.slots[root].prev].tail)
		i, pos = s.alloc(h)
	default:
		i, pos = s.alloc(h)
	}
	if s.index[pos] == 0 {
		s.index[pos] = i
		s.n++
		if kind == slotNegative {
			s.neg++
		}
	}
	sl := &s.slots[i]
	ver := sl.ver + 1
	*sl = slot{tail: *tailOf(h), ver: ver, kind: kind}
	s.pushFront(root, i)
	return i
}

// alloc takes a free slot for h, which is not in the index, and returns it with the
// empty index position h probes to.
func (s *shard) alloc(h *wire.KeyHash) (int32, int) {
	var i int32
	if s.free != 0 {
		i = s.free
		s.free = s.slots[i].next
	} else {
		i = s.used
		s.used++
	}
	_, pos := s.find(h)
	return i, pos
}

// remove drops the slot of h, if any.
func (s *shard) remove(h *wire.KeyHash) { s.removeTail(tailOf(h)) }

// kill makes a positive slot of h refuse its key from now on: its state becomes
// revoked, which is what the tombstone sent for the key says. The slot
// keeps its key id and account, for the log line of the refusal. A floor of h becomes
// a revoked one (floor.go); a negative slot is removed.
func (s *shard) kill(h *wire.KeyHash) {
	i, _ := s.find(h)
	if i == 0 {
		return
	}
	if sl := &s.slots[i]; sl.kind == slotPositive || sl.kind == slotFloor {
		sl.state = stateRevoked
		return
	}
	s.remove(h)
}

// removeTail drops the slot whose hash ends in t, if any.
func (s *shard) removeTail(t *hashTail) {
	i, pos := s.findTail(t)
	if i == 0 {
		return
	}
	s.unindex(pos)
	s.unlink(i)
	sl := &s.slots[i]
	s.release(sl)
	switch sl.kind {
	case slotFloor: // not counted in n
		s.floors--
	case slotNegative:
		s.neg--
		s.n--
	default:
		s.n--
	}
	sl.kind = slotFree
	sl.ver++
	sl.next = s.free
	s.free = i
}
