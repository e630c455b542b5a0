package redissync

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"
	"go.uber.org/zap"

	"github.com/sagate/sagate/keystore/wire"
)

// raiseRevScript raises the revision marker KEYS[1] to the sealed ARGV[1], of revision
// ARGV[2]: it returns 1 when written, 0 when the marker already holds a revision at least
// as high (the stored revision is read after the seal's prefix), and -1, writing
// nothing, when the marker is missing, unreadable or below ARGV[3], the floor (0: none).
// Markers only ever go up, so a marker below a revision its writer saw there means that
// Redis lost writes: raising it would hide the loss from the check of the markers.
var raiseRevScript = redis.NewScript(`
local cur = redis.call('GET', KEYS[1])
local floor = tonumber(ARGV[3])
local r = nil
if cur then r = tonumber(string.sub(cur, ` + strconv.Itoa(wire.SealedPrefixLen+1) + `)) end
if floor > 0 and (not r or r < floor) then return -1 end
if r and r >= tonumber(ARGV[2]) then return 0 end
redis.call('SET', KEYS[1], ARGV[1])
return 1
`)

// The revision markers are RedisRev and, on a Redis Cluster, one shard marker per
// slot range (keystore/wire/shards.go). A shard marker is raised after the records written
// to its primary have been acknowledged; RedisRev after every shard marker; the event
// after RedisRev. So a sidecar that has seen a revision (in RedisRev or an event) finds
// every shard marker at least as high, unless a shard lost writes.
//
// The floor: every raise but a full sync's passes the highest RedisRev this Syncer has
// seen verified or raised since its last full sync (Syncer.floor). A marker below it
// lost writes; the raise then fails (errMarkerLost) and a full sync follows, instead of
// the next change raising the marker over the loss.

// errMarkerLost is the error of a raise that found a revision marker below the floor.
var errMarkerLost = errors.New("a revision marker is missing or below what this admin saw: redis lost writes (restarted from a snapshot, a replica promoted with lag); a full sync follows")

// sealRev seals the revision marker key (RedisRev or a shard marker's key) at rev.
func (s *Syncer) sealRev(key string, rev int64) string {
	if key == wire.RedisRev {
		return wire.SealRev(s.key, rev)
	}
	return wire.SealShardRev(s.key, key, rev)
}

// queueRaise queues on pipe the raise of the revision marker key to rev, refused below
// floor (0: none).
func (s *Syncer) queueRaise(ctx context.Context, pipe redis.Pipeliner, key string, rev, floor int64) *redis.Cmd {
	return raiseRevScript.Eval(ctx, pipe, []string{key}, s.sealRev(key, rev), strconv.FormatInt(rev, 10), strconv.FormatInt(floor, 10))
}

// floorRead is the floor a raise carries, and the count of full syncs started when it
// was read.
type floorRead struct {
	floor int64
	syncs uint64
}

// loadFloor reads the floor for a raise.
func (s *Syncer) loadFloor() floorRead {
	syncs := s.fullSyncs.Load()
	return floorRead{floor: s.floorNow(), syncs: syncs}
}

// raised checks the replies of raises carrying fr: an error, or errMarkerLost when a
// marker was below the floor (it was not raised, and the floor must not be). Then Redis
// is marked dirty (a full sync is owed) and the loss logged (at most once per
// lostWarnEvery), unless a full sync started since fr was read: that sync covers the
// change, whose commit precedes it. The raises of the other markers went ahead; the
// one below stays there, so that the check of the markers and every sidecar see the
// loss until the full sync.
func (s *Syncer) raised(fr floorRead, cmds ...*redis.Cmd) error {
	for _, c := range cmds {
		n, err := c.Int64()
		if err != nil {
			return fmt.Errorf("raising a revision marker: %w", err)
		}
		if n >= 0 {
			continue
		}
		if s.fullSyncs.Load() != fr.syncs {
			return errMarkerLost
		}
		s.markDirty()
		if at := now().UnixNano(); at-s.lostWarned.Load() >= int64(lostWarnEvery) {
			s.lostWarned.Store(at)
			s.log.Warn("redis sync: a revision marker is below what this admin saw there: redis lost committed changes (restarted from a snapshot, a replica promoted with lag, a cluster shard that lost writes); full sync with a new epoch",
				zap.Int64("redis_rev_seen", fr.floor))
		}
		return errMarkerLost
	}
	return nil
}

