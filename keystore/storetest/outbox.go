package storetest

import (
	"slices"
	"testing"
	"time"

	"github.com/sagate/sagate/keystore"
)

// longAgo is an age no row of a test reaches: PendingChanges with it sees nothing.
const longAgo = time.Hour

// pending reads every pending change, whatever its age.
func (e *env) pending() []keystore.PendingChange {
	e.t.Helper()
	ps, err := e.store.PendingChanges(e.ctx, 0, 1000)
	if err != nil {
		e.t.Fatalf("PendingChanges: %v", err)
	}
	return ps
}

// testSyncPending: every commit that changes key records leaves an outbox row with its
// revision and hashes, in the same transaction (a refused mutation leaves none); a
// commit that changes no record, and a Service without a Syncer, leave none.
func testSyncPending(t *testing.T, e *env) {
	e.ws("ws", 0)
	if ps := e.pending(); len(ps) != 0 {
		t.Fatalf("pending after creating a workspace: %+v", ps)
	}
	_, k1, err := e.svc.CreateServiceAccount(e.ctx, "ws", keystore.CreateServiceAccountInput{Name: "bot", CreateKey: true})
	if err != nil {
		t.Fatal(err)
	}
	c1 := e.expectChange("service_account.create", hash(*k1))
	k2, err := e.svc.CreateKey(e.ctx, "ws", "bot", keystore.CreateKeyInput{})
	if err != nil {
		t.Fatal(err)
	}
	c2 := e.expectChange("key.create", hash(k2))
	if _, _, err := e.svc.RevokeAllKeys(e.ctx, "ws", "bot"); err != nil {
		t.Fatal(err)
	}
	c3 := e.expectChange("key.revoke_all", hash(*k1), hash(k2))
	// Refused: the transaction, outbox row included, is rolled back.
	_, _, err = e.svc.CreateServiceAccount(e.ctx, "ws", keystore.CreateServiceAccountInput{Name: "bot", CreateKey: true})
	wantKind(t, "creating bot twice", err, keystore.KindNameTaken)

	ps := e.pending()
	if len(ps) != 3 {
		t.Fatalf("pending = %d changes, want 3: %+v", len(ps), ps)
	}
	for i, c := range []keystore.Change{c1, c2, c3} {
		if ps[i].Rev != c.Rev || !sameHashes(ps[i].Hashes, c.Hashes) {
			t.Errorf("pending[%d] = rev %d %v, want the change's rev %d %v", i, ps[i].Rev, short(ps[i].Hashes), c.Rev, short(c.Hashes))
		}
	}
	if n, err := e.store.CountPending(e.ctx, 0); err != nil || n != 3 {
		t.Errorf("CountPending(0) = %d, %v; want 3", n, err)
	}

	// Without a Syncer nothing is owed to Redis.
	bare, err := keystore.NewService(e.store, keystore.ServiceOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := bare.CreateKey(e.ctx, "ws", "bot", keystore.CreateKeyInput{}); err != nil {
		t.Fatal(err)
	}
	if ps := e.pending(); len(ps) != 3 {
		t.Errorf("a Service without a Syncer left a pending change: %d, want 3", len(ps))
	}
}

// testSyncPendingAgeAndConfirm: PendingChanges and CountPending skip rows younger than
// the age asked (by the store's clock), list by revision up to the limit; ConfirmChanges
// deletes exactly the revisions given and ConfirmChangesThrough every one up to a revision.
func testSyncPendingAgeAndConfirm(t *testing.T, e *env) {
	e.ws("ws", 0)
	e.sa("ws", "bot")
	for range 4 {
		e.key("ws", "bot", keystore.CreateKeyInput{})
	}
	ps := e.pending()
	if len(ps) != 5 {
		t.Fatalf("pending = %d, want 5", len(ps))
	}
	revs := make([]int64, len(ps))
	for i, p := range ps {
		revs[i] = p.Rev
		if len(p.Hashes) != 1 {
			t.Errorf("pending rev %d has %d hashes, want 1", p.Rev, len(p.Hashes))
		}
	}
	if !slices.IsSorted(revs) {
		t.Errorf("pending revisions %v not in order", revs)
	}
	if old, err := e.store.PendingChanges(e.ctx, longAgo, 10); err != nil || len(old) != 0 {
		t.Errorf("PendingChanges(1h) = %d rows, %v; want none (every row is fresh)", len(old), err)
	}
	if n, err := e.store.CountPending(e.ctx, longAgo); err != nil || n != 0 {
		t.Errorf("CountPending(1h) = %d, %v; want 0", n, err)
	}
	if two, err := e.store.PendingChanges(e.ctx, 0, 2); err != nil || len(two) != 2 || two[0].Rev != revs[0] || two[1].Rev != revs[1] {
		t.Errorf("PendingChanges(limit 2) = %+v, %v; want revs %v", two, err, revs[:2])
	}

	// revs[1] and revs[3], plus a revision that has no row.
	if err := e.store.ConfirmChanges(e.ctx, []int64{revs[1], revs[3], revs[4] + 100}); err != nil {
		t.Fatalf("ConfirmChanges: %v", err)
	}
	if err := e.store.ConfirmChanges(e.ctx, nil); err != nil {
		t.Fatalf("ConfirmChanges(nil): %v", err)
	}
	if got := pendingRevs(e.pending()); !slices.Equal(got, []int64{revs[0], revs[2], revs[4]}) {
		t.Errorf("pending after confirming two = %v, want %v", got, []int64{revs[0], revs[2], revs[4]})
	}
	if err := e.store.ConfirmChangesThrough(e.ctx, revs[2]); err != nil {
		t.Fatalf("ConfirmChangesThrough: %v", err)
	}
	if got := pendingRevs(e.pending()); !slices.Equal(got, []int64{revs[4]}) {
		t.Errorf("pending after confirming through %d = %v, want %v", revs[2], got, revs[4:])
	}
	if n, err := e.store.CountPending(e.ctx, 0); err != nil || n != 1 {
		t.Errorf("CountPending = %d, %v; want 1", n, err)
	}
}

func pendingRevs(ps []keystore.PendingChange) []int64 {
	out := make([]int64, len(ps))
	for i, p := range ps {
		out[i] = p.Rev
	}
	return out
}
