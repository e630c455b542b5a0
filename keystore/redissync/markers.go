package redissync

import (
	"context"
	"errors"
	"fmt"
	"strconv"

	"github.com/redis/go-redis/v9"
	"go.uber.org/zap"

	"github.com/sagate/sagate/keystore"
)

// raiseRevScript sets the revision marker KEYS[1] to the sealed ARGV[1], of revision
// ARGV[2], unless it holds a revision at least as high; the stored revision is read
// after the seal's prefix. It returns 1 when written.
var raiseRevScript = redis.NewScript(`
local cur = redis.call('GET', KEYS[1])
if cur then
  local r = tonumber(string.sub(cur, ` + strconv.Itoa(keystore.SealedPrefixLen+1) + `))
  if r and r >= tonumber(ARGV[2]) then return 0 end
end
redis.call('SET', KEYS[1], ARGV[1])
return 1
`)

// The revision markers are RedisRev and, on a Redis Cluster, one shard marker per
// slot range (keystore/shards.go). A shard marker is raised after the records written
// to its primary; RedisRev after every shard marker; the event after RedisRev. So a
// sidecar that has seen a revision (in RedisRev or an event) finds every shard marker
// at least as high, unless a shard lost writes.

// sealRev seals the revision marker key (RedisRev or a shard marker's key) at rev.
func (s *Syncer) sealRev(key string, rev int64) string {
	if key == keystore.RedisRev {
		return keystore.SealRev(s.key, rev)
	}
	return keystore.SealShardRev(s.key, key, rev)
}

// queueRaise queues on pipe the raise of the revision marker key to rev.
func (s *Syncer) queueRaise(ctx context.Context, pipe redis.Pipeliner, key string, rev int64) *redis.Cmd {
	return raiseRevScript.Eval(ctx, pipe, []string{key}, s.sealRev(key, rev), strconv.FormatInt(rev, 10))
}

// queueRaiseShards queues on pipe the raise of every shard marker to rev (none but on a
// Cluster).
func (s *Syncer) queueRaiseShards(ctx context.Context, pipe redis.Pipeliner, rev int64) []*redis.Cmd {
	keys := s.shardKeys()
	cmds := make([]*redis.Cmd, len(keys))
	for i, k := range keys {
		cmds[i] = s.queueRaise(ctx, pipe, k, rev)
	}
	return cmds
}

// raiseRev raises the revision markers to rev (a marker already higher stays): the
// shard markers, then RedisRev.
func (s *Syncer) raiseRev(ctx context.Context, rev int64) error {
	if keys := s.shardKeys(); len(keys) > 0 {
		pipe := s.rdb.Pipeline()
		cmds := s.queueRaiseShards(ctx, pipe, rev)
		if _, err := pipe.Exec(ctx); err != nil {
			return fmt.Errorf("raising the shard revision markers: %w", err)
		}
		if err := firstErr(cmds); err != nil {
			return fmt.Errorf("raising the shard revision markers: %w", err)
		}
	}
	pipe := s.rdb.Pipeline()
	cmd := s.queueRaise(ctx, pipe, keystore.RedisRev, rev)
	if _, err := pipe.Exec(ctx); err != nil {
		return fmt.Errorf("raising the revision marker: %w", err)
	}
	return cmd.Err()
}

// firstErr returns the first error of cmds.
func firstErr(cmds []*redis.Cmd) error {
	for _, c := range cmds {
		if err := c.Err(); err != nil {
			return err
		}
	}
	return nil
}

// markers is what the periodic check reads: the epoch and revision markers, then the
// store's revision (in that order, so that a marker this admin wrote is never above it).
type markers struct {
	epoch string // the epoch's text; "" when missing or not verifying
	// rev is the lowest revision of the revision markers (RedisRev and every shard
	// marker); a missing marker counts as 0, and so does one that is forged.
	rev int64
	// forged: a revision marker is present but does not verify, or is above the
	// store's revision.
	forged bool
	// shardLost: on a Cluster, a shard marker read after sagate:rev is missing or
	// below it. Every writer raises the shard markers before sagate:rev, so that shard
	// lost writes (or the slot map changed and its range has no marker yet): no grace
	// is needed before the full sync.
	shardLost bool
	globalRev int64 // sagate:rev's revision (0: missing or forged)
	storeRev  int64
}

