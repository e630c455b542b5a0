package wire_test

import (
	"strings"
	"testing"

	"github.com/redis/go-redis/v9"

	"github.com/sagate/sagate/internal/testing/keytest"
	"github.com/sagate/sagate/keystore/wire"
)

// TestSlot checks Slot against slots Redis documents or computes (CLUSTER KEYSLOT).
func TestSlot(t *testing.T) {
	tests := []struct {
		key  string
		slot int
	}{
		{"", 0},
		{"foo", 12182},
		{"123456789", 0x31C3 % 16384}, // the CRC16-XMODEM check value
		{"{user1000}.following", 3443},
		{"{user1000}.followers", 3443},
		{"user1000", 3443},
		{"foo{{bar}}zap", wire.Slot("{bar")},
	}
	for _, tt := range tests {
		if got := wire.Slot(tt.key); got != tt.slot {
			t.Errorf("Slot(%q) = %d, want %d", tt.key, got, tt.slot)
		}
	}
	if wire.Slot("foo{}{bar}") == wire.Slot("bar") {
		t.Error(`Slot("foo{}{bar}") took "bar" as the tag; Redis hashes the whole key when the first tag is empty`)
	}
}

// TestShardRevKeyInItsSlot: the marker of a range lives in the range's first slot,
// for every slot.
func TestShardRevKeyInItsSlot(t *testing.T) {
	for slot := 0; slot < 16384; slot++ {
		k := wire.ShardRevKey(slot)
		if got := wire.Slot(k); got != slot {
			t.Fatalf("ShardRevKey(%d) = %q is in slot %d", slot, k, got)
		}
		if !strings.HasPrefix(k, wire.RedisShardRevPrefix) {
			t.Fatalf("ShardRevKey(%d) = %q lacks the prefix %q", slot, k, wire.RedisShardRevPrefix)
		}
	}
}

func TestShardsKeyFor(t *testing.T) {
	node := []redis.ClusterNode{{Addr: "127.0.0.1:7000"}}
	sh := wire.ShardsOf([]redis.ClusterSlot{
		{Start: 10923, End: 16383, Nodes: node},
		{Start: 0, End: 5460, Nodes: node},
		{Start: 5461, End: 10000, Nodes: node},
		{Start: 10001, End: 10922}, // no node: left out
	})
	if sh.Len() != 3 {
		t.Fatalf("Len = %d, want 3", sh.Len())
	}
	tests := []struct {
		slot  int
		start int // -1: none
	}{
		{0, 0}, {5460, 0}, {5461, 5461}, {10000, 5461}, {10001, -1}, {10922, -1}, {10923, 10923}, {16383, 10923},
	}
	for _, tt := range tests {
		got, ok := sh.KeyForSlot(tt.slot)
		if tt.start < 0 {
			if ok {
				t.Errorf("KeyForSlot(%d) = %q, want none", tt.slot, got)
			}
			continue
		}
		if want := wire.ShardRevKey(tt.start); !ok || got != want {
			t.Errorf("KeyForSlot(%d) = %q, %v; want %q", tt.slot, got, ok, want)
		}
	}
	want := []string{wire.ShardRevKey(0), wire.ShardRevKey(5461), wire.ShardRevKey(10923)}
	if got := sh.Keys(); strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("Keys = %q, want %q", got, want)
	}
	if k, ok := sh.KeyFor("foo"); !ok || k != wire.ShardRevKey(10923) { // slot 12182
		t.Errorf(`KeyFor("foo") = %q, %v`, k, ok)
	}
	if !sh.Equal(wire.ShardsOf([]redis.ClusterSlot{{Start: 0, End: 5460, Nodes: node}, {Start: 5461, End: 10000, Nodes: node}, {Start: 10923, End: 16383, Nodes: node}})) {
		t.Error("Equal is false for the same ranges in another order")
	}
	if sh.Equal(wire.ShardsOf([]redis.ClusterSlot{{Start: 0, End: 16383, Nodes: node}})) {
		t.Error("Equal is true for other ranges")
	}
	var none wire.Shards
	if _, ok := none.KeyForSlot(0); ok || none.Len() != 0 {
		t.Error("the zero Shards has ranges")
	}
}

// TestShardRevSealNamesItsKey: a shard marker verifies under its own key only, and
// never as the global marker.
func TestShardRevSealNamesItsKey(t *testing.T) {
	k := keytest.SigningKey(t)
	v := wire.NewVerifier(k.Public())
	a, b := wire.ShardRevKey(0), wire.ShardRevKey(5461)
	sealed := wire.SealShardRev(k, a, 42)
	if rev, err := wire.OpenShardRev(v, a, sealed); err != nil || rev != 42 {
		t.Fatalf("OpenShardRev = %d, %v; want 42", rev, err)
	}
	if _, err := wire.OpenShardRev(v, b, sealed); err == nil {
		t.Error("a shard marker copied to another shard's key verified")
	}
	if _, err := wire.OpenRev(v, sealed); err == nil {
		t.Error("a shard marker verified as the global revision marker")
	}
	if _, err := wire.OpenShardRev(v, a, wire.SealRev(k, 42)); err == nil {
		t.Error("the global revision marker verified as a shard marker")
	}
}