// lostWarnEvery bounds the warnings of raised.
const lostWarnEvery = 10 * time.Second

// noteFloor raises the floor to rev, a RedisRev this Syncer raised or read verified.
func (s *Syncer) noteFloor(rev int64) {
	for {
		cur := s.floor.Load()
		if rev <= cur || s.floor.CompareAndSwap(cur, rev) {
			return
		}
	}
}

// raiseRev raises the revision markers to rev (a marker already higher stays): the
// shard markers, then RedisRev, a round trip each. A marker below the floor stays as it
// is and makes it return errMarkerLost, after the other markers are raised; the floor is
// raised only when none was below it.
func (s *Syncer) raiseRev(ctx context.Context, rev int64) error {
	if err := s.ensureShards(ctx); err != nil {
		return err
	}
	fr := s.loadFloor()
	var lost error
	if keys := s.shardKeys(); len(keys) > 0 {
		pipe := s.rdb.Pipeline()
		cmds := make([]*redis.Cmd, len(keys))
		for i, k := range keys {
			cmds[i] = s.queueRaise(ctx, pipe, k, rev, fr.floor)
		}
		if _, err := pipe.Exec(ctx); err != nil {
			return fmt.Errorf("raising the shard revision markers: %w", err)
		}
		if lost = s.raised(fr, cmds...); lost != nil && !errors.Is(lost, errMarkerLost) {
			return lost
		}
	}
	pipe := s.rdb.Pipeline()
	cmd := s.queueRaise(ctx, pipe, wire.RedisRev, rev, fr.floor)
	if _, err := pipe.Exec(ctx); err != nil {
		return fmt.Errorf("raising the revision marker: %w", err)
	}
	if err := s.raised(fr, cmd); err != nil {
		return err
	}
	if lost == nil {
		s.noteFloor(rev)
	}
	return lost
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
	// lost: Redis certainly lost writes, so no grace is needed before the full sync:
	// RedisRev is missing or below the floor (what this Syncer saw there), or, on a
	// Cluster, a shard marker read after RedisRev is missing or below it (every writer
	// raises the shard markers first; or the slot map changed and a range has no
	// marker yet).
	lost      bool
	globalRev int64 // sagate:rev's revision (0: missing or forged)
	storeRev  int64
}

// readMarkers reads the epoch and sagate:rev in one round trip, then, on a Cluster, the
// shard markers in another (after sagate:rev, so that a marker below it is a loss), then
// the store's revision.
func (s *Syncer) readMarkers(ctx context.Context) (markers, error) {
	// The floor first: a marker read after it is at least as high unless Redis lost it.
	floor := s.floorNow()
	pipe := s.rdb.Pipeline()
	ec := pipe.Get(ctx, wire.RedisEpoch)
	rc := pipe.Get(ctx, wire.RedisRev)
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
	global, globalOK, seen := s.openRev(wire.RedisRev, rc.Val(), storeRev)
	m.rev, m.globalRev, m.forged = global, global, seen && !globalOK
	m.lost = !m.forged && floor > 0 && global < floor
	for i, k := range keys {
		rev, ok, seen := s.openRev(k, scs[i].Val(), storeRev)
		m.rev = min(m.rev, rev)
		m.forged = m.forged || seen && !ok
		m.lost = m.lost || globalOK && !(seen && !ok) && rev < global
	}
	if globalOK && !m.lost {
		s.noteFloor(global)
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
	if key == wire.RedisRev {
		rev, err = wire.OpenRev(s.ver, sealed)
	} else {
		rev, err = wire.OpenShardRev(s.ver, key, sealed)
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
	return s.setRevMarker(ctx, wire.RedisRev, rev)
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
			cmd := s.queueRaise(ctx, pipe, key, rev, 0) // a full sync: no floor
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

// ensureShards reads the Cluster's slot map if this Syncer has none yet (a change before
// Run's first look at it), so that no revision marker is raised without the shard
// markers; a no-op on a single server or Sentinel.
func (s *Syncer) ensureShards(ctx context.Context) error {
	if _, cluster := s.rdb.(*redis.ClusterClient); !cluster || s.shards.Load() != nil {
		return nil
	}
	return s.refreshShards(ctx)
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
	sh, err := wire.LoadShards(ctx, cc)
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
