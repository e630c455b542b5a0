package storetest

import (
	"sync"
	"testing"
	"time"

	"github.com/sagate/sagate/keystore"
)

// testAnnounceExpiries: AnnounceExpiries returns the keys whose expiry has passed (by
// the store's clock), earliest first and up to the limit, never a revoked key, a key
// without expiry or one already announced; each announcement takes a revision and
// leaves its outbox row; with nothing due it writes nothing (the revision stays) and
// says when the next expiry falls, as NextExpiry does, past or not. Callers at once
// announce each key once.
func testAnnounceExpiries(t *testing.T, e *env) {
	ea, ok := e.store.(keystore.ExpiryAnnouncer)
	if !ok {
		t.Fatalf("%T does not implement keystore.ExpiryAnnouncer", e.store)
	}
	e.ws("ws", 0)
	e.sa("ws", "bot")
	base := time.Now()
	e.clock.Set(base.Add(-2 * time.Hour))
	first := e.key("ws", "bot", keystore.CreateKeyInput{Name: "first", ExpiresIn: time.Hour})          // expired an hour ago
	second := e.key("ws", "bot", keystore.CreateKeyInput{Name: "second", ExpiresIn: 90 * time.Minute}) // half an hour ago
	revoked := e.key("ws", "bot", keystore.CreateKeyInput{Name: "revoked", ExpiresIn: time.Hour})
	if err := e.svc.RevokeKey(e.ctx, "ws", "bot", revoked.ID); err != nil {
		t.Fatal(err)
	}
	e.clock.Set(base)
	later := e.key("ws", "bot", keystore.CreateKeyInput{Name: "later", ExpiresIn: time.Hour})
	e.key("ws", "bot", keystore.CreateKeyInput{Name: "forever"})
	e.sync.take()
	before := e.pending()

	announce := func(limit int) (keystore.Change, time.Time) {
		t.Helper()
		c, next, err := ea.AnnounceExpiries(e.ctx, limit)
		if err != nil {
			t.Fatalf("AnnounceExpiries: %v", err)
		}
		return c, next
	}
	nextExpiry := func() time.Time {
		t.Helper()
		er, ok := e.store.(keystore.ExpiryReporter)
		if !ok {
			t.Fatalf("%T does not implement keystore.ExpiryReporter", e.store)
		}
		at, err := er.NextExpiry(e.ctx)
		if err != nil {
			t.Fatalf("NextExpiry: %v", err)
		}
		return at
	}
	if at := nextExpiry(); !at.Equal(*first.ExpiresAt) {
		t.Errorf("NextExpiry before any announcement = %v, want the first key's %v (past, not announced)", at, *first.ExpiresAt)
	}
	rev0 := e.revision()
	c1, next := announce(1)
	if !sameHashes(c1.Hashes, []keystore.KeyHash{hash(first)}) || c1.Rev != rev0+1 || c1.Action != keystore.ActionKeyExpire {
		t.Errorf("first announcement = rev %d %q %v; want rev %d, the first key", c1.Rev, c1.Action, short(c1.Hashes), rev0+1)
	}
	if !next.Equal(*second.ExpiresAt) {
		t.Errorf("next after the first = %v, want the second key's expiry %v", next, *second.ExpiresAt)
	}
	c2, next := announce(10)
	if !sameHashes(c2.Hashes, []keystore.KeyHash{hash(second)}) || c2.Rev != c1.Rev+1 {
		t.Errorf("second announcement = rev %d %v; want rev %d, the second key", c2.Rev, short(c2.Hashes), c1.Rev+1)
	}
	if !next.Equal(*later.ExpiresAt) {
		t.Errorf("next = %v, want the later key's expiry %v", next, *later.ExpiresAt)
	}
	c3, next := announce(10)
	if len(c3.Hashes) != 0 || c3.Rev != 0 || !next.Equal(*later.ExpiresAt) {
		t.Errorf("nothing due: got rev %d %v next %v; want no change, next %v", c3.Rev, short(c3.Hashes), next, *later.ExpiresAt)
	}
	if at := nextExpiry(); !at.Equal(*later.ExpiresAt) {
		t.Errorf("NextExpiry once the past ones are announced = %v, want the later key's %v", at, *later.ExpiresAt)
	}
	if rev := e.revision(); rev != c2.Rev {
		t.Errorf("revision after an empty announcement = %d, want %d", rev, c2.Rev)
	}
	ps := e.pending()[len(before):]
	if len(ps) != 2 || ps[0].Rev != c1.Rev || ps[1].Rev != c2.Rev || !sameHashes(ps[1].Hashes, c2.Hashes) {
		t.Errorf("outbox after two announcements = %+v; want the rows of revs %d and %d", ps, c1.Rev, c2.Rev)
	}
	if recs, _ := e.records(first, second, later); len(recs) != 1 {
		t.Errorf("live records = %d, want only the later key's", len(recs))
	}

	// Four callers at once (two admins on one store): each expired key is announced once.
	e.clock.Set(base.Add(-2 * time.Hour))
	var want []keystore.KeyHash
	for range 5 {
		want = append(want, hash(e.key("ws", "bot", keystore.CreateKeyInput{ExpiresIn: time.Hour})))
	}
	e.clock.Set(base)
	var mu sync.Mutex
	var got []keystore.KeyHash
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			for {
				c, _, err := ea.AnnounceExpiries(e.ctx, 2)
				if err != nil {
					t.Errorf("AnnounceExpiries: %v", err)
					return
				}
				if len(c.Hashes) == 0 {
					return
				}
				mu.Lock()
				got = append(got, c.Hashes...)
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if !sameHashes(got, want) {
		t.Errorf("announced at once: %v; want each of %v once", short(got), short(want))
	}
}

// revision reads the store's revision.
func (e *env) revision() int64 {
	e.t.Helper()
	rev, err := e.store.Revision(e.ctx)
	if err != nil {
		e.t.Fatalf("Revision: %v", err)
	}
	return rev
}