// readMarkers reads the epoch and sagate:rev in one round trip, then, on a Cluster, the
// shard markers in another (after sagate:rev, so that a marker below it is a loss), then
// the store's revision.
func (s *Syncer) readMarkers(ctx context.Context) (markers, error) {
	pipe := s.rdb.Pipeline()
	ec := pipe.Get(ctx, keystore.RedisEpoch)
	rc := pipe.Get(ctx, keystore.RedisRev)
	if _, err := pipe.Exec(ctx); err != nil && !errors.Is(err, redis.Nil) {
		return markers{}, fmt.Errorf("reading the markers: %w", err)
	}
	keys := s.shardKeys()
	scs := make([]*redis.StringCmd, len(keys))
	if len(keys) > 0 {
		pipe := s.rdb.Pipeline()
		for i, k := range keys {
			scs[i] = pipe.Get(ctx, k)
		}
		if _, err := pipe.Exec(ctx); err != nil && !errors.Is(err, redis.Nil) {
			return markers{}, fmt.Errorf("reading the shard revision markers: %w", err)
		}
	}
	var m markers
	m.epoch = s.openEpoch(ec.Val())
	s.noteEpoch(m.epoch)
	storeRev, err := s.src.Revision(ctx)
	if err != nil {
		return markers{}, err
	}
	m.storeRev = storeRev
	global, globalOK, seen := s.openRev(keystore.RedisRev, rc.Val(), storeRev)
	m.rev, m.globalRev, m.forged = global, global, seen && !globalOK
	for i, k := range keys {
		rev, ok, seen := s.openRev(k, scs[i].Val(), storeRev)
		m.rev = min(m.rev, rev)
		m.forged = m.forged || seen && !ok
		m.shardLost = m.shardLost || globalOK && !(seen && !ok) && rev < global
	}
	return m, nil
}

// openRev checks the sealed revision marker key against the store's revision: ok is
// false when it is missing, does not verify, or is above storeRev; seen, when it is
// present.
func (s *Syncer) openRev(key, sealed string, storeRev int64) (rev int64, ok, seen bool) {
	if sealed == "" {
		return 0, false, false
	}
	var err error
	if key == keystore.RedisRev {
		rev, err = keystore.OpenRev(s.ver, sealed)
	} else {
		rev, err = keystore.OpenShardRev(s.ver, key, sealed)
	}
	if err != nil || rev > storeRev {
		s.m.forged.WithLabelValues("rev").Inc()
		return 0, false, true
	}
	return rev, true, true
}

// setRevMarkers makes every revision marker at least rev: the shard markers, then
// RedisRev (the order of raiseRev).
func (s *Syncer) setRevMarkers(ctx context.Context, rev int64) error {
	for _, k := range s.shardKeys() {
		if err := s.setRevMarker(ctx, k, rev); err != nil {
			return err
		}
	}
	return s.setRevMarker(ctx, keystore.RedisRev, rev)
}

// setRevMarker makes the revision marker key at least rev, replacing one that does not
// verify or is above the store's revision with a compare-and-set on the value read (a
// concurrent raise by an Apply is never undone).
func (s *Syncer) setRevMarker(ctx context.Context, key string, rev int64) error {
	for range 3 {
		cur, err := s.rdb.Get(ctx, key).Result()
		if err != nil && !errors.Is(err, redis.Nil) {
			return fmt.Errorf("reading the revision marker: %w", err)
		}
		storeRev, err := s.src.Revision(ctx)
		if err != nil {
			return err
		}
		if _, ok, seen := s.openRev(key, cur, storeRev); ok || !seen {
			pipe := s.rdb.Pipeline()
			cmd := s.queueRaise(ctx, pipe, key, rev)
			if _, err := pipe.Exec(ctx); err != nil {
				return fmt.Errorf("raising the revision marker: %w", err)
			}
			return cmd.Err()
		}
		done, err := casScript.Run(ctx, s.rdb, []string{key}, cur, s.sealRev(key, rev), "0").Int()
		if err != nil {
			return fmt.Errorf("replacing the revision marker: %w", err)
		}
		if done == 1 {
			return nil
		}
	}
	return errors.New("replacing the revision marker: it kept changing")
}

// shardKeys returns the keys of the shard markers: none but on a Cluster.
func (s *Syncer) shardKeys() []string {
	if sh := s.shards.Load(); sh != nil {
		return sh.Keys()
	}
	return nil
}

// refreshShards reads the Cluster's slot map (CLUSTER SLOTS) and keeps it for the shard
// markers; a no-op on a single server or Sentinel. A new map (slots moved) is logged;
// the markers of new ranges start missing, which the check of the markers repairs with
// a full sync. A failed read keeps the map it had.
func (s *Syncer) refreshShards(ctx context.Context) error {
	cc, ok := s.rdb.(*redis.ClusterClient)
	if !ok {
		return nil
	}
	sh, err := keystore.LoadShards(ctx, cc)
	if err != nil {
		return err
	}
	if old := s.shards.Load(); old == nil || !old.Equal(sh) {
		if old != nil {
			s.log.Info("redis sync: the cluster's slot ranges changed; following them with the shard revision markers",
				zap.Int("ranges", sh.Len()), zap.Int("ranges_before", old.Len()))
		}
		s.shards.Store(&sh)
	}
	return nil
}
