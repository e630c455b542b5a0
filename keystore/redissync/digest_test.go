package redissync

import (
	"context"
	"math"
	"testing"
	"time"

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

	damageRedis(t, e)
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

// damageRedis damages three records: key 7 holds key 8's record, validly sealed by the
// admin's key (for key 8); key 9 its own content with an escalated role, sealed by
// another key; key 10's record is gone.
func damageRedis(t *testing.T, e *env) {
	t.Helper()
	ctx := context.Background()
	other, err := e.rdb.Get(ctx, wire.RedisKey(testHash(8))).Bytes()
	if err != nil {
		t.Fatal(err)
	}
	esc := testRecord(9)
	esc.Roles = map[string]keystore.Role{"*": keystore.RoleOwner}
	esc.Rev = 1
	for _, err := range []error{
		e.rdb.Set(ctx, wire.RedisKey(testHash(7)), other, 0).Err(),
		e.rdb.Set(ctx, wire.RedisKey(testHash(9)), forge(t, testHash(9), esc), 0).Err(),
		e.rdb.Del(ctx, wire.RedisKey(testHash(10))).Err(),
	} {
		if err != nil {
			t.Fatal(err)
		}
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

// TestQuietStoreSkipsItsScan: while the store's revision stands still, a repair pass
// does not scan the store, checks no key exactly, and still puts right a record
// replaced, forged or deleted in Redis; a change in the store, a key's expiry and the
// age of the last scan each bring the scan back. An edit of the store that takes no
// revision is seen by the first scan after maxQuietAge, not before.
func TestQuietStoreSkipsItsScan(t *testing.T) {
	e := newEnv(t, Config{})
	ctx := context.Background()
	offset := time.Duration(0)
	saved := now
	now = func() time.Time { return time.Now().Add(offset) }
	t.Cleanup(func() { now = saved })
	const n = batchSize + 30
	e.fill(n)
	soon := testRecord(n)
	soon.Exp = time.Now().Add(time.Minute).UnixMilli()
	e.src.put(testHash(n), soon)
	pass := func(what string, wantScan bool) ReconcileStats {
		t.Helper()
		scans := e.src.scanCount()
		st, err := e.s.Reconcile(ctx)
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		if st.StoreScanned != wantScan {
			t.Fatalf("%s: %+v, want the store scanned: %v", what, st, wantScan)
		}
		// A pass that scans reads the store once; a quiet one reads it only to find
		// the records deleted in Redis, which it then writes.
		if got := e.src.scanCount() - scans; wantScan && got != 1 || !wantScan && st.Written == 0 && got != 0 {
			t.Fatalf("%s: %+v scanned the store %d times", what, st, got)
		}
		return st
	}
	if _, err := e.s.Reconcile(ctx); err != nil {
		t.Fatal(err)
	}
	if st := pass("first repair", true); st.Checked != 0 || st.Unchanged != n+1 {
		t.Fatalf("first repair: %+v, want %d unchanged and none checked", st, n+1)
	}
	if st := pass("quiet repair", false); st.Checked != 0 || st.Unchanged != n+1 || st.Written+st.Removed != 0 {
		t.Fatalf("quiet repair: %+v, want %d unchanged and none checked", st, n+1)
	}

	// Damage in Redis, the store quiet.
	damageRedis(t, e)
	scans := e.src.scanCount()
	st := pass("repair of damage", false)
	if st.Written != 3 || st.Checked > 6 {
		t.Errorf("repair of damage: %+v, want 3 written and only those checked", st)
	}
	if got := e.src.scanCount() - scans; got != 1 {
		t.Errorf("repair of damage scanned the store %d times, want once (for the deleted record)", got)
	}
	if msg := e.mismatch(t); msg != "" {
		t.Fatal(msg)
	}
	if st := pass("quiet after repair", false); st.Checked != 0 || st.Written+st.Removed != 0 {
		t.Errorf("quiet pass after the repair: %+v, want nothing checked", st)
	}

	// A change in the store moves its revision: the next pass scans and finds it.
	e.src.remove(testHash(11))
	if st := pass("after a change", true); st.Removed != 1 {
		t.Errorf("pass after a change: %+v, want key 11 removed", st)
	}
	pass("quiet again", false)

	// Key n expires a minute from the start: past it, the store may hold fewer live
	// keys at the same revision, so the pass scans until the expiry is announced (a
	// new revision), and is quiet after.
	offset = 2 * time.Minute
	pass("past an expiry", true)
	pass("past an expiry, not announced", true)
	e.src.remove(testHash(n))
	if st := pass("expiry announced", true); st.Removed != 1 {
		t.Errorf("pass after the expiry's announcement: %+v, want key %d removed", st, n)
	}
	pass("quiet after the expiry", false)

	// An edit without a revision: unseen while the store looks quiet, then found by
	// the scan that the age of the last one brings.
	edited := testRecord(12)
	edited.State = keystore.KeyDeactivated
	e.src.edit(testHash(12), edited)
	pass("quiet over an edit", false)
	if msg := e.mismatch(t); msg == "" {
		t.Fatal("the edit without a revision was seen by a pass that did not scan the store")
	}
	offset += maxQuietAge
	if st := pass("after maxQuietAge", true); st.Written != 1 {
		t.Errorf("pass after maxQuietAge: %+v, want key 12 rewritten", st)
	}
	if msg := e.mismatch(t); msg != "" {
		t.Fatal(msg)
	}
	pass("quiet after the age scan", false)

}

// TestQuietAt: when a pass may take the store for what its last scan saw.
func TestQuietAt(t *testing.T) {
	t0 := time.UnixMilli(1_800_000_000_000)
	q := quietStore{rev: 7, minExp: t0.Add(time.Minute).UnixMilli(), at: t0, valid: true}
	for _, tc := range []struct {
		name  string
		q     quietStore
		rev   int64
		at    time.Time
		quiet bool
	}{
		{"same revision, soon after", q, 7, t0.Add(time.Second), true},
		{"another revision", q, 8, t0.Add(time.Second), false},
		{"an older revision (store restored)", q, 6, t0.Add(time.Second), false},
		{"at the earliest expiry", q, 7, t0.Add(time.Minute), false},
		{"just before it", q, 7, t0.Add(time.Minute - time.Millisecond), true},
		{"no expiry, before maxQuietAge", quietStore{rev: 7, minExp: math.MaxInt64, at: t0, valid: true}, 7, t0.Add(maxQuietAge - time.Millisecond), true},
		{"no expiry, at maxQuietAge", quietStore{rev: 7, minExp: math.MaxInt64, at: t0, valid: true}, 7, t0.Add(maxQuietAge), false},
		{"no complete scan", quietStore{rev: 7, minExp: math.MaxInt64, at: t0}, 7, t0.Add(time.Second), false},
	} {
		if got := tc.q.quietAt(tc.rev, tc.at); got != tc.quiet {
			t.Errorf("%s: quietAt = %v, want %v", tc.name, got, tc.quiet)
		}
	}
}
