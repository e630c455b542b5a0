package wire

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/redis/go-redis/v9"
)

// Shard revision markers: the revision marker, once per shard of a Redis Cluster.
//
// On one server (or Sentinel) everything Redis holds goes back in time together, so
// the one marker RedisRev tells a Redis that lost writes. A Cluster's shards fail
// over, and restart, one at a time: a primary that dies before its replica got its
// last writes, or that restarts empty before its replica takes over, takes back the
// records of its slots only, while RedisRev, on another shard, still says all is
// well. So on a Cluster the admin also keeps one marker in each slot range of the
// slot map (CLUSTER SLOTS), on the same primary as that range's records, and raises
// each one after the records it wrote to that primary (a primary replicates its
// writes in the order it ran them: a replica that has the marker has the records
// before it). The admin checks every shard marker against the store's revision, as
// it checks RedisRev; a sidecar reads the marker of a record's range with the
// record, in the same pipeline to the same primary, and refuses the answer of a
// shard whose marker is missing or below a revision it has seen.

// RedisShardRevPrefix starts the key of every shard revision marker:
// "sagate:rev:{<tag>}", where tag hashes to the first slot of the marker's range.
const RedisShardRevPrefix = RedisRev + ":"

// clusterSlots is the number of hash slots of a Redis Cluster.
const clusterSlots = 16384

// Slot returns Redis Cluster's hash slot of key: CRC16 (XMODEM) of the key, or of
// its hash tag (the text between the first "{" and the next "}", when not empty),
// modulo 16384.
func Slot(key string) int {
	if i := strings.IndexByte(key, '{'); i >= 0 {
		if j := strings.IndexByte(key[i+1:], '}'); j > 0 {
			key = key[i+1 : i+1+j]
		}
	}
	var crc uint16
	for i := 0; i < len(key); i++ {
		crc = crc<<8 ^ crc16Table[byte(crc>>8)^key[i]]
	}
	return int(crc) % clusterSlots
}

// crc16Table is the table of CRC16-XMODEM (polynomial 0x1021), by byte.
var crc16Table = func() (t [256]uint16) {
	for b := range t {
		crc := uint16(b) << 8
		for range 8 {
			if crc&0x8000 != 0 {
				crc = crc<<1 ^ 0x1021
			} else {
				crc <<= 1
			}
		}
		t[b] = crc
	}
	return t
}()

// slotTags holds, for every slot, the shortest base-36 number (the first found counting
// up) whose hash slot it is. One sweep fills all 16384 (about 150,000 CRC16s of a few
// bytes, a few milliseconds) the first time a tag is asked for; the single server and
// Sentinel never ask.
var slotTags = sync.OnceValue(func() *[clusterSlots]string {
	var tags [clusterSlots]string
	for n, left := int64(0), clusterSlots; left > 0; n++ {
		t := strconv.FormatInt(n, 36)
		if s := Slot(t); tags[s] == "" {
			tags[s] = t
			left--
		}
	}
	return &tags
})

// slotTag returns the tag of slot; see slotTags.
func slotTag(slot int) string {
	return slotTags()[slot]
}

// ShardRevKey returns the key of the revision marker of the slot range that starts at
// slot start (0 to 16383); the key is in that slot.
func ShardRevKey(start int) string {
	return RedisShardRevPrefix + "{" + slotTag(start) + "}"
}

// Shards is the slot map of a Redis Cluster as the shard revision markers follow it:
// its slot ranges, sorted, each with the key of its marker. The zero Shards (a single
// server or Sentinel) has none. It is not modified after ShardsOf, so it is safe for
// concurrent use.
type Shards struct {
	starts, ends []int
	keys         []string
}

// ShardsOf returns the Shards of the ranges of slots, as CLUSTER SLOTS lists them
// (ranges without a node are left out: no one can write their marker).
func ShardsOf(slots []redis.ClusterSlot) Shards {
	rs := make([]redis.ClusterSlot, 0, len(slots))
	for _, s := range slots {
		if len(s.Nodes) > 0 && s.Start >= 0 && s.End >= s.Start && s.End < clusterSlots {
			rs = append(rs, s)
		}
	}
	slices.SortFunc(rs, func(a, b redis.ClusterSlot) int { return a.Start - b.Start })
	var sh Shards
	for _, r := range rs {
		sh.starts = append(sh.starts, r.Start)
		sh.ends = append(sh.ends, r.End)
		sh.keys = append(sh.keys, ShardRevKey(r.Start))
	}
	return sh
}

// LoadShards reads the slot map of the Cluster cc (CLUSTER SLOTS) as Shards; a map in
// which no slot is served is an error.
func LoadShards(ctx context.Context, cc *redis.ClusterClient) (Shards, error) {
	slots, err := cc.ClusterSlots(ctx).Result()
	if err != nil {
		return Shards{}, fmt.Errorf("reading the cluster's slot map: %w", err)
	}
	sh := ShardsOf(slots)
	if sh.Len() == 0 {
		return Shards{}, errors.New("reading the cluster's slot map: no slot is served")
	}
	return sh, nil
}

// Len is the number of ranges.
func (s Shards) Len() int { return len(s.keys) }

// Keys returns the marker keys of every range, in slot order. The caller must not
// modify them.
func (s Shards) Keys() []string { return s.keys }

// KeyFor returns the marker key of the range that holds the slot of key; ok is false
// when no range does (a slot the map does not serve).
func (s Shards) KeyFor(key string) (marker string, ok bool) {
	return s.KeyForSlot(Slot(key))
}

// KeyForSlot returns the marker key of the range that holds slot.
func (s Shards) KeyForSlot(slot int) (marker string, ok bool) {
	i, found := slices.BinarySearch(s.starts, slot)
	if !found {
		i--
	}
	if i < 0 || slot > s.ends[i] {
		return "", false
	}
	return s.keys[i], true
}

// Equal reports whether s and o have the same ranges.
func (s Shards) Equal(o Shards) bool {
	return slices.Equal(s.starts, o.starts) && slices.Equal(s.ends, o.ends)
}

// SealShardRev returns the sealed shard revision marker of key for rev. The seal names
// the key, so a marker copied to another shard's key does not verify.
func SealShardRev(k SigningKey, key string, rev int64) string {
	return string(k.Seal(DomainRev, key, []byte(strconv.FormatInt(rev, 10))))
}

// OpenShardRev verifies the sealed shard revision marker of key and returns its revision.
func OpenShardRev(v *Verifier, key, sealed string) (int64, error) {
	return openRev(v, key, sealed)
}
