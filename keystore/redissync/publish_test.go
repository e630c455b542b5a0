package redissync

import (
	"context"
	"slices"
	"testing"

	"github.com/sagate/sagate/keystore"
	"github.com/sagate/sagate/keystore/wire"
)

// TestEventScriptMatchesPublishEvent interleaves wire.PublishEvent with Apply's
// pipelined events and checks that both continue one seq and write entries that
// wire.ParseEvent reads back as they were sent, gone flags included.
func TestEventScriptMatchesPublishEvent(t *testing.T) {
	e := newEnv(t, Config{})
	ctx := context.Background()
	if _, err := e.s.Reconcile(ctx); err != nil {
		t.Fatal(err)
	}
	epoch := e.epoch(t)
	var want []wire.Event
	for i := range 6 {
		hs := []keystore.KeyHash{testHash(i), testHash(i + 100)}
		ev := wire.Event{Rev: int64(10 + i), Kind: wire.EventKeys, Epoch: epoch, Hashes: hs}
		var ws []write
		if i%3 == 0 { // the first key is gone: its tombstone is written (both paths: i = 0, 3)
			ev.Gone = []bool{true, false}
			var err error
			if ws, err = sealWrites(e.s.key, []pending{pendingTomb(hs[0], ev.Rev, wire.Record{})}, wire.MaxTreeLeaves, now()); err != nil {
				t.Fatal(err)
			}
		}
		if i%2 == 0 {
			wire.SignEvent(e.s.key, &ev)
			if _, _, err := wire.PublishEvent(ctx, e.rdb, ev, 0); err != nil {
				t.Fatal(err)
			}
		} else if _, err := e.s.writeAndPublish(ctx, ws, ev.Rev, hs); err != nil {
			t.Fatal(err)
		}
		want = append(want, ev)
	}
	got := e.events(t)
	if len(got) != len(want)+1 { // + the reconcile's resync event
		t.Fatalf("%d events, want %d", len(got), len(want)+1)
	}
	for i, ev := range got[1:] {
		w := want[i]
		if ev.Seq != got[0].Seq+int64(i)+1 || ev.Rev != w.Rev || ev.Kind != w.Kind || ev.Epoch != w.Epoch ||
			!slices.Equal(ev.Hashes, w.Hashes) || !slices.Equal(ev.Gone, w.Gone) {
			t.Errorf("event %d: %+v, want %+v with seq %d", i, ev, w, got[0].Seq+int64(i)+1)
		}
	}
}
