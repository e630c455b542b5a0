package redissync

import (
	"context"
	"errors"
	"fmt"

	"github.com/redis/go-redis/v9"

	"github.com/sagate/sagate/keystore"
	"github.com/sagate/sagate/keystore/wire"
)

// writeAndPublish runs ws through writeScript, reads the epoch marker, raises the
// revision markers to rev, and publishes signed "keys" events for hashes (at most
// maxEventHashes each). On one server (or Sentinel) that is one pipeline, which Redis
// runs in order; on a Cluster, four round trips: the writes, the shard markers, RedisRev,
// the events (see the comment in the code). So a sidecar that reads an event finds the
// records it announces and every revision marker at least as high as the event's. A
// marker below the floor (markers.go) is left as it is and a full sync is owed; the
// change itself is written, and published. The events flag the hashes whose tombstone
// ws writes (wire.Event.Gone).
// The events carry the epoch last seen by this Syncer (sidecars use the epoch of "keys"
// events for nothing; a resync event carries the new one). It returns the epoch marker
// read ("" when missing) and remembers it.
//
// Where the primary has replicas on Sentinel, the pipeline ends with WAIT for one, and
// it returns errNotReplicated when none acknowledged (replicas.go).
//
// The scripts are sent with EVAL, not EVALSHA: a script cache emptied by a Redis restart
// could otherwise fail the writes while the event still went out.
func (s *Syncer) writeAndPublish(ctx context.Context, ws []write, rev int64, hashes []keystore.KeyHash) (string, error) {
	var lost error // errMarkerLost: Redis lost earlier writes; a full sync is owed (raised)
	var fr floorRead
	_, cluster := s.rdb.(*redis.ClusterClient)
	wait := 0
	if !cluster {
		var err error
		if wait, err = s.replicasToWait(ctx); err != nil {
			return "", err
		}
	}
	var revCmd *redis.Cmd // on one server: the raise of RedisRev, in the pipeline
	pipe := s.rdb.Pipeline()
	writes := s.queueWrites(ctx, pipe, ws, writeScript.Eval)
	epochCmd := pipe.Get(ctx, wire.RedisEpoch)
	if cluster {
		// A cluster pipeline runs on several nodes at once, in no order between them,
		// and a command redirected (MOVED, ASK) runs after the others: the writes must
		// be acknowledged before the markers are raised (raiseRev: the shard markers,
		// then RedisRev), and the markers before the event.
		if err := s.ensureShards(ctx); err != nil {
			return "", err
		}
		if _, err := pipe.Exec(ctx); err != nil && !errors.Is(err, redis.Nil) {
			return "", fmt.Errorf("writing %d records: %w", len(ws), err)
		}
		if err := writesDone(writes, len(ws)); err != nil {
			return "", err
		}
		if lost = s.raiseRev(ctx, rev); lost != nil && !errors.Is(lost, errMarkerLost) {
			return "", lost
		}
	} else {
		fr = s.loadFloor()
		revCmd = s.queueRaise(ctx, pipe, wire.RedisRev, rev, fr.floor)
	}
	var events []*redis.Cmd
	epoch := s.lastEpoch()
	gone := goneFlags(ws, hashes)
	for i := 0; i < len(hashes); i += maxEventHashes {
		j := min(i+maxEventHashes, len(hashes))
		e := wire.Event{Kind: wire.EventKeys, Rev: rev, Epoch: epoch, Hashes: hashes[i:j], Gone: gone[i:j]}
		wire.SignEvent(s.key, &e)
		events = append(events, wire.QueueEvent(ctx, pipe, e, s.cfg.EventsMaxLen))
	}
	waitCmd := s.queueWait(ctx, pipe, wait) // last: every write above must have reached a replica
	if _, err := pipe.Exec(ctx); err != nil && !errors.Is(err, redis.Nil) {
		return "", fmt.Errorf("writing %d records and their event: %w", len(ws), err)
	}
	s.noteWrites(ws)
	if !cluster {
		if err := writesDone(writes, len(ws)); err != nil {
			return "", err
		}
		if err := s.raised(fr, revCmd); err != nil && !errors.Is(err, errMarkerLost) {
			return "", err
		} else if err == nil {
			s.noteFloor(rev)
		}
	}
	for _, c := range events {
		if _, _, err := wire.EventReply(c); err != nil {
			return "", fmt.Errorf("the event of %d keys: %w", len(hashes), err)
		}
	}
	if err := waited(waitCmd, wait); err != nil {
		return "", err
	}
	cur, err := epochCmd.Result()
	if err != nil && !errors.Is(err, redis.Nil) {
		return "", fmt.Errorf("reading the epoch: %w", err)
	}
	text := s.openEpoch(cur)
	s.noteEpoch(text)
	return text, nil
}

// goneFlags returns, for each of hashes, whether ws sends its tombstone: the flags of
// the events (wire.Event.Gone), which let sidecars refuse those keys without
// reading their records again. The flags are set before Redis runs the rev-checked
// writes, so a tombstone refused for a newer record is flagged too; that is right only
// because a key with no live record never gets a live one later (see Event.Gone).
func goneFlags(ws []write, hashes []keystore.KeyHash) []bool {
	tomb := make(map[keystore.KeyHash]bool, len(ws))
	for _, w := range ws {
		if w.tomb {
			tomb[w.hash] = true
		}
	}
	gone := make([]bool, len(hashes))
	for i, h := range hashes {
		gone[i] = tomb[h]
	}
	return gone
}

// lastEpoch returns the epoch marker this Syncer last read or wrote ("" if none yet).
func (s *Syncer) lastEpoch() string {
	if e := s.epoch.Load(); e != nil {
		return *e
	}
	return ""
}

// noteEpoch remembers an epoch marker read from or written to Redis ("": missing).
func (s *Syncer) noteEpoch(e string) { s.epoch.Store(&e) }

// writesDone returns the first error of the record writes cmds (n records).
func writesDone(cmds []*redis.Cmd, n int) error {
	for _, c := range cmds {
		if _, err := c.Int64Slice(); err != nil {
			return fmt.Errorf("writing %d records: %w", n, err)
		}
	}
	return nil
}
