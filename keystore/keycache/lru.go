package keycache

import (
	"encoding/binary"
	"sync"

	"github.com/sagate/sagate/keystore"
)

// maxShards is the most shards a cache is split into, so that 2–8 cores hitting it
// at once rarely wait on one mutex.
const maxShards = 64

// minPerShard keeps tiny caches in few shards, so that Size stays a tight bound.
const minPerShard = 8

// node is one cached answer, on its shard's LRU list. A positive node is the head of
// an entryNode; a negative one is allocated alone.
type node struct {
	h keystore.KeyHash
	e *Entry // nil: Redis said there is no such key
	// confirmed is when the Redis lookup that produced it started, as Cache.mono
	// (monotonic nanoseconds). A negative answers for NegativeTTL from then.
	confirmed int64
	gen       uint64 // generation it was fetched under

	prev, next *node
}

// shard is a bounded LRU of nodes with its own lock. Not safe for concurrent use
// without holding mu.
type shard struct {
	mu   sync.Mutex
	m    map[keystore.KeyHash]*node
	root node // sentinel: root.next is the most recently used, root.prev the least
	cap  int
	// inv is bumped whenever an event drops a hash of this shard. A lookup notes it
	// before asking Redis and does not cache its reply if it moved meanwhile: that
	// reply may predate the change the event announced (see Cache.store).
	inv uint64
	// Hit counters, under mu, so that hits do not contend on a shared cache line.
	hits, negHits uint64
	// accounts interns the shared parts of the shard's entries by service account id
	// (usually one per account; more while an account's records are being rewritten).
	accounts map[string][]*account

	_ [64]byte // keep neighbouring shards' locks off one cache line
}

// newShards splits size entries into a power-of-two number of shards whose
// capacities add up to at most size.
func newShards(size int) ([]shard, uint64) {
	n := maxShards
	for n > 1 && size/n < minPerShard {
		n /= 2
	}
	shards := make([]shard, n)
	for i := range shards {
		shards[i].init(size / n)
	}
	return shards, uint64(n - 1)
}

// init prepares an empty shard holding at most capacity nodes (at least 1).
func (s *shard) init(capacity int) {
	s.m = make(map[keystore.KeyHash]*node)
	s.accounts = make(map[string][]*account)
	s.root.next = &s.root
	s.root.prev = &s.root
	s.cap = max(capacity, 1)
}

// shard returns the shard of h. Key hashes are SHA-256 output, so any 8 bytes are
// uniformly distributed.
func (c *Cache) shard(h keystore.KeyHash) *shard {
	return &c.shards[binary.LittleEndian.Uint64(h[:8])&c.mask]
}

// unlink takes n off the list.
func (s *shard) unlink(n *node) {
	n.prev.next = n.next
	n.next.prev = n.prev
	n.prev, n.next = nil, nil
}

// pushFront puts n at the most recently used end.
func (s *shard) pushFront(n *node) {
	n.prev = &s.root
	n.next = s.root.next
	s.root.next.prev = n
	s.root.next = n
}

// touch marks n as the most recently used.
func (s *shard) touch(n *node) {
	if s.root.next == n {
		return
	}
	s.unlink(n)
	s.pushFront(n)
}

// put inserts or replaces the node of n.h and evicts the least recently used
// node if the shard is over capacity. It returns the node that was replaced, if any.
func (s *shard) put(n *node) (old *node) {
	if old = s.m[n.h]; old != nil {
		s.unlink(old)
		s.release(old)
	}
	s.m[n.h] = n
	s.hold(n)
	s.pushFront(n)
	for len(s.m) > s.cap {
		lru := s.root.prev
		s.unlink(lru)
		delete(s.m, lru.h)
		s.release(lru)
	}
	return old
}

// remove drops the node of h, if any.
func (s *shard) remove(h keystore.KeyHash) {
	if n := s.m[h]; n != nil {
		s.unlink(n)
		delete(s.m, h)
		s.release(n)
	}
}
