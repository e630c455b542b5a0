package keycache

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"runtime"
	"strings"
	"sync"

	"github.com/redis/go-redis/v9"

	"github.com/sagate/sagate/keystore/wire"
)

// Misses share round trips. A miss for a hash already queued or in flight joins that
// lookup. Otherwise its hash is queued; if fewer than maxFlights pipelines are in
// flight, a new one leaves at once with the queue, so an idle cache adds no latency.
// Each flight, when its reply is in, takes whatever queued meanwhile (at most maxBatch
// hashes) and goes again, until the queue is empty: under load, N concurrent misses
// cost one write instead of N. Every pipeline is GET sagate:epoch + GET sagate:rev + one
// GET per hash, and on a Cluster one GET per shard marker of those hashes (shardrev.go).

// errExpired answers a queued lookup that nobody waited for any more.
var errExpired = errors.New("lookup expired in the queue")

// Bounds of the miss path.
const (
	// maxFlights bounds the pipelines in flight, hence the goroutines and connections
	// the miss path uses, however slow Redis is. One: every miss that arrives during a
	// round trip rides the next one, so batches grow with the load and Redis sees
	// fewer, larger pipelines, at the cost of at most one round trip of waiting for a
	// miss that finds a flight in the air.
	maxFlights = 1
	// maxBatch is the most hashes one pipeline asks for.
	maxBatch = 128
	// maxPending bounds the hashes queued or in flight; a miss beyond it is answered as
	// if Redis were down (stale or ErrUnavailable) without waiting.
	maxPending = 1024
)

// call is the Redis lookup of one hash, shared by the misses for it.
type call struct {
	h    wire.KeyHash
	done chan struct{} // closed once e and err are set
	e    Entry
	err  error
	inv  uint64 // the shard's invalidation count when the request left
	// last is when the latest miss joined (Cache.mono): once LookupTimeout has passed
	// since, nobody waits for the answer and a call still queued is not sent.
	last int64
	// digest is recordDigest of the reply's record and known whether the verdict table
	// held it, set by answerAll when the reply is a record (hasDigest).
	digest    [sha256.Size]byte
	hasDigest bool
	known     bool
}

// enqueue returns the lookup of h, joining the one queued or in flight, or queueing a
// new one and starting a flight when fewer than maxFlights are in the air.
// at is the miss's time (Cache.mono).
func (c *Cache) enqueue(h wire.KeyHash, at int64) (*call, error) {
	c.bmu.Lock()
	if cl := c.calls[h]; cl != nil {
		cl.last = max(cl.last, at)
		c.bmu.Unlock()
		return cl, nil
	}
	if len(c.calls) >= maxPending {
		c.bmu.Unlock()
		return nil, errBusy
	}
	cl := &call{h: h, done: make(chan struct{}), last: at}
	c.calls[h] = cl
	c.queue = append(c.queue, cl)
	var batch []*call
	if c.flights < maxFlights {
		if batch = c.takeBatch(at); batch != nil {
			c.flights++
		}
	}
	c.bmu.Unlock()
	if batch != nil {
		go c.fly(batch)
	}
	return cl, nil
}

// takeBatch removes up to maxBatch calls from the head of the queue, after dropping
// those nobody waits for any more (Redis was slower than LookupTimeout). It returns nil
// when nothing is left to send. The caller holds bmu; now is Cache.mono.
func (c *Cache) takeBatch(now int64) []*call {
	live := c.queue[:0]
	for _, cl := range c.queue {
		if now-cl.last < int64(c.cfg.LookupTimeout) {
			live = append(live, cl)
			continue
		}
		cl.err = errExpired
		if c.calls[cl.h] == cl {
			delete(c.calls, cl.h)
		}
		close(cl.done)
	}
	clear(c.queue[len(live):])
	c.queue = live
	if len(c.queue) == 0 {
		c.queue = nil
		return nil
	}
	n := min(len(c.queue), maxBatch)
	batch := c.queue[:n:n]
	if n == len(c.queue) {
		c.queue = nil
	} else {
		c.queue = c.queue[n:]
	}
	return batch
}

