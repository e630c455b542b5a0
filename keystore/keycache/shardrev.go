package keycache

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"
	"go.uber.org/zap"

	"github.com/sagate/sagate/keystore/wire"
)

// On a Redis Cluster each shard can go back in time on its own: a primary that dies
// before its replica got its last writes, or restarts empty before the replica takes
// over, takes back the records of its slots only, while sagate:rev, on another shard,
// stays as it was. So on a Cluster every lookup also reads, in the same pipeline, the
// shard revision marker of each record's slot range (keystore/wire/shards.go), which lives
// on the record's primary and is raised by the admin after the records it wrote
// there. Per record:
//   - the marker is below the highest revision this cache had seen when the lookup
//     left, or missing once it had seen one: that shard is behind (errBehind: a stale
//     entry or 503);
//   - the marker is below sagate:rev in the same reply, or missing while nothing was
//     seen yet (a sidecar started while the shard was behind or empty, or a reply that
//     raced a change, whose shard markers are raised just before sagate:rev): the
//     record is asked for once more, now that sagate:rev is seen, and answered only if
//     the shard has caught up; else it is refused as behind;
//   - the record's slot is in no range of the slot map (the map changed): refused;
//   - the marker does not verify: refused (errUnverified).
//
// A shard marker never raises the revision seen: the admin raises the shard markers
// one primary at a time, and only the global marker and events say that all of them
// are raised.

// slotMapEvery is how often the cache reads the Cluster's slot map (CLUSTER SLOTS).
const slotMapEvery = time.Second

// slotMapTimeout bounds one read of the slot map.
const slotMapTimeout = 2 * time.Second

// errNoSlotMap answers the lookups of a Cluster whose slot map could not be read yet.
var errNoSlotMap = errors.New("the cluster's slot map is not known yet: cannot find the shard revision markers")

// shardState is what a lookup's shard marker said.
type shardState uint8

const (
	shardOK      shardState = iota
	shardUnsure             // behind this reply's sagate:rev only: ask once more
	shardRefused            // behind or not verifying: the reply is not used
)

// clusterClient returns the client as a Cluster client, or nil.
func (c *Cache) clusterClient() *redis.ClusterClient {
	cc, _ := c.client.(*redis.ClusterClient)
	return cc
}

// watchSlots reads the Cluster's slot map at once and every slotMapEvery, until ctx
// ends. Not started on a single server or Sentinel.
func (c *Cache) watchSlots(ctx context.Context, cc *redis.ClusterClient) {
	defer c.wg.Done()
	t := time.NewTicker(slotMapEvery)
	defer t.Stop()
	var failing bool
	for {
		err := c.loadSlotMap(ctx, cc)
		if err != nil && !failing && ctx.Err() == nil {
			c.log.Warn("cannot read the redis cluster's slot map; keeping the last one", zap.Error(err))
		}
		failing = err != nil
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// loadSlotMap reads the slot map once and keeps it.
func (c *Cache) loadSlotMap(ctx context.Context, cc *redis.ClusterClient) error {
	ctx, cancel := context.WithTimeout(ctx, slotMapTimeout)
	defer cancel()
	sh, err := wire.LoadShards(ctx, cc)
	if err != nil {
		return err
	}
	if old := c.slotMap.Load(); old == nil || !old.Equal(sh) {
		c.slotMap.Store(&sh)
	}
	return nil
}

// batchSlotMap returns the slot map for a lookup: nil on a single server or Sentinel;
// on a Cluster, the one last read, reading it first if none was (a lookup before
// watchSlots' first read, or without Start).
func (c *Cache) batchSlotMap(ctx context.Context) (*wire.Shards, error) {
	cc := c.clusterClient()
	if cc == nil {
		return nil, nil
	}
	if sh := c.slotMap.Load(); sh != nil {
		return sh, nil
	}
	if err := c.loadSlotMap(ctx, cc); err != nil {
		return nil, fmt.Errorf("%w: %w", errNoSlotMap, err)
	}
	return c.slotMap.Load(), nil
}

// shardGets queues on pipe the GET of the shard marker of each call's record, one per
// marker, and returns the commands and, for each call, the index of its marker's
// command (-1: its slot is in no range of the map, whose answer is refused).
func shardGets(ctx context.Context, pipe redis.Pipeliner, sh *wire.Shards, batch []*call) ([]*redis.StringCmd, []string, []int) {
	idx := make([]int, len(batch))
	var keys []string
	var cmds []*redis.StringCmd
	for i, cl := range batch {
		k, ok := sh.KeyFor(redisKey(cl.h))
		if !ok {
			idx[i] = -1
			continue
		}
		j := -1
		for n, seen := range keys {
			if seen == k {
				j = n
				break
			}
		}
		if j < 0 {
			j = len(keys)
			keys = append(keys, k)
			cmds = append(cmds, pipe.Get(ctx, k))
		}
		idx[i] = j
	}
	return cmds, keys, idx
}

// shardStates checks the shard markers of a reply against seen, the highest revision
// this cache had seen when the request left, and replyRev, the reply's sagate:rev. It
// returns one state per marker, and an error when a marker could not be read (the
// whole reply is then not used).
func (c *Cache) shardStates(cmds []*redis.StringCmd, keys []string, seen, replyRev int64) ([]shardState, error) {
	st := make([]shardState, len(cmds))
	for i, cmd := range cmds {
		sealed, err := cmd.Result()
		switch {
		case errors.Is(err, redis.Nil):
			if seen == 0 {
				st[i] = shardUnsure
			} else {
				_ = c.behind(0, seen)
				st[i] = shardRefused
			}
			continue
		case err != nil:
			return nil, fmt.Errorf("reading a shard revision marker: %w", err)
		}
		rev, err := c.openShardRev(keys[i], sealed)
		switch {
		case err != nil:
			st[i] = shardRefused
		case rev < seen:
			_ = c.behind(rev, seen)
			st[i] = shardRefused
		case rev < replyRev:
			st[i] = shardUnsure
		}
	}
	return st, nil
}

// openShardRev returns the revision of the sealed shard marker of key, verifying it
// only when it changed since it last verified.
func (c *Cache) openShardRev(key, sealed string) (int64, error) {
	m := &c.marks
	m.mu.Lock()
	defer m.mu.Unlock()
	if v, ok := m.shardRevs[key]; ok && v.sealed == sealed {
		return v.rev, nil
	}
	rev, err := wire.OpenShardRev(c.cfg.Verifier, key, sealed)
	if err != nil {
		reason := sigReason(err)
		if reason == "" {
			reason = "not_a_revision"
		}
		return 0, c.refuse(sigRev, reason)
	}
	if m.shardRevs == nil || len(m.shardRevs) >= maxShardMarkers {
		m.shardRevs = make(map[string]sealedRev) // bounded: a map holds a few ranges
	}
	m.shardRevs[key] = sealedRev{sealed: sealed, rev: rev}
	return rev, nil
}

// maxShardMarkers bounds the shard markers remembered as verified.
const maxShardMarkers = 1024

// sealedRev is a shard marker that verified, and its revision.
type sealedRev struct {
	sealed string
	rev    int64
}
