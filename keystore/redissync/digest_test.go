package redissync

import (
	"context"
	"testing"

	"github.com/sagate/sagate/keystore"
	"github.com/sagate/sagate/keystore/wire"
)

// TestRepairComparesDigests: once Redis holds what the store says, a repair checks no
// key exactly (no seal); a record replaced by a well-formed value of another key, one
// replaced by a forgery, one deleted, and records whose change in the store never
// reached Redis (revoked, deactivated, a rate limit, a role) are each found and put right by one pass, which checks only those.
func TestRepairComparesDigests(t *testing.T) {
	e := newEnv(t, Config{})
	ctx := context.Background()
	const n = 2*batchSize + 50
	e.fill(n)
	if _, err := e.s.Reconcile(ctx); err != nil {
		t.Fatal(err)
	}
	st, err := e.s.Reconcile(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if st.NewEpoch || st.Checked != 0 || st.Unchanged != n || st.Written+st.Removed != 0 {
		t.Fatalf("repair of an unchanged Redis: %+v, want %d unchanged and none checked", st, n)
	}

	// Key 7 now holds key 8's record, validly sealed by the admin's key (for key 8).
	other, err := e.rdb.Get(ctx, wire.RedisKey(testHash(8))).Bytes()
	if err != nil {
		t.Fatal(err)
	}
	e.rdb.Set(ctx, wire.RedisKey(testHash(7)), other, 0)
	// Key 9 holds its own content with an escalated role, sealed by another key.
	esc := testRecord(9)
	esc.Roles = map[string]keystore.Role{"*": keystore.RoleOwner}
	esc.Rev = 1
	e.rdb.Set(ctx, wire.RedisKey(testHash(9)), forge(t, testHash(9), esc), 0)
	// Key 10's record is gone.
	e.rdb.Del(ctx, wire.RedisKey(testHash(10)))
	// Key 11 was revoked and key 12 deactivated in the store; neither write reached Redis.
	e.src.remove(testHash(11))
	deact := testRecord(12)
	deact.State = keystore.KeyDeactivated
	e.src.put(testHash(12), deact)
	// Key 13's account got a rate limit and key 14 another role; neither reached Redis.
	limited := testRecord(13)
	limited.RPS, limited.Burst = 5, 10
	e.src.put(testHash(13), limited)
	promoted := testRecord(14)
	promoted.Roles = map[string]keystore.Role{"p": keystore.RoleOwner}
	e.src.put(testHash(14), promoted)

	st, err = e.s.Reconcile(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if st.NewEpoch || st.Written != 6 || st.Removed != 1 {
		t.Errorf("repair: %+v, want 6 written (7, 9, 10, 12, 13, 14) and 1 removed (11)", st)
	}
	// Key 7 is checked from the store's side and from Redis' side: at most twice.
	if st.Checked < 7 || st.Checked > 14 {
		t.Errorf("repair checked %d keys exactly, want only the 7 damaged ones (each at most twice)", st.Checked)
	}
	if msg := e.mismatch(t); msg != "" {
		t.Fatal(msg)
	}
	if r, ok := e.record(t, testHash(11)); !ok || r.State != keystore.KeyRevoked {
		t.Errorf("key 11: %+v, want a tombstone", r)
	}

	// The next pass finds nothing to do, the tombstone included, and seals nothing.
	st, err = e.s.Reconcile(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if st.Checked != 0 || st.Written+st.Removed != 0 {
		t.Errorf("pass after the repair: %+v, want nothing checked or written", st)
	}
}

// TestRepairLearnsAnotherAdminsWrites: a record written by a second admin (same
// signing key) is checked exactly once by the first admin's repair, which then
// remembers it; a replay of an older record over it is still found.
func TestRepairLearnsAnotherAdminsWrites(t *testing.T) {
	e := newEnv(t, Config{})
	ctx := context.Background()
	e.fill(40)
	if _, err := e.s.Reconcile(ctx); err != nil {
		t.Fatal(err)
	}
	old, err := e.rdb.Get(ctx, wire.RedisKey(testHash(3))).Bytes()
	if err != nil {
		t.Fatal(err)
	}
	second := newSyncer(t, e.rdb, e.src, Config{})
	r := testRecord(3)
	r.Roles = map[string]keystore.Role{"p": keystore.RoleOwner}
	rev := e.src.put(testHash(3), r)
	if err := second.Apply(ctx, keystore.Change{Rev: rev, Hashes: []keystore.KeyHash{testHash(3)}}); err != nil {
		t.Fatal(err)
	}

	st, err := e.s.Reconcile(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if st.Written+st.Removed != 0 || st.Checked == 0 {
		t.Errorf("first pass after the other admin's write: %+v, want it checked and left", st)
	}
	st, err = e.s.Reconcile(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if st.Checked != 0 {
		t.Errorf("second pass: %+v, want nothing checked", st)
	}

	// The record of before the change, validly sealed, put back: found and rewritten.
	e.rdb.Set(ctx, wire.RedisKey(testHash(3)), old, 0)
	st, err = e.s.Reconcile(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if st.Written != 1 {
		t.Errorf("pass after an older record was put back: %+v, want it rewritten", st)
	}
	if msg := e.mismatch(t); msg != "" {
		t.Fatal(msg)
	}
}

// TestFingerprintCoversEveryField: a record's fingerprint changes with every field but
// Rev, and scanRecord, which reuses the account's part while the account's fields and
// Roles map stay the same, gives what record gives, across accounts and maps.
func TestFingerprintCoversEveryField(t *testing.T) {
	g := newDigestSet().digester()
	h := testHash(1)
	shared := map[string]keystore.Role{"p": keystore.RoleViewer, "q": keystore.RoleContributor}
	base := wire.Record{KeyID: "key_1", SAID: "sa_1", SA: "bot@ws", Workspace: "ws", State: keystore.KeyActive,
		Exp: 1700000000000, Roles: shared, RPS: 5, Burst: 10, Rev: 3}
	variants := map[string]func(*wire.Record){
		"KeyID":     func(r *wire.Record) { r.KeyID = "key_2" },
		"SAID":      func(r *wire.Record) { r.SAID = "sa_2" },
		"SA":        func(r *wire.Record) { r.SA = "other@ws" },
		"Workspace": func(r *wire.Record) { r.Workspace = "ws2" },
		"State":     func(r *wire.Record) { r.State = keystore.KeyDeactivated },
		"Exp":       func(r *wire.Record) { r.Exp = 0 },
		"RPS":       func(r *wire.Record) { r.RPS = 6 },
		"Burst":     func(r *wire.Record) { r.Burst = 11 },
		"Roles": func(r *wire.Record) {
			r.Roles = map[string]keystore.Role{"p": keystore.RoleOwner, "q": keystore.RoleContributor}
		},
		"no Roles": func(r *wire.Record) { r.Roles = nil },
	}
	want := g.record(h, base)
	rev := base
	rev.Rev = 9
	if got := g.record(h, rev); got != want {
		t.Errorf("the fingerprint changed with Rev alone")
	}
	for name, change := range variants {
		r := base
		change(&r)
		fp := g.record(h, r)
		if fp == want {
			t.Errorf("%s: the fingerprint did not change", name)
		}
		// The scan's path, with the previous record's account part cached.
		if got := g.scanRecord(h, base); got != want {
			t.Errorf("before %s: scanRecord %x, record %x", name, got, want)
		}
		if got := g.scanRecord(h, r); got != fp {
			t.Errorf("%s: scanRecord %x, record %x", name, got, fp)
		}
	}
	if g.scanRecord(h, base) != want || g.scanRecord(testHash(2), base) != g.record(testHash(2), base) {
		t.Errorf("scanRecord differs from record for keys of one account")
	}
}
