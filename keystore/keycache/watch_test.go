package keycache

import (
	"sync/atomic"
	"testing"

	"github.com/sagate/sagate/keystore/wire"
)

// TestWatch: a watch is called for an event that names its hash and for a flush,
// never for another key's event nor after stop.
func TestWatch(t *testing.T) {
	e := newEnv(t, envOpts{})
	h, rec := e.putNew()
	other, _ := e.putNew()
	var calls, stopped atomic.Int64
	stop := e.cache.Watch(h, func() { calls.Add(1) })
	stopNow := e.cache.Watch(h, func() { stopped.Add(1) })
	stopNow()
	stopNow() // twice is harmless

	base := e.cache.Stats().EventsApplied
	e.publish(wire.EventKeys, other)
	e.revoke(h, rec)
	e.waitEvents(base + 2)
	eventually(t, "the watch of the revoked key called", func() bool { return calls.Load() >= 1 })
	before := calls.Load()

	e.publish(wire.EventResync) // a flush
	eventually(t, "the watch called after a flush", func() bool { return calls.Load() > before })

	stop()
	after := calls.Load()
	base = e.cache.Stats().EventsApplied
	e.publish(wire.EventKeys, h)
	e.publish(wire.EventKeys, other) // applied in order after h's
	e.waitEvents(base + 2)
	if n := calls.Load(); n != after {
		t.Errorf("a stopped watch was called %d more times", n-after)
	}
	if n := stopped.Load(); n != 0 {
		t.Errorf("a watch stopped before any event was called %d times", n)
	}
	if n := e.cache.watchers.n.Load(); n != 0 {
		t.Errorf("%d watches left registered", n)
	}
	if len(e.cache.watchers.byHash) != 0 {
		t.Error("the watchers map keeps a hash nobody watches")
	}
}
