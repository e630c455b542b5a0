package keycache

import (
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/sagate/sagate/keystore/wire"
)

func hashOf(b byte) wire.KeyHash {
	var h wire.KeyHash
	h[31] = b
	return h
}

// testShard returns an empty shard of the given capacity, on a heap slab.
func testShard(capacity int) *shard {
	var s shard
	s.init(capacity, make([]slot, int(firstSlot)+capacity+negCapOf(capacity)+floorCapOf(capacity)), &accountIntern{m: make(map[string][]*accountData)})
	return &s
}

// putPos stores a positive answer for h, with an account of its own, as Cache.store does.
func putPos(s *shard, h wire.KeyHash) {
	i := s.put(&h, slotPositive)
	rec := activeRecord()
	a := s.account(&rec, true)
	a.refs++
	s.slots[i].acc = a.idx
}

// putNeg stores a negative answer for h.
func putNeg(s *shard, h wire.KeyHash) { s.put(&h, slotNegative) }

// order lists the hashes of the shard's positive list (by their last byte) from most
// to least recently used.
func order(s *shard) []byte { return listed(s, posList) }

// listed lists the hashes of the list whose sentinel is root (by their last byte) from
// most to least recently used.
func listed(s *shard, root int32) []byte {
	var out []byte
	for i := s.slots[root].next; i != root; i = s.slots[i].next {
		out = append(out, s.slots[i].tail[len(hashTail{})-1])
	}
	return out
}

// checkShard verifies that lists, index and counts agree, that each list holds only
// its kind within its capacity, and that every listed hash is found from its home
// position.
func checkShard(t *testing.T, s *shard) {
	t.Helper()
	listed, negs, floors := 0, 0, 0
	for _, l := range []struct {
		root  int32
		kind  uint8
		limit int
	}{{posList, slotPositive, s.cap}, {negList, slotNegative, s.negCap}, {floorList, slotFloor, s.floorCap}} {
		n := 0
		for i := s.slots[l.root].next; i != l.root; i = s.slots[i].next {
			n++
			if s.slots[i].kind != l.kind {
				t.Fatalf("slot %d of kind %d is on the list of kind %d", i, s.slots[i].kind, l.kind)
			}
			if got, _ := s.findTail(&s.slots[i].tail); got != i {
				t.Fatalf("slot %d is listed but its hash finds slot %d", i, got)
			}
			if n > l.limit {
				t.Fatalf("the list of kind %d is longer than its capacity %d (a cycle?)", l.kind, l.limit)
			}
		}
		switch l.kind {
		case slotNegative:
			negs = n
		case slotFloor:
			floors = n
			continue // not counted in n
		}
		listed += n
	}
	if negs != s.neg || floors != s.floors {
		t.Fatalf("%d negatives listed, neg = %d; %d floors listed, floors = %d", negs, s.neg, floors, s.floors)
	}
	indexed := 0
	for _, i := range s.index {
		if i != 0 {
			indexed++
		}
	}
	if listed != s.n || indexed != s.n+s.floors {
		t.Fatalf("%d listed, %d indexed, n = %d, floors = %d", listed, indexed, s.n, s.floors)
	}
}