// fly sends batch, then whatever queued meanwhile, until the queue is empty.
func (c *Cache) fly(batch []*call) {
	for {
		c.fetch(batch)
		now := c.mono(c.now())
		c.bmu.Lock()
		batch = c.takeBatch(now)
		if batch == nil {
			c.flights--
			c.bmu.Unlock()
			return
		}
		c.bmu.Unlock()
	}
}

// fetch is one Redis round trip for batch: GET the epoch, the revision marker and
// every record in one pipeline. Each call gets its entry (nil: no such key, with the
// epoch present) or why Redis could not tell. Errors are never cached, and neither is
// anything that did not verify (verdict.go) or came from a Redis older than what this
// cache has seen. On a Cluster, the calls whose shard marker was below the reply's
// sagate:rev (shardUnsure) are asked once more (shardrev.go).
func (c *Cache) fetch(batch []*call) {
	ctx, cancel := context.WithTimeout(context.Background(), c.cfg.LookupTimeout) // for both rounds
	defer cancel()
	if again := c.fetchOnce(ctx, batch, false); len(again) > 0 {
		c.fetchOnce(ctx, again, true)
	}
}

// fetchOnce is one round trip of fetch. On the first (retry false) it returns the
// calls it left unanswered, to ask again; on the second, those are answered "cannot
// tell".
func (c *Cache) fetchOnce(ctx context.Context, batch []*call, retry bool) []*call {
	if c.fetchHook != nil {
		c.fetchHook()
	}
	c.lookups.Add(1)
	// Note the generation, the revision seen and each shard's invalidation count
	// before the request leaves: whatever changes after this point may not be
	// reflected in the reply.
	gen := c.gen.Load()
	seen := c.seenRev.Load()
	for _, cl := range batch {
		s := c.shard(cl.h)
		s.mu.Lock()
		cl.inv = s.inv
		s.mu.Unlock()
	}
	confirmed := c.mono(c.now())

	slotMap, err := c.batchSlotMap(ctx)
	if err != nil {
		c.finish(batch, err)
		return nil
	}
	pipe := c.client.Pipeline()
	epochCmd := pipe.Get(ctx, wire.RedisEpoch)
	revCmd := pipe.Get(ctx, wire.RedisRev)
	// On a Cluster, each record's shard marker, before the records, as the markers
	// above: a record read after its marker is at least as new (shardrev.go).
	var shardCmds []*redis.StringCmd
	var shardKeys []string
	var shardOf []int
	if slotMap != nil {
		shardCmds, shardKeys, shardOf = shardGets(ctx, pipe, slotMap, batch)
	}
	recCmds := make([]*redis.StringCmd, len(batch))
	for i, cl := range batch {
		recCmds[i] = pipe.Get(ctx, redisKey(cl.h))
	}
	if _, err := pipe.Exec(ctx); err != nil && !errors.Is(err, redis.Nil) {
		c.finish(batch, fmt.Errorf("looking up key records: %w", err))
		return nil
	}
	if c.replyHook != nil {
		c.replyHook()
	}
	hasEpoch, err := c.replyEpoch(epochCmd)
	if err != nil {
		c.finish(batch, err)
		return nil
	}
	replyRev, err := c.replyRev(revCmd, seen, hasEpoch)
	if errors.Is(err, errBehind) {
		// Redis went back in time (or lost its marker): nothing it says can be told
		// from what it said before, but a tombstone, which is final.
		for i, cl := range batch {
			cl.e, cl.err = c.answerFinal(cl, recCmds[i], confirmed, gen, err)
		}
		c.finish(batch, nil)
		return nil
	}
	if err != nil {
		// No epoch and nothing seen, or a marker that does not verify.
		c.finish(batch, err)
		return nil
	}
	var states []shardState
	if slotMap != nil {
		shardStates, err := c.shardStates(shardCmds, shardKeys, seen, replyRev)
		if err != nil {
			c.finish(batch, err)
			return nil
		}
		states = make([]shardState, len(batch))
		unserved := false
		for i, j := range shardOf {
			switch {
			case j < 0: // a slot no range of the map serves: the map is stale
				unserved = true
				states[i] = shardRefused
			case shardStates[j] == shardUnsure && retry:
				states[i] = shardRefused
			default:
				states[i] = shardStates[j]
			}
		}
		if unserved {
			_ = c.behind(0, seen) // counted once per reply
		}
	}
	c.answerAll(batch, recCmds, states, hasEpoch, confirmed, gen)
	var again []*call
	if states != nil {
		done := batch[:0:0]
		for i, cl := range batch {
			if states[i] == shardUnsure {
				again = append(again, cl)
			} else {
				done = append(done, cl)
			}
		}
		batch = done
	}
	c.finish(batch, nil)
	return again
}

