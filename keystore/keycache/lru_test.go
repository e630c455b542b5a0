package keycache

import (
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/sagate/sagate/keystore"
)

func hashOf(b byte) keystore.KeyHash {
	var h keystore.KeyHash
	h[31] = b
	return h
}

// testShard returns an empty shard of the given capacity, on a heap slab.
func testShard(capacity int) *shard {
	var s shard
	s.init(capacity, make([]slot, capacity+1), &accountIntern{m: make(map[string][]*accountData)})
	return &s
}

// putNeg stores a negative answer for h.
func putNeg(s *shard, h keystore.KeyHash) {
	s.slots[s.put(&h)].kind = slotNegative
}

// order lists the shard's hashes (by their last byte) from most to least recently used.
func order(s *shard) []byte {
	var out []byte
	for i := s.slots[0].next; i != 0; i = s.slots[i].next {
		out = append(out, s.slots[i].tail[len(hashTail{})-1])
	}
	return out
}

// checkShard verifies that list, index and count agree, and that every listed hash
// is found from its home position.
func checkShard(t *testing.T, s *shard) {
	t.Helper()
	listed := 0
	for i := s.slots[0].next; i != 0; i = s.slots[i].next {
		listed++
		if s.slots[i].kind == slotFree {
			t.Fatalf("slot %d is listed but free", i)
		}
		if got, _ := s.findTail(&s.slots[i].tail); got != i {
			t.Fatalf("slot %d is listed but its hash finds slot %d", i, got)
		}
		if listed > s.cap {
			t.Fatal("the list is longer than the capacity (a cycle?)")
		}
	}
	indexed := 0
	for _, i := range s.index {
		if i != 0 {
			indexed++
		}
	}
	if listed != s.n || indexed != s.n {
		t.Fatalf("%d listed, %d indexed, n = %d", listed, indexed, s.n)
	}
}

func TestShardLRU(t *testing.T) {
	tests := []struct {
		name string
		cap  int
		ops  func(s *shard)
		want []byte // most recent first
	}{
		{"fills up to capacity", 3, func(s *shard) {
			for _, b := range []byte{1, 2, 3} {
				putNeg(s, hashOf(b))
			}
		}, []byte{3, 2, 1}},
		{"evicts the least recently put", 3, func(s *shard) {
			for _, b := range []byte{1, 2, 3, 4} {
				putNeg(s, hashOf(b))
			}
		}, []byte{4, 3, 2}},
		{"a touch protects from eviction", 3, func(s *shard) {
			for _, b := range []byte{1, 2, 3} {
				putNeg(s, hashOf(b))
			}
			h := hashOf(1)
			i, _ := s.find(&h)
			s.touch(i)
			putNeg(s, hashOf(4))
		}, []byte{4, 1, 3}},
		{"replacing keeps one slot per hash", 3, func(s *shard) {
			putNeg(s, hashOf(1))
			putNeg(s, hashOf(2))
			putNeg(s, hashOf(1))
		}, []byte{1, 2}},
		{"remove", 3, func(s *shard) {
			putNeg(s, hashOf(1))
			putNeg(s, hashOf(2))
			h1, h9 := hashOf(1), hashOf(9)
			s.remove(&h1)
			s.remove(&h9) // absent: no-op
		}, []byte{2}},
		{"a removed slot is used again", 2, func(s *shard) {
			putNeg(s, hashOf(1))
			putNeg(s, hashOf(2))
			h := hashOf(1)
			s.remove(&h)
			putNeg(s, hashOf(3))
		}, []byte{3, 2}},
		{"capacity one", 1, func(s *shard) {
			putNeg(s, hashOf(1))
			putNeg(s, hashOf(2))
		}, []byte{2}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := testShard(tt.cap)
			tt.ops(s)
			if got := order(s); string(got) != string(tt.want) {
				t.Fatalf("order = %v, want %v", got, tt.want)
			}
			checkShard(t, s)
			if int(s.used) > tt.cap+1 {
				t.Fatalf("%d slots handed out for capacity %d", s.used-1, tt.cap)
			}
		})
	}
}

// TestShardAgainstModel drives a shard with random puts, touches and removes of hashes
// that collide in the index (only a few home positions), and compares it with a plain
// list after every step: the index must find every hash after any deletion.
func TestShardAgainstModel(t *testing.T) {
	const capacity, keys, steps = 16, 40, 20000
	rng := rand.New(rand.NewPCG(1, 2))
	hashes := make([]keystore.KeyHash, keys)
	for i := range hashes {
		hashes[i][31] = byte(i)
		hashes[i][8] = byte(rng.IntN(4)) // home positions 0..3 of 64: long probe runs
	}
	s := testShard(capacity)
	var model []int // most recent first
	for step := range steps {
		k := rng.IntN(keys)
		h := hashes[k]
		at := slices.Index(model, k)
		switch op := rng.IntN(3); op {
		case 0: // put
			putNeg(s, h)
			if at >= 0 {
				model = slices.Delete(model, at, at+1)
			}
			model = slices.Insert(model, 0, k)
			if len(model) > capacity {
				model = model[:capacity]
			}
		case 1: // touch
			if i, _ := s.find(&h); (i != 0) != (at >= 0) {
				t.Fatalf("step %d: find(%d) = %d, model has it at %d", step, k, i, at)
			} else if i != 0 {
				s.touch(i)
				model = slices.Insert(slices.Delete(model, at, at+1), 0, k)
			}
		case 2: // remove
			s.remove(&h)
			if at >= 0 {
				model = slices.Delete(model, at, at+1)
			}
		}
		got := order(s)
		want := make([]byte, len(model))
		for i, k := range model {
			want[i] = byte(k)
		}
		if string(got) != string(want) {
			t.Fatalf("step %d: order = %v, want %v", step, got, want)
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
			if len(shards[i].slots) != shards[i].cap+1 || len(shards[i].index) < 2*shards[i].cap {
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
	pi := s.put(&pos)
	sl := &s.slots[pi]
	sl.kind, sl.state, sl.kidLen = slotPositive, stateActive, uint8(copy(sl.kid[:], "key_1"))
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