func TestShardLRU(t *testing.T) {
	tests := []struct {
		name      string
		cap       int // positives; negatives get negCapOf(cap), floors floorCapOf(cap)
		ops       func(s *shard)
		want      []byte // positive list, most recent first
		wantNeg   []byte // negative list, most recent first
		wantFloor []byte // floor list, most recent first
	}{
		{"fills up to capacity", 3, func(s *shard) {
			for _, b := range []byte{1, 2, 3} {
				putPos(s, hashOf(b))
			}
		}, []byte{3, 2, 1}, nil, nil},
		{"evicts the least recently put", 3, func(s *shard) {
			for _, b := range []byte{1, 2, 3, 4} {
				putPos(s, hashOf(b))
			}
		}, []byte{4, 3, 2}, nil, []byte{1}},
		{"a touch protects from eviction", 3, func(s *shard) {
			for _, b := range []byte{1, 2, 3} {
				putPos(s, hashOf(b))
			}
			h := hashOf(1)
			i, _ := s.find(&h)
			s.touch(i)
			putPos(s, hashOf(4))
		}, []byte{4, 1, 3}, nil, []byte{2}},
		{"replacing keeps one slot per hash", 3, func(s *shard) {
			putPos(s, hashOf(1))
			putPos(s, hashOf(2))
			putPos(s, hashOf(1))
		}, []byte{1, 2}, nil, nil},
		{"remove", 3, func(s *shard) {
			putPos(s, hashOf(1))
			putNeg(s, hashOf(2))
			h1, h2, h9 := hashOf(1), hashOf(2), hashOf(9)
			s.remove(&h1)
			s.remove(&h2)
			s.remove(&h9) // absent: no-op
		}, nil, nil, nil},
		{"a removed slot is used again", 2, func(s *shard) {
			putPos(s, hashOf(1))
			putPos(s, hashOf(2))
			h := hashOf(1)
			s.remove(&h)
			putPos(s, hashOf(3))
		}, []byte{3, 2}, nil, nil},
		{"capacity one", 1, func(s *shard) {
			putPos(s, hashOf(1))
			putPos(s, hashOf(2))
		}, []byte{2}, nil, []byte{1}},
		{"negatives evict only negatives", 16, func(s *shard) { // negCap 2
			putPos(s, hashOf(1))
			for b := byte(10); b < 60; b++ {
				putNeg(s, hashOf(b))
			}
		}, []byte{1}, []byte{59, 58}, nil},
		{"positives evict only positives", 8, func(s *shard) { // negCap 1
			putNeg(s, hashOf(100))
			for b := byte(1); b <= 20; b++ {
				putPos(s, hashOf(b))
			}
		}, []byte{20, 19, 18, 17, 16, 15, 14, 13}, []byte{100}, []byte{12, 11, 10, 9, 8, 7, 6, 5}},
		{"floors evict only floors, oldest first", 16, func(s *shard) { // floorCap 8
			putNeg(s, hashOf(100))
			for b := byte(1); b <= 40; b++ {
				putPos(s, hashOf(b))
			}
		}, []byte{40, 39, 38, 37, 36, 35, 34, 33, 32, 31, 30, 29, 28, 27, 26, 25}, []byte{100}, []byte{24, 23, 22, 21, 20, 19, 18, 17}},
		{"a floor becoming positive leaves its list", 1, func(s *shard) {
			putPos(s, hashOf(1))
			putPos(s, hashOf(2))
			putPos(s, hashOf(1))
		}, []byte{1}, nil, []byte{2}},
		{"a negative becoming positive changes lists", 8, func(s *shard) {
			putPos(s, hashOf(1))
			putNeg(s, hashOf(2))
			putPos(s, hashOf(2))
		}, []byte{2, 1}, nil, nil},
		{"a positive becoming negative changes lists", 8, func(s *shard) {
			putPos(s, hashOf(1))
			putPos(s, hashOf(2))
			putNeg(s, hashOf(1))
		}, []byte{2}, []byte{1}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := testShard(tt.cap)
			tt.ops(s)
			if got := order(s); string(got) != string(tt.want) {
				t.Errorf("positive order = %v, want %v", got, tt.want)
			}
			if got := listed(s, negList); string(got) != string(tt.wantNeg) {
				t.Errorf("negative order = %v, want %v", got, tt.wantNeg)
			}
			if got := listed(s, floorList); string(got) != string(tt.wantFloor) {
				t.Errorf("floor order = %v, want %v", got, tt.wantFloor)
			}
			checkShard(t, s)
			if n := int(s.used - firstSlot); n > tt.cap+s.negCap+s.floorCap {
				t.Fatalf("%d slots handed out for capacity %d+%d+%d", n, tt.cap, s.negCap, s.floorCap)
			}
		})
	}
}

