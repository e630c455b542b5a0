package redissync

import (
	"context"
	"sync"
	"time"
)

// The durable floor: a store revision that Redis must hold, whichever admin wrote it.
// A change's outbox row is deleted only after an Apply raised the revision markers to
// its revision at least (and, on Sentinel, a replica acknowledged it), so when the
// store's lowest pending revision is P, every change below P was confirmed in Redis;
// with no row pending, every change up to the store's revision was (or changed no key,
// and is noted on the marker at once). Each check of the markers samples that
// revision, and the floor is the newest sample at least revGrace old: by then the
// markers hold it unless Redis lost it, whoever confirmed it.
//
// Every raise of a marker (markers.go) and every check of the markers uses the higher
// of this floor and the Syncer's own (the highest marker it saw). So a change
// re-applied from the outbox, or made by an admin that never saw the lost revisions
// (it talked to another Redis node, or restarted), is refused the raise over a loss,
// and every admin notices a loss within a check of the markers after the grace,
// instead of each new change hiding it.

// durable keeps the samples and the floor.
type durable struct {
	mu      sync.Mutex
	samples []durableSample // oldest first
	floor   int64
}

// durableSample is a revision every change up to which was confirmed at at.
type durableSample struct {
	at  time.Time
	rev int64
}

// durableKeep bounds the samples kept: one a check, and a check is at least every
// few hundred milliseconds in practice.
const durableKeep = 64

// note adds a sample and raises the floor to the newest sample at least revGrace old.
func (d *durable) note(at time.Time, rev int64) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.samples = append(d.samples, durableSample{at: at, rev: rev})
	i := 0
	for i < len(d.samples) && at.Sub(d.samples[i].at) >= revGrace {
		d.floor = max(d.floor, d.samples[i].rev)
		i++
	}
	d.samples = d.samples[i:]
	if n := len(d.samples) - durableKeep; n > 0 {
		d.samples = d.samples[n:]
	}
}

// get returns the floor (0: none).
func (d *durable) get() int64 {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.floor
}

// reset forgets the samples and the floor: a full sync makes Redis hold the store's
// state whatever it held before (and a store restored to an older revision takes the
// floor down with it).
func (d *durable) reset() {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.samples, d.floor = nil, 0
}

// sampleDurable reads the store's revision, then its lowest pending revision, and notes
// the revision through which every change is confirmed.
func (s *Syncer) sampleDurable(ctx context.Context) error {
	rev, err := s.src.Revision(ctx)
	if err != nil {
		return err
	}
	ps, err := s.src.PendingChanges(ctx, 0, 1)
	if err != nil {
		return err
	}
	if len(ps) > 0 {
		rev = min(rev, ps[0].Rev-1)
	}
	s.durable.note(now(), rev)
	return nil
}

// floorNow is the floor of a raise or a check: the higher of the Syncer's own and the
// durable floor.
func (s *Syncer) floorNow() int64 { return max(s.floor.Load(), s.durable.get()) }
