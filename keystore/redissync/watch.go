package redissync

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"
	"go.uber.org/zap"

	"github.com/sagate/sagate/keystore"
	"github.com/sagate/sagate/keystore/redisops"
	"github.com/sagate/sagate/keystore/wire"
)

// Watching Redis for writes this admin did not make. Anyone who can write to Redis can
// put back a record the admin once signed (DUMP, then RESTORE ... REPLACE): it verifies,
// and a sidecar that never saw the newer state takes it. The periodic repair
// (ReconcileInterval) puts the store's state back; the watch does it within
// about watchDelay plus one repair batch: Redis' keyspace notifications report every
// write to a record key, and a write whose value is not the one this Syncer last wrote
// there is checked against the store at once and repaired as the repair does
// (repairBatch: rewritten from the store, compare-and-set over a value from the future),
// then announced in a keys event, so that sidecars drop what they took from it.
//
// The admin turns notifications on (CONFIG SET notify-keyspace-events, adding K, $ and g
// to the flags already set). Where the server refuses CONFIG (a managed Redis, an ACL
// user without it), the admin logs once at Warn that the periodic repair is the bound,
// and WatchActive reports false. On a Cluster
// notifications are per node: the admin subscribes on every primary it finds when the
// watch starts (again after any error); a primary added later is watched from the
// watch's next start.

// Bounds of the watch.
const (
	// watchDelay is how long written keys gather before they are checked together.
	watchDelay = 50 * time.Millisecond
	// watchRetryMax caps the back-off between attempts to (re)subscribe.
	watchRetryMax = 30 * time.Second
	// writtenMax bounds the writes remembered with their revision (writtenSet); past
	// it the set starts over.
	writtenMax = 1 << 16
	// watchPendingMax bounds the notified keys the watch holds until it checks them;
	// past it, it runs a repair pass instead.
	watchPendingMax = 1 << 16
	// notifyFlags are the keyspace notification classes the watch needs: keyspace
	// events (K), string commands (SET, APPEND, ...: $) and generic ones (DEL, RESTORE,
	// RENAME, EXPIRE, COPY, ...: g).
	notifyFlags = "K$g"
)

// writtenSet remembers, per key hash, the revision of the record this Syncer last wrote
// there (up to writtenMax keys), so that the watch rewrites an older record put back
// even when its content is the store's. Whether a value is this Syncer's own is the
// digest set's to say (digestSet.wrote), for every key. Safe for concurrent use.
type writtenSet struct {
	mu sync.Mutex
	m  map[keystore.KeyHash]int64
}

func newWrittenSet() *writtenSet {
	return &writtenSet{m: make(map[keystore.KeyHash]int64)}
}

// note remembers the revisions of ws as this Syncer's last writes of their keys.
func (w *writtenSet) note(ws []write) {
	w.mu.Lock()
	defer w.mu.Unlock()
	for _, x := range ws {
		if len(w.m) >= writtenMax {
			clear(w.m)
		}
		w.m[x.hash] = x.rev
	}
}

// lastRev returns the revision this Syncer last wrote to h's key, if it remembers.
func (w *writtenSet) lastRev(h keystore.KeyHash) (int64, bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	rev, ok := w.m[h]
	return rev, ok
}

// watchState is what the watch reports (WatchActive) and counts.
type watchState struct {
	active  sync.Mutex
	on      bool
	foreign prometheus.Counter
	warned  bool // the warning that notifications are unavailable was logged
	// checked counts the keys the watch checked exactly (not this Syncer's last value),
	// by itself or by the repair pass it ran.
	checked atomic.Int64
}

func newWatchState(reg prometheus.Registerer, log *zap.Logger) *watchState {
	c := prometheus.NewCounter(prometheus.CounterOpts{
		Name: "sagate_sync_foreign_writes_total",
		Help: "Records in Redis written by someone other than this admin, seen by keyspace notifications and put back to the store's state.",
	})
	if reg != nil {
		c = register(reg, c, log)
	}
	return &watchState{foreign: c}
}

// WatchActive reports whether the watch is subscribed to Redis' keyspace notifications
// with the flags it needs set (as far as the server lets it read them).
func (s *Syncer) WatchActive() bool {
	s.watchSt.active.Lock()
	defer s.watchSt.active.Unlock()
	return s.watchSt.on
}

func (s *Syncer) setWatchActive(on bool) {
	s.watchSt.active.Lock()
	s.watchSt.on = on
	s.watchSt.active.Unlock()
}

