package keycache

import (
	"testing"

	"github.com/sagate/sagate/keystore"
)

func hashOf(b byte) keystore.KeyHash {
	var h keystore.KeyHash
	h[31] = b
	return h
}

// order lists the shard's hashes (by their last byte) from most to least recently used.
func order(s *shard) []byte {
	var out []byte
	for n := s.root.next; n != &s.root; n = n.next {
		out = append(out, n.h[31])
	}
	return out
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
				s.put(&node{h: hashOf(b)})
			}
		}, []byte{3, 2, 1}},
		{"evicts the least recently put", 3, func(s *shard) {
			for _, b := range []byte{1, 2, 3, 4} {
				s.put(&node{h: hashOf(b)})
			}
		}, []byte{4, 3, 2}},
		{"a touch protects from eviction", 3, func(s *shard) {
			for _, b := range []byte{1, 2, 3} {
				s.put(&node{h: hashOf(b)})
			}
			s.touch(s.m[hashOf(1)])
			s.put(&node{h: hashOf(4)})
		}, []byte{4, 1, 3}},
		{"replacing keeps one node per hash", 3, func(s *shard) {
			s.put(&node{h: hashOf(1)})
			s.put(&node{h: hashOf(2)})
			s.put(&node{h: hashOf(1)})
		}, []byte{1, 2}},
		{"remove", 3, func(s *shard) {
			s.put(&node{h: hashOf(1)})
			s.put(&node{h: hashOf(2)})
			s.remove(hashOf(1))
			s.remove(hashOf(9)) // absent: no-op
		}, []byte{2}},
		{"capacity one", 1, func(s *shard) {
			s.put(&node{h: hashOf(1)})
			s.put(&node{h: hashOf(2)})
		}, []byte{2}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var s shard
			s.init(tt.cap)
			tt.ops(&s)
			got := order(&s)
			if string(got) != string(tt.want) {
				t.Fatalf("order = %v, want %v", got, tt.want)
			}
			if len(s.m) != len(tt.want) {
				t.Fatalf("map has %d entries, list %d", len(s.m), len(tt.want))
			}
			for _, b := range tt.want {
				if s.m[hashOf(b)] == nil {
					t.Fatalf("hash %d on the list but not in the map", b)
				}
			}
		})
	}
}

func TestNewShardsBoundSize(t *testing.T) {
	tests := []struct {
		size, wantShards int
	}{
		{1, 1}, {10, 1}, {16, 2}, {100, 8}, {512, 64}, {10000, 64},
	}
	for _, tt := range tests {
		shards, mask := newShards(tt.size)
		if len(shards) != tt.wantShards || mask != uint64(tt.wantShards-1) {
			t.Errorf("size %d: %d shards (mask %d), want %d", tt.size, len(shards), mask, tt.wantShards)
		}
		total := 0
		for i := range shards {
			total += shards[i].cap
		}
		if total > tt.size || total < tt.size*9/10 {
			t.Errorf("size %d: shard capacities add up to %d", tt.size, total)
		}
	}
}
