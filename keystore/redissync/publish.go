package redissync

import (
	"context"
	"errors"
	"fmt"

	"github.com/redis/go-redis/v9"

	"github.com/sagate/sagate/keystore"
)

// writeAndPublish runs ws through writeScript, raises the shard revision markers (on a
// Cluster), reads the epoch marker, raises the revision marker to rev, and publishes signed "keys" events for hashes (at most
// maxEventHashes each), all in one pipeline: Redis runs them in that order, so a sidecar
// that reads an event finds the records it announces and a revision marker at least as
// high as the event's (on a Redis Cluster, whose nodes run their parts of a pipeline in
// no mutual order, the marker and the events take a round trip each). The events flag the hashes whose tombstone ws
// writes (keystore.Event.Gone).
// The events carry the epoch last seen by this Syncer (sidecars use the epoch of "keys"
// events for nothing; a resync event carries the new one). It returns the epoch marker
// read ("" when missing) and remembers it.
//
// The scripts are sent with EVAL, not EVALSHA: a script cache emptied by a Redis restart
// could otherwise fail the writes while the event still went out.
func (s *Syncer) writeAndPublish(ctx context.Context, ws []write, rev int64, hashes []keystore.KeyHash) (string, error) {
	pipe := s.rdb.Pipeline()
	writes := s.queueWrites(ctx, pipe, ws, writeScript.Eval)
	// Each primary runs its part of a pipeline in order: a shard marker queued after
	// the writes is raised after the records that primary holds.
	shardCmds := s.queueRaiseShards(ctx, pipe, rev)
	epochCmd := pipe.Get(ctx, keystore.RedisEpoch)
	_, cluster := s.rdb.(*redis.ClusterClient)
	if cluster {
		// A cluster pipeline runs on several nodes at once, in no order between them:
		// the writes and shard markers must be done before RedisRev, RedisRev before
		// the event.
		if _, err := pipe.Exec(ctx); err != nil && !errors.Is(err, redis.Nil) {
			return "", fmt.Errorf("writing %d records: %w", len(ws), err)
		}
		if err := firstErr(shardCmds); err != nil {
			return "", fmt.Errorf("raising the shard revision markers: %w", err)
		}
	}
	revCmd := s.queueRaise(ctx, pipe, keystore.RedisRev, rev)
	if cluster {
		if _, err := pipe.Exec(ctx); err != nil {
			return "", fmt.Errorf("raising the revision marker: %w", err)
		}
	}
	var events []*redis.Cmd
	epoch := s.lastEpoch()
	gone := goneFlags(ws, hashes)
	for i := 0; i < len(hashes); i += maxEventHashes {
		j := min(i+maxEventHashes, len(hashes))
		e := keystore.Event{Kind: keystore.EventKeys, Rev: rev, Epoch: epoch, Hashes: hashes[i:j], Gone: gone[i:j]}
		keystore.SignEvent(s.key, &e)
		events = append(events, keystore.QueueEvent(ctx, pipe, e, s.cfg.EventsMaxLen))
	}
	if _, err := pipe.Exec(ctx); err != nil && !errors.Is(err, redis.Nil) {
		return "", fmt.Errorf("writing %d records and their event: %w", len(ws), err)
	}
	for _, c := range writes {
		if _, err := c.Int64Slice(); err != nil {
			return "", fmt.Errorf("writing %d records: %w", len(ws), err)
		}
	}
	if err := revCmd.Err(); err != nil {
		return "", fmt.Errorf("raising the revision marker: %w", err)
	}
	for _, c := range events {
		if _, _, err := keystore.EventReply(c); err != nil {
			return "", fmt.Errorf("the event of %d keys: %w", len(hashes), err)
		}
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
// the events (keystore.Event.Gone), which let sidecars refuse those keys without
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
