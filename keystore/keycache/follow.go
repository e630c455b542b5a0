package keycache

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/redis/go-redis/v9/maintnotifications"
	"go.uber.org/zap"

	"github.com/sagate/sagate/keystore/wire"
)

// Follower back-off after a Redis error, doubled up to the cap.
const (
	backoffMin = 50 * time.Millisecond
	backoffMax = time.Second
	// tailTimeout bounds the XREVRANGE that finds the stream's tail.
	tailTimeout = 2 * time.Second
	// readMargin is how long past its BLOCK an XREAD may take before the link is
	// deemed dead.
	readMargin = time.Second
	// unblockTimeout bounds the CLIENT UNBLOCK that Close sends.
	unblockTimeout = 500 * time.Millisecond
)

// jitter returns a wait drawn uniformly from [d/2, d) by randN (rand.Int64N), so that
// sidecars that lost the same Redis at the same moment do not all come back at the same
// moment, while each still waits at least half its back-off.
func jitter(d time.Duration, randN func(int64) int64) time.Duration {
	if d <= 1 {
		return d
	}
	return d/2 + time.Duration(randN(int64(d-d/2)))
}

// follower is the events follower's position. Used by one goroutine only.
type follower struct {
	c *Cache
	// rdb runs the follower's commands: a connection of its own when the client is a
	// *redis.Client (so that Close can CLIENT UNBLOCK its XREAD instead of waiting out
	// the BLOCK), else the shared client.
	rdb        redis.Cmdable
	conn       *redis.Conn   // the connection of its own, if any
	own        *redis.Client // the one-connection client conn comes from
	needConn   bool          // (re)open conn before the next command
	positioned bool          // readID and lastID/lastSeq are known
	// readID is the id of the last entry read, verified or not: XREAD goes on after it.
	readID string
	// lastID is the id of the last event applied: one that verified ("0-0": none, the
	// stream did not exist; "": none found). Entries that do not verify are not events
	// of the stream as far as the follower is concerned: they move readID only.
	lastID    string
	lastSeq   int64  // its seq (0: none)
	lastSum   uint64 // its fields' fingerprint (eventSum)
	caughtUp  bool   // every event up to the stream's end at the last read was applied
	checkTail bool   // the stream must be checked for replacement before reading on
}

// follow runs the events follower until ctx is done.
func (c *Cache) follow(ctx context.Context) {
	defer c.wg.Done()
	defer c.connected.Store(false)
	f := &follower{c: c, rdb: c.client, needConn: true}
	defer f.closeConn()
	backoff := time.Duration(0)
	for ctx.Err() == nil {
		err := f.step(ctx)
		if err == nil {
			backoff = 0
			continue
		}
		if ctx.Err() != nil {
			return
		}
		if c.connected.Swap(false) {
			c.log.Warn("events follower lost redis; cached keys are not fresh until it catches up", zap.Error(err))
		} else if ce := c.log.Check(zap.DebugLevel, "events follower still failing"); ce != nil {
			ce.Write(zap.Error(err))
		}
		// Resume from the last applied id, after making sure the stream is the same.
		f.caughtUp = false
		f.checkTail = true
		f.needConn = true
		backoff = min(max(2*backoff, backoffMin), backoffMax)
		t := time.NewTimer(jitter(backoff, rand.Int64N))
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
	}
}