// watch runs the watch until ctx ends, resubscribing with back-off after an error.
func (s *Syncer) watch(ctx context.Context) {
	backoff := time.Duration(0)
	for ctx.Err() == nil {
		err := s.watchOnce(ctx)
		s.setWatchActive(false)
		if ctx.Err() != nil {
			return
		}
		if c := s.log.Check(zap.DebugLevel, "redis sync: keyspace watch interrupted"); c != nil {
			c.Write(zap.Error(err))
		}
		backoff = min(max(2*backoff, retryMin), watchRetryMax)
		t := time.NewTimer(backoff)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
	}
}

// watchOnce turns notifications on, subscribes, and checks the keys written until the
// subscription fails or ctx ends.
func (s *Syncer) watchOnce(ctx context.Context) error {
	enabled := s.enableNotifications(ctx)
	subs, err := s.subscribe(ctx)
	if err != nil {
		return err
	}
	defer func() {
		for _, ps := range subs {
			_ = ps.Close()
		}
	}()
	msgs := make(chan string, 1024)
	done := make(chan error, len(subs))
	for _, ps := range subs {
		go func() {
			for {
				m, err := ps.ReceiveMessage(ctx)
				if err != nil {
					done <- err
					return
				}
				select {
				case msgs <- m.Channel:
				case <-ctx.Done():
					done <- ctx.Err()
					return
				}
			}
		}()
	}
	s.setWatchActive(enabled)
	pending := make(map[keystore.KeyHash]struct{})
	overflow := false // more than watchPendingMax keys were notified: run a repair pass
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	defer timer.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case err := <-done:
			return err
		case ch := <-msgs:
			h, ok := notifiedHash(ch)
			if !ok || overflow {
				continue
			}
			if len(pending) == 0 {
				timer.Reset(watchDelay)
			}
			if len(pending) == watchPendingMax {
				// More keys than the watch holds (a full sync writes every one): a
				// repair pass looks at them all instead.
				overflow = true
				clear(pending)
				continue
			}
			pending[h] = struct{}{}
		case <-timer.C:
			// While a full sync is owed or a reconcile runs, the keys wait: the sync
			// rewrites them, and a repair's raise of the markers in the middle of it
			// could be taken for a loss of writes.
			if s.needFull.Load() || !s.syncMu.TryLock() {
				timer.Reset(watchDelay)
				continue
			}
			hashes := make([]keystore.KeyHash, 0, len(pending))
			for h := range pending {
				hashes = append(hashes, h)
			}
			clear(pending)
			var err error
			if overflow {
				// A repair pass compares every key, as checkWritten would, and
				// also finds the records deleted meanwhile.
				overflow = false
				var st ReconcileStats
				st, err = s.reconcileLocked(ctx, false)
				s.watchSt.checked.Add(int64(st.Checked))
			} else {
				err = s.checkWritten(ctx, hashes)
			}
			s.syncMu.Unlock()
			if err != nil && ctx.Err() == nil {
				// Not fatal: the periodic repair covers what was missed.
				s.log.Warn("redis sync: checking keys written by someone else failed", zap.Int("keys", len(hashes)), zap.Error(err))
			}
		}
	}
}

// notifiedHash returns the key hash of a keyspace notification's channel
// ("__keyspace@<db>__:sagate:key:<hex>").
func notifiedHash(channel string) (keystore.KeyHash, bool) {
	_, key, ok := strings.Cut(channel, "__:")
	if !ok {
		return keystore.KeyHash{}, false
	}
	hx, ok := strings.CutPrefix(key, wire.RedisKeyPrefix)
	if !ok {
		return keystore.KeyHash{}, false
	}
	h, err := keystore.ParseKeyHash(hx)
	return h, err == nil
}