// answerAll answers the calls of batch from their records' replies and, on a Cluster,
// the states of their shard markers (states; nil otherwise). A record seen for the
// first time costs an Ed25519 verification (verdict.go): so that a batch of several
// (after a restart) does not wait on one CPU, such a batch is shared out over up to
// GOMAXPROCS goroutines, which end with the batch. A batch with at most one record to
// verify is answered on the calling goroutine.
func (c *Cache) answerAll(batch []*call, cmds []*redis.StringCmd, states []shardState, hasEpoch bool, confirmed int64, gen uint64) {
	verify := 0
	for i, cl := range batch {
		raw, err := cmds[i].Bytes()
		if cl.hasDigest = err == nil; err != nil {
			continue
		}
		cl.digest = recordDigest(cl.h, raw)
		if cl.known = c.verdicts.has(&cl.digest); !cl.known {
			verify++
		}
	}
	one := func(i int) {
		cl := batch[i]
		raw, err := cmds[i].Bytes()
		var st shardState
		if states != nil {
			st = states[i]
		}
		switch st {
		case shardRefused: // that shard is older than what this cache saw (shardrev.go)
			cl.e, cl.err = c.answerFinal(cl, cmds[i], confirmed, gen, errBehind)
			return
		case shardUnsure:
			return // asked again by fetch
		}
		if errors.Is(err, redis.Nil) && !hasEpoch {
			// No epoch: Redis is empty or half-filled, so a MISSING record cannot be
			// told from an unknown key (stale or 503). A record that IS there was
			// written by the admin since Redis came back (rev-checked; later changes
			// overwrite it, and the revision marker says Redis is not behind), so it
			// answers: the tombstone of a key revoked meanwhile must refuse the key
			// rather than let a stale cached entry say yes (e2e TestRevokedWhileRedisEmpty).
			cl.err = errNoEpoch
			return
		}
		cl.e, cl.err = c.answer(cl, raw, err, confirmed, gen)
	}
	workers := 1
	if verify > 1 {
		workers = min(runtime.GOMAXPROCS(0), len(batch))
	}
	var wg sync.WaitGroup
	for w := 1; w < workers; w++ {
		wg.Go(func() {
			for i := w; i < len(batch); i += workers {
				one(i)
			}
		})
	}
	for i := 0; i < len(batch); i += max(workers, 1) {
		one(i)
	}
	wg.Wait()
}

// replyEpoch reads the epoch marker of a reply: false when there is none; an error
// when Redis failed or the marker does not verify. A verified epoch that changed
// flushes the cache (noteEpoch).
func (c *Cache) replyEpoch(cmd *redis.StringCmd) (bool, error) {
	sealed, err := cmd.Result()
	if errors.Is(err, redis.Nil) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("reading epoch: %w", err)
	}
	epoch, err := c.openEpoch(sealed)
	if err != nil {
		return false, err
	}
	c.noteEpoch(epoch)
	return true, nil
}