// step does one unit of work: find the tail, check it, catch up, or wait for events.
func (f *follower) step(ctx context.Context) error {
	c := f.c
	if f.needConn {
		if err := f.openConn(ctx); err != nil {
			return err
		}
	}
	if !f.positioned || f.checkTail {
		t, err := c.tail(ctx, f.rdb, f.lastID, f.lastSum)
		if err != nil {
			return err
		}
		f.checkTail = false
		// A tail with no event that verifies (entries someone else wrote, as many as
		// tailScan) tells nothing: reading on, the next event of the admin shows a gap in
		// seq if events were lost meanwhile.
		if !f.positioned || t.found && f.replacedBy(t.id, t.seq, t.sum) {
			if f.positioned {
				c.log.Warn("events stream replaced or trimmed; key cache flushed",
					zap.Int64("last_seq", f.lastSeq), zap.Int64("tail_seq", t.seq))
			}
			// Everything cached so far may have missed events before this tail: flush
			// after reading it, so that only lookups that start afterwards are fresh.
			f.readID, f.lastID, f.lastSeq, f.lastSum, f.positioned = t.end, t.id, t.seq, t.sum, true
			c.flush("following the events stream from its tail")
			f.caughtUp = true
			c.setConnected()
			return nil
		}
	}
	if !f.caughtUp {
		// Replay what was missed without blocking; fresh again only once at the end.
		msgs, err := c.readEvents(ctx, f.rdb, f.readID, -1)
		if err != nil {
			return err
		}
		f.apply(msgs)
		if len(msgs) < eventsBatch {
			f.caughtUp = true
			c.setConnected()
		}
		return nil
	}
	msgs, err := c.readEvents(ctx, f.rdb, f.readID, c.block)
	if err != nil {
		return err
	}
	if len(msgs) == 0 {
		f.checkTail = true // idle: make sure the stream was not wiped or replaced
	}
	f.apply(msgs)
	return nil
}

// replacedBy reports whether a tail (id, seq, fields' fingerprint; id "0-0" for no
// stream) shows that the stream followed so far is gone: it vanished, or is shorter
// than what was applied, or has as many events but a different last one. The id alone
// does not tell: a stream wiped and written again within the same millisecond of
// Redis's clock gives its first event the id the old last one had (and XREAD, asked
// for what follows that id, never returns it), so the event's fields are compared too.
func (f *follower) replacedBy(id string, seq int64, sum uint64) bool {
	switch {
	case seq < f.lastSeq:
		return true
	case seq == f.lastSeq:
		return id != f.lastID || sum != f.lastSum
	}
	return false
}

// eventSum is a fingerprint of a stream entry's fields (FNV-1a over the sorted field
// names and their values), so that two entries with the same id can be told apart.
func eventSum(m redis.XMessage) uint64 {
	names := make([]string, 0, len(m.Values))
	for k := range m.Values {
		names = append(names, k)
	}
	slices.Sort(names)
	h := fnv.New64a()
	for _, k := range names {
		v, _ := m.Values[k].(string)
		_, _ = io.WriteString(h, k)
		_, _ = h.Write([]byte{0})
		_, _ = io.WriteString(h, v)
		_, _ = h.Write([]byte{0})
	}
	return h.Sum64()
}

// apply applies events in order. An entry that does not verify (unreadable, unsigned,
// signed by another key) changes nothing: it is counted and logged without its value,
// and skipped (verdict.go, ignoreEvent); the seq chain runs over the events that verify.
// Only the signed protocol drops cached entries: a verified event whose seq does not
// follow the last one's (events missed: trimmed, or a new stream), a resync event, a
// kind this version does not know; and a keys event drops the entries it names. A
// verified event's revision raises seenRev.
func (f *follower) apply(msgs []redis.XMessage) {
	c := f.c
	for _, m := range msgs {
		f.readID = m.ID
		ev, err := wire.ParseEvent(m)
		badSeq := errors.Is(err, wire.ErrEventSeq)
		if err != nil && !badSeq {
			// Its hashes cannot be read, so neither can its signature be checked. The
			// parse error is not logged: it may quote part of a hash.
			c.ignoreEvent("unreadable")
			continue
		}
		if !c.trustEvent(ev) {
			continue
		}
		f.lastID, f.lastSum = m.ID, eventSum(m)
		if badSeq || ev.Seq != f.lastSeq+1 {
			c.log.Warn("gap in events; key cache flushed",
				zap.Int64("last_seq", f.lastSeq), zap.Int64("seq", ev.Seq))
			c.flush("gap in events")
		}
		f.lastSeq = ev.Seq
		switch ev.Kind {
		case wire.EventKeys:
			c.drop(ev.Hashes, ev.Gone, ev.Rev)
			if c.cfg.EventLag != nil {
				if at, ok := streamTime(m.ID); ok {
					c.cfg.EventLag(max(c.now().Sub(at), 0))
				}
			}
		case wire.EventResync:
			c.flush("resync event")
			if ev.Epoch != "" {
				c.epochMu.Lock()
				c.epoch = ev.Epoch
				c.epochMu.Unlock()
			}
		default:
			c.log.Warn("unknown event kind; key cache flushed", zap.String("event_id", m.ID))
			c.flush("unknown event kind")
		}
		c.events.Add(1)
	}
}

