package redissync

import (
	"context"
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

// TestQuietStoreSkipsItsScan: while the store has moved only by changes this Syncer
// applied, a repair pass does not scan the store, checks exactly only the keys of those
// changes, and still puts right a record replaced, forged or deleted in Redis; a commit
// it was not told of, an expiry not yet announced and the age of the last scan each
// bring the scan back. An edit of the store that takes no revision is seen by the first
// scan after maxQuietAge, not before.
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
	apply := func(rev int64, hs ...keystore.KeyHash) {
		t.Helper()
		if err := e.s.Apply(ctx, keystore.Change{Rev: rev, Action: "test", Hashes: hs}); err != nil {
			t.Fatal(err)
		}
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

	// Changes this Syncer applied: only their keys are checked, whether Redis got
	// them (key 11 revoked, key 12's role) or lost them since (key 13 revoked, its
	// live record put back).
	promoted := testRecord(12)
	promoted.Roles = map[string]keystore.Role{"p": keystore.RoleOwner}
	apply(e.src.remove(testHash(11)), testHash(11))
	apply(e.src.put(testHash(12), promoted), testHash(12))
	live, err := e.rdb.Get(ctx, wire.RedisKey(testHash(13))).Result()
	if err != nil {
		t.Fatal(err)
	}
	apply(e.src.remove(testHash(13)), testHash(13))
	e.rdb.Set(ctx, wire.RedisKey(testHash(13)), live, 0)
	if st := pass("after applied changes", false); st.Checked < 3 || st.Checked > 4 || st.Removed != 1 || st.Written != 0 {
		t.Errorf("pass after applied changes: %+v, want keys 11, 12 and 13 checked (13 once more from Redis' side) and 13 removed", st)
	}
	if msg := e.mismatch(t); msg != "" {
		t.Fatal(msg)
	}
	pass("quiet after applied changes", false)

	// A commit this Syncer was not told of (another admin's): the next pass scans.
	e.src.remove(testHash(14))
	if st := pass("after a commit not applied here", true); st.Removed != 1 {
		t.Errorf("pass after a commit not applied here: %+v, want key 14 removed", st)
	}
	pass("quiet again", false)

	// Key n expires a minute from the start: past it, the store may hold fewer live
	// keys at the same revision, so the pass scans until the expiry is announced, a
	// change like any other.
	offset = 2 * time.Minute
	pass("past an expiry", true)
	pass("past an expiry, not announced", true)
	apply(e.src.remove(testHash(n)), testHash(n))
	if st := pass("expiry announced", false); st.Written+st.Removed != 0 || st.Checked != 1 {
		t.Errorf("pass after the expiry's announcement: %+v, want key %d checked (its Apply removed it)", st, n)
	}
	pass("quiet after the expiry", false)

	// An edit without a revision: unseen while the store looks quiet, then found by
	// the scan that the age of the last one brings.
	edited := testRecord(15)
	edited.State = keystore.KeyDeactivated
	e.src.edit(testHash(15), edited)
	pass("quiet over an edit", false)
	if msg := e.mismatch(t); msg == "" {
		t.Fatal("the edit without a revision was seen by a pass that did not scan the store")
	}
	offset += maxQuietAge
	if st := pass("after maxQuietAge", true); st.Written != 1 {
		t.Errorf("pass after maxQuietAge: %+v, want key 15 rewritten", st)
	}
	if msg := e.mismatch(t); msg != "" {
		t.Fatal(msg)
	}
	pass("quiet after the age scan", false)
}

// TestSkipScan: when a pass may skip the store's scan, and which keys it then checks.
func TestSkipScan(t *testing.T) {
	t0 := time.UnixMilli(1_800_000_000_000)
	h := func(i int) []keystore.KeyHash { return []keystore.KeyHash{testHash(i)} }
	for _, tc := range []struct {
		name    string
		valid   bool
		log     map[int64][]keystore.KeyHash
		over    bool
		rev     int64
		at      time.Duration // after the scan
		expired bool
		skip    bool
		changed int
	}{
		{"same revision", true, nil, false, 7, time.Second, false, true, 0},
		{"every revision since applied here", true, map[int64][]keystore.KeyHash{8: h(1), 9: nil, 10: h(2)}, false, 10, time.Second, false, true, 2},
		{"a revision missing", true, map[int64][]keystore.KeyHash{8: h(1), 10: h(2)}, false, 10, time.Second, false, false, 0},
		{"later revisions stay for the next pass", true, map[int64][]keystore.KeyHash{8: h(1), 9: h(2)}, false, 8, time.Second, false, true, 1},
		{"too many keys logged", true, nil, true, 7, time.Second, false, false, 0},
		{"an older revision (store restored)", true, nil, false, 6, time.Second, false, false, 0},
		{"an expiry not announced", true, nil, false, 7, time.Second, true, false, 0},
		{"at maxQuietAge", true, nil, false, 7, maxQuietAge, false, false, 0},
		{"just before it", true, nil, false, 7, maxQuietAge - time.Millisecond, false, true, 0},
		{"no complete scan", false, nil, false, 7, time.Second, false, false, 0},
	} {
		d := newDigestSet()
		d.quiet = quietStore{rev: 7, at: t0, valid: tc.valid, changes: tc.log, overflow: tc.over}
		d.m.put(slot(testHash(1)), digestEntry{content: flagLive})
		skip, changed := d.skipScan(tc.rev, t0.Add(tc.at), tc.expired)
		if skip != tc.skip || len(changed) != tc.changed {
			t.Errorf("%s: skip %v with %d changed keys, want %v with %d", tc.name, skip, len(changed), tc.skip, tc.changed)
			continue
		}
		if skip && d.quiet.rev != tc.rev {
			t.Errorf("%s: quiet revision %d after the skip, want %d", tc.name, d.quiet.rev, tc.rev)
		}
		if e := d.m.get(slot(testHash(1))); skip && tc.changed > 0 && e.content&flagLive != 0 {
			t.Errorf("%s: a changed key kept flagLive", tc.name)
		}
	}
}

// TestChangeLogIsBounded: past maxLoggedKeys keys, the log gives up and the next pass
// scans; the scan starts a new log.
func TestChangeLogIsBounded(t *testing.T) {
	d := newDigestSet()
	d.quiet = quietStore{rev: 1, at: time.Now(), valid: true}
	many := make([]keystore.KeyHash, maxLoggedKeys)
	d.sawChange(2, many)
	if d.quiet.overflow || len(d.quiet.changes) != 1 {
		t.Fatalf("after %d keys: overflow %v, %d changes logged, want one", maxLoggedKeys, d.quiet.overflow, len(d.quiet.changes))
	}
	d.sawChange(3, []keystore.KeyHash{testHash(1)})
	if !d.quiet.overflow || d.quiet.changes != nil {
		t.Errorf("past %d keys: overflow %v, %d changes logged, want the log given up", maxLoggedKeys, d.quiet.overflow, len(d.quiet.changes))
	}
	if skip, _ := d.skipScan(3, time.Now(), false); skip {
		t.Error("a pass skipped the scan over a log that gave up")
	}
	d.startScan(3, time.Now())
	d.sawChange(4, []keystore.KeyHash{testHash(2)})
	if d.quiet.overflow || len(d.quiet.changes) != 1 || d.quiet.logged != 1 {
		t.Errorf("after the scan: overflow %v, %d changes, %d keys logged; want a new log of one", d.quiet.overflow, len(d.quiet.changes), d.quiet.logged)
	}
}

// TestPutLive: when an entry written or confirmed is taken for the store's live record
// (flagLive), so that a quiet pass finds it missing if Redis loses it.
func TestPutLive(t *testing.T) {
	const content = uint64(0xabc) << 10
	for _, tc := range []struct {
		name string
		old  *digestEntry
		e    digestEntry
		rev  int64
		live bool
	}{
		{"read at the quiet revision", nil, digestEntry{content: content}, 5, true},
		{"read above it (a later commit of another key)", nil, digestEntry{content: content}, 7, true},
		{"read below it, nothing before", nil, digestEntry{content: content}, 4, false},
		{"read below it over the same live content", &digestEntry{content: content | flagLive}, digestEntry{content: content}, 4, true},
		{"read below it over other live content", &digestEntry{content: (content + 1<<10) | flagLive}, digestEntry{content: content}, 4, false},
		{"read below it over the same content, not live", &digestEntry{content: content}, digestEntry{content: content}, 4, false},
		{"a tombstone", nil, digestEntry{content: content | flagTomb}, 0, false},
		{"a tombstone over live content", &digestEntry{content: content | flagLive}, digestEntry{content: content | flagTomb}, 0, false},
	} {
		d := newDigestSet()
		d.quiet.rev = 5
		if tc.old != nil {
			d.m.put(42, *tc.old)
		}
		d.putLive(42, tc.e, tc.rev)
		if got := d.m.get(42).content&flagLive != 0; got != tc.live {
			t.Errorf("%s: flagLive %v, want %v", tc.name, got, tc.live)
		}
	}
}