// replyRev checks the revision marker of a reply against seen, the highest revision
// this cache had seen verified when the request left, and returns the marker's
// revision: missing or lower means Redis is older than what this cache saw
// (errBehind), or, with no epoch either and nothing seen yet, that Redis is empty
// (errNoEpoch). A higher one raises seenRev.
func (c *Cache) replyRev(cmd *redis.StringCmd, seen int64, hasEpoch bool) (int64, error) {
	sealed, err := cmd.Result()
	if errors.Is(err, redis.Nil) {
		if !hasEpoch && seen == 0 {
			return 0, errNoEpoch
		}
		return 0, c.behind(0, seen)
	}
	if err != nil {
		return 0, fmt.Errorf("reading the revision marker: %w", err)
	}
	rev, err := c.openRev(sealed)
	if err != nil {
		return 0, err
	}
	if rev < seen {
		return 0, c.behind(rev, seen)
	}
	c.noteRev(rev)
	return rev, nil
}

// answerFinal answers a call from a Redis that is behind what this cache has seen: only
// a tombstone (a verified record of a revoked key) answers, since revocation is final
// (wire.Event.Gone); anything else is why, "cannot tell".
func (c *Cache) answerFinal(cl *call, cmd *redis.StringCmd, confirmed int64, gen uint64, why error) (Entry, error) {
	raw, err := cmd.Bytes()
	if err != nil {
		return Entry{}, why
	}
	rec, err := c.openCall(cl, raw)
	if err != nil || rec.State != wire.KeyRevoked {
		return Entry{}, why
	}
	return c.store(cl.h, &rec, confirmed, gen, cl.inv)
}

// answer verifies, decodes and caches one record of a pipeline's reply (err: the
// record's GET failed; redis.Nil: no such key).
func (c *Cache) answer(cl *call, raw []byte, err error, confirmed int64, gen uint64) (Entry, error) {
	if errors.Is(err, redis.Nil) {
		if c.mayEvict.Load() { // evicted or unknown: cannot tell (evict.go)
			return Entry{}, errMayEvict
		}
		return c.store(cl.h, nil, confirmed, gen, cl.inv)
	}
	if err != nil {
		return Entry{}, fmt.Errorf("reading key record: %w", err)
	}
	rec, err := c.openCall(cl, raw)
	if err != nil {
		return Entry{}, err
	}
	return c.store(cl.h, &rec, confirmed, gen, cl.inv)
}

// openCall is openRecord of the record raw answered for cl, with the digest answerAll
// computed when it did.
func (c *Cache) openCall(cl *call, raw []byte) (wire.Record, error) {
	if !cl.hasDigest {
		return c.openRecord(cl.h, raw)
	}
	return c.openRecordDigest(cl.h, raw, &cl.digest, cl.known)
}

// finish hands the calls of batch their answers (err, when not nil, for all of them)
// and forgets them, so that the next miss for their hashes asks Redis again.
func (c *Cache) finish(batch []*call, err error) {
	c.bmu.Lock()
	for _, cl := range batch {
		if err != nil {
			cl.err = err
		}
		if c.calls[cl.h] == cl {
			delete(c.calls, cl.h)
		}
	}
	c.bmu.Unlock()
	for _, cl := range batch {
		close(cl.done)
	}
}

// forget detaches the lookups of hashes, queued or in flight, after an event named
// them: their replies may predate the event, so a miss from now on must not join them.
// They still answer the misses that joined before.
func (c *Cache) forget(hashes []wire.KeyHash) {
	c.bmu.Lock()
	defer c.bmu.Unlock()
	if len(c.calls) == 0 {
		return
	}
	for _, h := range hashes {
		delete(c.calls, h)
	}
}

// redisKeyLen is the length of a record's Redis key.
const redisKeyLen = len(wire.RedisKeyPrefix) + 2*len(wire.KeyHash{})

// appendRedisKey appends the Redis key of h's record to b.
func appendRedisKey(b []byte, h wire.KeyHash) []byte {
	b = append(b, wire.RedisKeyPrefix...)
	return hex.AppendEncode(b, h[:])
}

// redisKey is wire.RedisKey in one allocation instead of two.
func redisKey(h wire.KeyHash) string {
	var hx [2 * len(wire.KeyHash{})]byte
	hex.Encode(hx[:], h[:])
	var b strings.Builder
	b.Grow(len(wire.RedisKeyPrefix) + len(hx))
	b.WriteString(wire.RedisKeyPrefix)
	b.Write(hx[:])
	return b.String()
}