// drop applies a keys event of revision rev: it removes the entries of hashes, positive
// and negative, except the positive entry of a key that gone flags (wire.Event.Gone;
// nil: none flagged) and a positive entry whose record is of rev or later (it holds the
// change already). A key flagged gone keeps its entry, which now refuses the key, as
// the tombstone sent for it would: the next request with it is refused without a round
// trip, and still refused if Redis is out by then. A positive entry removed leaves its
// revision floor behind (floor.go). Either way the shards are marked so that
// lookups in flight do not cache a reply that predates the event (nor answer misses
// that arrive from now on: see forget).
func (c *Cache) drop(hashes []wire.KeyHash, gone []bool, rev int64) {
	c.forget(hashes)
	for i, h := range hashes {
		s := c.shard(h)
		s.mu.Lock()
		if !s.closed {
			if i < len(gone) && gone[i] {
				s.kill(&h)
			} else {
				s.dropEntry(&h, rev)
			}
		}
		s.inv++
		s.mu.Unlock()
	}
	c.watchers.notify(hashes, false)
}

// setConnected marks the follower caught up, so that entries of the current
// generation are fresh again.
func (c *Cache) setConnected() {
	if !c.connected.Swap(true) {
		if ce := c.log.Check(zap.DebugLevel, "events follower caught up"); ce != nil {
			ce.Write()
		}
	}
}

// tailScan is how many entries from the stream's end the follower looks through for
// the last event that verifies.
const tailScan = 64

// streamTail is the end of the events stream as the follower compares it.
type streamTail struct {
	end   string // id of the last entry ("0-0": no stream)
	found bool   // an event that verifies was found (always, with no stream)
	id    string // the last such event's id ("0-0": no stream)
	seq   int64  // its seq
	sum   uint64 // its fields' fingerprint (eventSum)
}

// tail returns the stream's end: its last entry, and the last event that verifies
// among the last tailScan entries (entries someone else wrote are skipped). An entry
// whose id and fingerprint are lastID's and lastSum's, the last event applied, is not
// verified again.
func (c *Cache) tail(ctx context.Context, rdb redis.Cmdable, lastID string, lastSum uint64) (streamTail, error) {
	ctx, cancel := context.WithTimeout(ctx, tailTimeout)
	defer cancel()
	msgs, err := rdb.XRevRangeN(ctx, wire.RedisEvents, "+", "-", 1).Result()
	if err == nil && len(msgs) == 1 && !c.tailEvent(msgs[0], lastID, lastSum) {
		msgs, err = rdb.XRevRangeN(ctx, wire.RedisEvents, "+", "-", tailScan).Result()
	}
	if err != nil {
		return streamTail{}, fmt.Errorf("reading the events stream's tail: %w", err)
	}
	if len(msgs) == 0 {
		return streamTail{end: "0-0", found: true, id: "0-0"}, nil
	}
	t := streamTail{end: msgs[0].ID}
	for _, m := range msgs {
		if c.tailEvent(m, lastID, lastSum) {
			ev, _ := wire.ParseEvent(m)
			t.found, t.id, t.seq, t.sum = true, m.ID, ev.Seq, eventSum(m)
			break
		}
	}
	return t, nil
}

// tailEvent reports whether m is an event of the admin with a readable seq: the last
// one applied (lastID, lastSum), or one that verifies. Nothing is counted or logged:
// the entries of the tail are counted when they are read.
func (c *Cache) tailEvent(m redis.XMessage, lastID string, lastSum uint64) bool {
	if m.ID == lastID && eventSum(m) == lastSum {
		return true
	}
	ev, err := wire.ParseEvent(m)
	return err == nil && wire.VerifyEvent(c.cfg.Verifier, ev) == nil
}

