package keycache

import (
	"context"
	"sync"
	"sync/atomic"

	"github.com/sagate/sagate/keystore/wire"
)

// watchers are the callbacks of Watch, and the notifications that wait for the
// notifier goroutine. A notification is a set of hashes (or "all", after a flush):
// it is bounded by the hashes watched, however many events arrive meanwhile, and the
// follower never waits for a callback.
type watchers struct {
	n      atomic.Int64 // watches registered: the follower skips all of this when 0
	mu     sync.Mutex
	byHash map[wire.KeyHash]map[*watch]struct{}
	due    map[wire.KeyHash]struct{} // hashes named since the notifier last ran
	all    bool                      // a flush since the notifier last ran
	wake   chan struct{}             // capacity 1
}

// watch is one Watch registration.
type watch struct {
	h  wire.KeyHash
	fn func()
}

func newWatchers() *watchers {
	return &watchers{
		byHash: make(map[wire.KeyHash]map[*watch]struct{}),
		due:    make(map[wire.KeyHash]struct{}),
		wake:   make(chan struct{}, 1),
	}
}

// Watch calls fn each time the key of hash h may have changed: after an event that
// names it (revoked, deactivated, expired, roles changed) has been applied, and after
// every flush of the cache (events may have been missed), until stop is called. fn
// runs on a goroutine of the cache's own, one call at a time for the whole cache, and
// should look the key up again (Lookup) to learn what changed; a call that finds the
// key unchanged is harmless. Calls may be coalesced: several changes, one call. It is
// for the few requests that stay open (streams, long downloads), so that a revocation
// reaches them too; after Close, fn is never called.
func (c *Cache) Watch(h wire.KeyHash, fn func()) (stop func()) {
	w := &watch{h: h, fn: fn}
	ws := c.watchers
	ws.mu.Lock()
	set := ws.byHash[h]
	if set == nil {
		set = make(map[*watch]struct{})
		ws.byHash[h] = set
	}
	set[w] = struct{}{}
	ws.n.Add(1)
	ws.mu.Unlock()
	var once sync.Once
	return func() {
		once.Do(func() {
			ws.mu.Lock()
			if set := ws.byHash[h]; set != nil {
				delete(set, w)
				if len(set) == 0 {
					delete(ws.byHash, h)
				}
			}
			ws.n.Add(-1)
			ws.mu.Unlock()
		})
	}
}

// notify queues the watches of hashes (all of them when hashes is nil) for the
// notifier. It never blocks.
func (ws *watchers) notify(hashes []wire.KeyHash, all bool) {
	if ws.n.Load() == 0 {
		return
	}
	ws.mu.Lock()
	if all {
		ws.all = true
	}
	for _, h := range hashes {
		if _, ok := ws.byHash[h]; ok {
			ws.due[h] = struct{}{}
		}
	}
	queued := ws.all || len(ws.due) > 0
	ws.mu.Unlock()
	if queued {
		select {
		case ws.wake <- struct{}{}:
		default:
		}
	}
}

// run calls the callbacks of what notify queued until ctx is done.
func (ws *watchers) run(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-ws.wake:
		}
		ws.mu.Lock()
		var fns []func()
		for h, set := range ws.byHash {
			if _, ok := ws.due[h]; !ok && !ws.all {
				continue
			}
			for w := range set {
				fns = append(fns, w.fn)
			}
		}
		clear(ws.due)
		ws.all = false
		ws.mu.Unlock()
		for _, fn := range fns {
			if ctx.Err() != nil {
				return
			}
			fn()
		}
	}
}