// checkWritten repairs, among hashes whose keys were written, those whose value is not
// the one this Syncer last wrote: rewritten from the store unless Redis holds the
// store's state (another admin's write, or a notification that raced this Syncer's own
// next write), and rewritten all the same when Redis holds a revision below the one this
// Syncer wrote there (an older value put back: sidecars that saw the newer revision
// would answer "cannot tell" until then). What it rewrites is counted and logged.
func (s *Syncer) checkWritten(ctx context.Context, hashes []keystore.KeyHash) error {
	g := s.digests.digester()
	for len(hashes) > 0 {
		n := min(len(hashes), batchSize)
		batch := hashes[:n]
		hashes = hashes[n:]
		cur, err := s.readRecords(ctx, batch)
		if err != nil {
			return err
		}
		var foreign []keystore.KeyHash
		force := make(map[keystore.KeyHash]bool)
		for i, h := range batch {
			if cur[i].raw != nil && s.digests.wrote(h, g.value(h, cur[i].raw)) {
				continue
			}
			foreign = append(foreign, h)
			if rev, ok := s.written.lastRev(h); ok && cur[i].ok && cur[i].rec.Rev < rev {
				force[h] = true
			}
		}
		if len(foreign) == 0 {
			continue
		}
		s.watchSt.checked.Add(int64(len(foreign)))
		var st ReconcileStats
		if _, err := s.repairBatchForce(ctx, foreign, true, s.lastEpoch(), &st, force); err != nil {
			return err
		}
		if n := st.Written + st.Removed; n > 0 {
			s.watchSt.foreign.Add(float64(n))
			s.m.repaired.Add(float64(n))
			s.log.Warn("redis sync: a write to sagate's keys that this admin did not make was undone (someone else writes to redis)",
				zap.Int("keys", len(foreign)), zap.Int("rewritten", st.Written), zap.Int("removed", st.Removed))
		}
	}
	return nil
}

// enableNotifications makes sure every primary publishes the keyspace notifications the
// watch needs, setting them where they are missing. It reports whether they are on; if
// not (the server refuses CONFIG), it logs once at Warn that the periodic repair is the
// only bound.
func (s *Syncer) enableNotifications(ctx context.Context) bool {
	err := s.forEachPrimary(ctx, func(ctx context.Context, c *redis.Client) error {
		cur, err := c.ConfigGet(ctx, "notify-keyspace-events").Result()
		if err != nil {
			return fmt.Errorf("reading notify-keyspace-events: %w", err)
		}
		flags := cur["notify-keyspace-events"]
		want := missingFlags(flags)
		if want == "" {
			return nil
		}
		if err := c.ConfigSet(ctx, "notify-keyspace-events", flags+want).Err(); err != nil {
			return fmt.Errorf("setting notify-keyspace-events: %w", err)
		}
		return nil
	})
	if err == nil {
		if s.watchSt.warned {
			s.log.Info("redis sync: keyspace notifications on; writes to sagate's keys by others are repaired within seconds")
			s.watchSt.warned = false
		}
		return true
	}
	if !s.watchSt.warned {
		s.watchSt.warned = true
		s.log.Warn("redis sync: cannot turn redis keyspace notifications on (set notify-keyspace-events to include "+notifyFlags+
			" on the server); unless they are on, a record put back by someone else stays until the periodic repair (--reconcile-interval)",
			zap.Error(err))
	}
	return false
}

// missingFlags returns the classes of notifyFlags that flags lacks ('A' stands for
// every class but key misses and new keys).
func missingFlags(flags string) string {
	var out []byte
	for _, f := range []byte(notifyFlags) {
		if strings.IndexByte(flags, f) >= 0 || f != 'K' && strings.IndexByte(flags, 'A') >= 0 {
			continue
		}
		out = append(out, f)
	}
	return string(out)
}

// subscribe subscribes to the keyspace notifications of the record keys, on every
// primary of a Cluster. The pattern covers every database (the admin's Redis user may
// subscribe to that one pattern only, whatever its database): a write in another one
// costs a GET that finds this Syncer's own value.
func (s *Syncer) subscribe(ctx context.Context) ([]*redis.PubSub, error) {
	var mu sync.Mutex
	var subs []*redis.PubSub
	err := s.forEachPrimary(ctx, func(ctx context.Context, c *redis.Client) error {
		ps := c.PSubscribe(ctx, redisops.KeyspacePattern)
		if _, err := ps.Receive(ctx); err != nil {
			_ = ps.Close()
			return fmt.Errorf("subscribing to keyspace notifications: %w", err)
		}
		mu.Lock()
		subs = append(subs, ps)
		mu.Unlock()
		return nil
	})
	if err != nil {
		for _, ps := range subs {
			_ = ps.Close()
		}
		return nil, err
	}
	return subs, nil
}

// errNoPrimary: the client is of a kind whose primaries the watch cannot reach.
var errNoPrimary = errors.New("no redis primary to watch")

// forEachPrimary calls fn with a client of every primary: the client itself on a single
// server or Sentinel, every master on a Cluster.
func (s *Syncer) forEachPrimary(ctx context.Context, fn func(context.Context, *redis.Client) error) error {
	switch c := s.rdb.(type) {
	case *redis.Client:
		return fn(ctx, c)
	case *redis.ClusterClient:
		return c.ForEachMaster(ctx, fn)
	}
	return errNoPrimary
}
