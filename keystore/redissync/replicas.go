package redissync

import (
	"context"
	"errors"
	"time"

	"github.com/redis/go-redis/v9"
	"go.uber.org/zap"

	"github.com/sagate/sagate/keystore/redisurl"
)

// Replication. On Redis Sentinel, a change the primary took but no replica got is lost
// when a replica is promoted: the primary died, or stalled past the Sentinels'
// down-after and was deposed (it may even have taken the change after the promotion,
// on a connection opened before its stall). So where the primary has replicas, every
// write (an Apply's pipeline, a full sync's epoch) ends with WAIT for one replica on the
// same connection, and the change counts as written only when one acknowledged it;
// otherwise Apply fails with errNotReplicated: the change is pending, its outbox row
// stays, and Run re-applies it until a replica of the primary the Sentinels name has it.
// A deposed primary has no replica left, so nothing written there is ever acknowledged.
//
// Whether the primary has replicas is read (redisurl.CheckPrimary: ROLE on the primary
// the Sentinels name, after closing connections to any other) before the first write
// and at every check of the markers. A Cluster is not waited on: its deposed primaries
// stop taking writes by themselves; a single server has no failover.

// DefaultReplicaTimeout is Config.ReplicaTimeout's default.
const DefaultReplicaTimeout = time.Second

// errNotReplicated is the error of a write no replica acknowledged in time.
var errNotReplicated = errors.New("no replica acknowledged the write in time (a failover could lose it): pending; re-applied until one does")

// checkPrimary reads whether the primary has replicas to wait for; with Sentinel, it
// first makes sure the client writes to the primary the Sentinels name. It warns once
// when the primary has replicas but not min-replicas-to-write.
func (s *Syncer) checkPrimary(ctx context.Context) error {
	if _, cluster := s.rdb.(*redis.ClusterClient); cluster {
		s.primaryKnown.Store(true)
		return nil
	}
	p, err := redisurl.CheckPrimary(ctx, s.rdb)
	if err != nil {
		return err
	}
	want := int32(0)
	if p.Sentinel && p.Replicas > 0 {
		want = 1
	}
	s.replicas.Store(want)
	s.primaryKnown.Store(true)
	if p.Unguarded() && s.unguardedWarned.CompareAndSwap(false, true) {
		s.log.Warn("redis sync: the primary has replicas but no min-replicas-to-write: deposed by a failover (a long pause, a network split), it keeps taking writes that the failover discards; set min-replicas-to-write 1 and min-replicas-max-lag (docs/deployment.md)",
			zap.Int("replicas", p.Replicas))
	}
	return nil
}

// replicasToWait returns how many replicas a write must wait for, reading it first if
// it is not known yet.
func (s *Syncer) replicasToWait(ctx context.Context) (int, error) {
	if !s.primaryKnown.Load() {
		if err := s.checkPrimary(ctx); err != nil {
			return 0, err
		}
	}
	return int(s.replicas.Load()), nil
}

// queueWait queues WAIT for n replicas on pipe (nil when n is 0).
func (s *Syncer) queueWait(ctx context.Context, pipe redis.Pipeliner, n int) *redis.Cmd {
	if n == 0 {
		return nil
	}
	return pipe.Do(ctx, "WAIT", n, s.cfg.ReplicaTimeout.Milliseconds())
}

// waited checks the reply of queueWait for n replicas.
func waited(cmd *redis.Cmd, n int) error {
	if cmd == nil {
		return nil
	}
	got, err := cmd.Int64()
	if err != nil {
		return err
	}
	if got < int64(n) {
		return errNotReplicated
	}
	return nil
}