// TestShardAgainstModel drives a shard with random puts (positive and negative),
// touches and removes of hashes that collide in the index (only a few home positions),
// and compares its two lists with plain ones after every step: the index must find
// every hash after any deletion, and each kind evicts only its own.
func TestShardAgainstModel(t *testing.T) {
	const capacity, keys, steps = 16, 40, 20000
	negCap, floorCap := negCapOf(capacity), floorCapOf(capacity)
	rng := rand.New(rand.NewPCG(1, 2))
	hashes := make([]wire.KeyHash, keys)
	for i := range hashes {
		hashes[i][31] = byte(i)
		hashes[i][8] = byte(rng.IntN(4)) // home positions 0..3 of 64: long probe runs
	}
	s := testShard(capacity)
	var pos, neg, floor []int // the lists, most recent first
	drop := func(k int) {
		for _, l := range []*[]int{&pos, &neg, &floor} {
			if at := slices.Index(*l, k); at >= 0 {
				*l = slices.Delete(*l, at, at+1)
			}
		}
	}
	for step := range steps {
		k := rng.IntN(keys)
		h := hashes[k]
		held := slices.Contains(pos, k) || slices.Contains(neg, k) || slices.Contains(floor, k)
		switch op := rng.IntN(4); op {
		case 0: // put positive
			putPos(s, h)
			drop(k)
			pos = slices.Insert(pos, 0, k)
			if len(pos) > capacity { // the evicted one becomes a floor
				floor = slices.Insert(floor, 0, pos[capacity])
				floor = floor[:min(len(floor), floorCap)]
				pos = pos[:capacity]
			}
		case 1: // put negative
			putNeg(s, h)
			drop(k)
			neg = slices.Insert(neg, 0, k)
			neg = neg[:min(len(neg), negCap)]
		case 2: // touch
			if i, _ := s.find(&h); (i != 0) != held {
				t.Fatalf("step %d: find(%d) = %d, model holds it: %v", step, k, i, held)
			} else if i != 0 {
				s.touch(i)
				for _, l := range []*[]int{&pos, &neg, &floor} {
					if at := slices.Index(*l, k); at >= 0 {
						*l = slices.Insert(slices.Delete(*l, at, at+1), 0, k)
					}
				}
			}
		case 3: // remove
			s.remove(&h)
			drop(k)
		}
		for _, l := range []struct {
			root  int32
			model []int
		}{{posList, pos}, {negList, neg}, {floorList, floor}} {
			got := listed(s, l.root)
			want := make([]byte, len(l.model))
			for i, k := range l.model {
				want[i] = byte(k)
			}
			if string(got) != string(want) {
				t.Fatalf("step %d: list %d = %v, want %v", step, l.root, got, want)
			}
		}
		checkShard(t, s)
	}
}

func TestNewShardsBoundSize(t *testing.T) {
	tests := []struct {
		size, wantShards int
	}{
		{1, 1}, {10, 1}, {16, 2}, {100, 8}, {512, 64}, {10000, 64},
	}
	for _, tt := range tests {
		shards, mask, sl := newShards(tt.size)
		if len(shards) != tt.wantShards || mask != uint64(tt.wantShards-1) {
			t.Errorf("size %d: %d shards (mask %d), want %d", tt.size, len(shards), mask, tt.wantShards)
		}
		total := 0
		for i := range shards {
			total += shards[i].cap
			c := shards[i].cap + shards[i].negCap + shards[i].floorCap
			if len(shards[i].slots) != int(firstSlot)+c || len(shards[i].index) < 2*c ||
				shards[i].negCap != max(shards[i].cap/negativeShare, 1) {
				t.Errorf("size %d: shard %d has %d slots and an index of %d for capacity %d",
					tt.size, i, len(shards[i].slots), len(shards[i].index), shards[i].cap)
			}
		}
		if total > tt.size || total < tt.size*9/10 {
			t.Errorf("size %d: shard capacities add up to %d", tt.size, total)
		}
		sl.release()
	}
}

// kill turns a positive slot into a refusal in place (same slot, key id kept), removes
// a negative one, and does nothing for a hash it does not hold.
func TestShardKill(t *testing.T) {
	s := testShard(4)
	pos, neg, absent := hashOf(1), hashOf(2), hashOf(3)
	pi := s.put(&pos, slotPositive)
	sl := &s.slots[pi]
	sl.state, sl.kidLen = stateActive, uint8(copy(sl.kid[:], "key_1"))
	ver := sl.ver
	putNeg(s, neg)

	s.kill(&pos)
	s.kill(&neg)
	s.kill(&absent)

	if i, _ := s.find(&pos); i != pi || sl.kind != slotPositive || sl.state != stateRevoked ||
		string(sl.kid[:sl.kidLen]) != "key_1" || sl.ver != ver {
		t.Errorf("positive slot after kill: index %d (want %d), kind %d, state %d, key id %q, ver %d (want %d)",
			i, pi, sl.kind, sl.state, sl.kid[:sl.kidLen], sl.ver, ver)
	}
	if i, _ := s.find(&neg); i != 0 {
		t.Errorf("negative slot still held after kill (slot %d)", i)
	}
	if s.n != 1 || !slices.Equal(order(s), []byte{1}) {
		t.Errorf("shard holds %d slots in order %v, want just key 1", s.n, order(s))
	}
	checkShard(t, s)
}