// readEvents reads up to eventsBatch events after id, blocking up to block (no
// blocking when negative). No events is an empty slice, not an error.
func (c *Cache) readEvents(ctx context.Context, rdb redis.Cmdable, id string, block time.Duration) ([]redis.XMessage, error) {
	// A silent partition shows as a read that does not return: give up soon after the
	// BLOCK (go-redis honours this only with ContextTimeoutEnabled; otherwise it allows
	// the BLOCK plus 10s).
	ctx, cancel := context.WithTimeout(ctx, max(block, 0)+readMargin)
	defer cancel()
	streams, err := rdb.XRead(ctx, &redis.XReadArgs{
		Streams: []string{wire.RedisEvents, id},
		Count:   eventsBatch,
		Block:   block,
	}).Result()
	if errors.Is(err, redis.Nil) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("reading events: %w", err)
	}
	for _, s := range streams {
		if s.Stream == wire.RedisEvents {
			return s.Messages, nil
		}
	}
	return nil, nil
}

// openConn takes a fresh connection of the follower's own, when the client can give
// one, and notes its id for Close. A connection that failed is never reused: go-redis
// keeps failing a sticky connection once it went bad.
//
// The connection comes from a one-connection client of its own with retries off: with
// go-redis' default retries, an XREAD cut by a dead link is retried after a back-off of
// up to MaxRetryBackoff, and all that time the cache would still count itself connected
// and answer from entries that may have missed a revocation (found by e2e
// TestRevokedWhileRedisEmpty). The follower retries by itself, after marking the cache
// not fresh. Maintenance notifications are off on it whatever the given client says:
// a copy of options whose notifications are on makes go-redis log "cannot overwrite
// existing handler" each time the follower reconnects, and the follower has no use for
// them (it reconnects by itself).
func (f *follower) openConn(ctx context.Context) error {
	cl, ok := f.c.client.(*redis.Client)
	if !ok {
		f.needConn = false
		return nil
	}
	f.closeConn()
	opts := *cl.Options()
	opts.MaxRetries = -1
	opts.PoolSize = 1
	opts.MinIdleConns = 0
	opts.MaxIdleConns = 1
	opts.PipelinePoolSize = -1 // no second pool beside the one connection
	opts.MaintNotificationsConfig = &maintnotifications.Config{Mode: maintnotifications.ModeDisabled}
	f.own = redis.NewClient(&opts)
	conn := f.own.Conn()
	ctx, cancel := context.WithTimeout(ctx, tailTimeout)
	defer cancel()
	id, err := conn.ClientID(ctx).Result()
	if err != nil {
		f.closeConn()
		_ = conn.Close()
		return fmt.Errorf("opening the events connection: %w", err)
	}
	f.conn, f.rdb, f.needConn = conn, conn, false
	f.c.followID.Store(id)
	return nil
}

// closeConn gives the follower's connection back.
func (f *follower) closeConn() {
	f.c.followID.Store(0)
	if f.conn != nil {
		_ = f.conn.Close()
		f.conn = nil
		f.rdb = f.c.client
	}
	if f.own != nil {
		_ = f.own.Close()
		f.own = nil
	}
}

// stopFollower waits for the background goroutines to end after ctx was cancelled,
// unblocking the follower's XREAD with CLIENT UNBLOCK so that Close does not wait out
// the BLOCK. Without a connection of its own (cluster clients), Close waits up to it.
func (c *Cache) stopFollower() {
	done := make(chan struct{})
	go func() {
		c.wg.Wait()
		close(done)
	}()
	for {
		if id := c.followID.Load(); id != 0 {
			ctx, cancel := context.WithTimeout(context.Background(), unblockTimeout)
			_ = c.client.ClientUnblock(ctx, id).Err()
			cancel()
		}
		t := time.NewTimer(10 * time.Millisecond)
		select {
		case <-done:
			t.Stop()
			return
		case <-t.C:
		}
	}
}

// streamTime returns the time in a stream entry id ("<unix ms>-<seq>"), which Redis
// takes from its clock when it adds the entry.
func streamTime(id string) (time.Time, bool) {
	ms, _, ok := strings.Cut(id, "-")
	if !ok {
		return time.Time{}, false
	}
	v, err := strconv.ParseInt(ms, 10, 64)
	if err != nil || v <= 0 {
		return time.Time{}, false
	}
	return time.UnixMilli(v), true
}
