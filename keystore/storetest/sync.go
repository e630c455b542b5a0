package storetest

import (
	"encoding/json"
	"maps"
	"testing"
	"time"

	"github.com/sagate/sagate/keystore"
	"github.com/sagate/sagate/keystore/wire"
)

func testKeyUse(t *testing.T, e *env) {
	e.ws("ws", 0)
	_, k := e.sa("ws", "bot")
	t1 := time.Now().UTC().Truncate(time.Millisecond)
	t0 := t1.Add(-time.Hour)
	for _, uses := range []map[string]time.Time{
		{k.ID: t1, "key_unknown": t1},
		{k.ID: t0}, // earlier: ignored
		{},
	} {
		if err := e.store.RecordKeyUse(e.ctx, uses); err != nil {
			t.Fatalf("RecordKeyUse: %v", err)
		}
	}
	if got := e.keys("ws", "bot")[k.ID].LastUsedAt; got == nil || !got.Equal(t1) {
		t.Errorf("last_used_at = %v, want %v", got, t1)
	}
	// A time from the future (written into Redis by someone else) is clamped to the
	// store's clock, so it cannot stay the latest use for good.
	before := time.Now()
	if err := e.store.RecordKeyUse(e.ctx, map[string]time.Time{k.ID: time.UnixMilli(4102444800000)}); err != nil {
		t.Fatalf("RecordKeyUse: %v", err)
	}
	after := time.Now()
	if got := e.keys("ws", "bot")[k.ID].LastUsedAt; got == nil || got.Before(before.Add(-time.Millisecond)) || got.After(after) {
		t.Errorf("last_used_at after a time in 2100 = %v, want the fold's time (%v…%v)", got, before, after)
	}
	e.expectNoChange("recording key use")
}

// testKeyUseNotLive: reported uses of deactivated keys and of keys of deactivated
// accounts are ignored; a revoked key's use is recorded, no later than its revocation.
func testKeyUseNotLive(t *testing.T, e *env) {
	e.ws("ws", 0)
	_, revoked := e.sa("ws", "bot")
	deactivated := e.key("ws", "bot", keystore.CreateKeyInput{})
	expiring := e.key("ws", "bot", keystore.CreateKeyInput{ExpiresIn: time.Minute})
	_, paused := e.sa("ws", "paused")
	if err := e.svc.RevokeKey(e.ctx, "ws", "bot", revoked.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.DeactivateKey(e.ctx, "ws", "bot", deactivated.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.DeactivateServiceAccount(e.ctx, "ws", "paused"); err != nil {
		t.Fatal(err)
	}
	e.sync.take()
	// A key that will expire is live until then (expiry itself runs on the store's own
	// clock, which the suite does not move).
	if err := e.store.RecordKeyUse(e.ctx, map[string]time.Time{expiring.ID: time.Now()}); err != nil {
		t.Fatal(err)
	}
	if got := e.keys("ws", "bot")[expiring.ID].LastUsedAt; got == nil {
		t.Fatal("a live key's use was not recorded")
	}
	at := time.Now().UTC().Truncate(time.Millisecond)
	uses := map[string]time.Time{revoked.ID: at, deactivated.ID: at, paused.ID: at}
	if err := e.store.RecordKeyUse(e.ctx, uses); err != nil {
		t.Fatalf("RecordKeyUse: %v", err)
	}
	bot := e.keys("ws", "bot")
	// A revoked key's use, reported after the revocation (the fold comes later), counts:
	// as of at most the revocation.
	if k := bot[revoked.ID]; k.LastUsedAt == nil || k.RevokedAt == nil || k.LastUsedAt.After(*k.RevokedAt) {
		t.Errorf("the revoked key: last_used_at %v, revoked_at %v; want a use no later than the revocation", k.LastUsedAt, k.RevokedAt)
	}
	for name, k := range map[string]keystore.APIKey{"deactivated": bot[deactivated.ID],
		"of a deactivated account": e.keys("ws", "paused")[paused.ID]} {
		if k.LastUsedAt != nil {
			t.Errorf("the key %s got last_used_at %v", name, k.LastUsedAt)
		}
	}
	e.expectNoChange("recording key use")
}

// testRevision: Revision is the revision of the last commit.
func testRevision(t *testing.T, e *env) {
	rev0, err := e.store.Revision(e.ctx)
	if err != nil {
		t.Fatalf("Revision: %v", err)
	}
	e.ws("ws", 0)
	_, k := e.sa("ws", "bot")
	if err := e.svc.RevokeKey(e.ctx, "ws", "bot", k.ID); err != nil {
		t.Fatal(err)
	}
	last := e.expectChange("key.revoke", hash(k)).Rev
	rev, err := e.store.Revision(e.ctx)
	if err != nil || rev != last || rev <= rev0 {
		t.Errorf("Revision = %d, %v; want the last change's %d (above %d)", rev, err, last, rev0)
	}
	if _, r2, err := e.store.AuthRecords(e.ctx, nil); err != nil || r2 != rev {
		t.Errorf("AuthRecords' revision %d, Revision %d (%v)", r2, rev, err)
	}
}

// testKeyIdentities: the identity of every key the store holds, live or not.
func testKeyIdentities(t *testing.T, e *env) {
	e.ws("ws", 0)
	sa, k1 := e.sa("ws", "bot")
	k2 := e.key("ws", "bot", keystore.CreateKeyInput{})
	if err := e.svc.RevokeKey(e.ctx, "ws", "bot", k2.ID); err != nil {
		t.Fatal(err)
	}
	_, gone := e.sa("ws", "gone")
	if err := e.svc.DeleteServiceAccount(e.ctx, "ws", "gone"); err != nil {
		t.Fatal(err)
	}
	unknown := keystore.HashKey("sak_unknown")
	ids, err := e.store.KeyIdentities(e.ctx, []keystore.KeyHash{hash(k1), hash(k2), hash(gone), unknown})
	if err != nil {
		t.Fatalf("KeyIdentities: %v", err)
	}
	if len(ids) != 2 {
		t.Errorf("KeyIdentities returned %d identities, want 2 (a live and a revoked key)", len(ids))
	}
	for _, k := range []keystore.IssuedKey{k1, k2} {
		want := wire.Record{KeyID: k.ID, SAID: sa.ID, SA: "bot@ws", Workspace: "ws"}
		if got := ids[hash(k)]; got.KeyID != want.KeyID || got.SAID != want.SAID || got.SA != want.SA || got.Workspace != want.Workspace {
			t.Errorf("identity %+v, want %+v", got, want)
		}
	}
	if ids, err := e.store.KeyIdentities(e.ctx, nil); err != nil || len(ids) != 0 {
		t.Errorf("KeyIdentities(nil) = %v, %v", ids, err)
	}
}

// testKeyUseBeforeRevocation: a use made just before the key is revoked is recorded as it
// was, however soon the revocation follows and however late the fold comes.
func testKeyUseBeforeRevocation(t *testing.T, e *env) {
	e.ws("ws", 0)
	_, k := e.sa("ws", "bot")
	used := e.clock.Now().UTC().Truncate(time.Millisecond)
	e.clock.Add(time.Second)
	if err := e.svc.RevokeKey(e.ctx, "ws", "bot", k.ID); err != nil {
		t.Fatal(err)
	}
	e.sync.take()
	if err := e.store.RecordKeyUse(e.ctx, map[string]time.Time{k.ID: used}); err != nil {
		t.Fatalf("RecordKeyUse: %v", err)
	}
	if got := e.keys("ws", "bot")[k.ID].LastUsedAt; got == nil || !got.Equal(used) {
		t.Errorf("last_used_at of a key used then revoked = %v, want %v", got, used)
	}
	e.expectNoChange("recording key use")
}

// testRecordsMoveTheRevision: every commit that changes what ScanAuthRecords yields
// (a record's content, a key live or not) takes a new revision, whichever kind of
// change it is; commits that change no record may take one or not. A repair pass skips
// its scan of the store while the revision stands still (redissync, "quiet store"),
// so a change that left the revision where it was would stay unseen in Redis.
// Expiry is the one change time makes on its own: it shows once announced.
func testRecordsMoveTheRevision(t *testing.T, e *env) {
	ea, ok := e.store.(keystore.ExpiryAnnouncer)
	if !ok {
		t.Fatalf("%T does not implement keystore.ExpiryAnnouncer", e.store)
	}
	snapshot := func() (map[keystore.KeyHash]string, int64) {
		t.Helper()
		rev := e.revision()
		recs := make(map[keystore.KeyHash]string)
		err := e.store.ScanAuthRecords(e.ctx, func(h keystore.KeyHash, r wire.Record) error {
			r.Rev = 0
			b, err := json.Marshal(r)
			recs[h] = string(b)
			return err
		})
		if err != nil {
			t.Fatalf("ScanAuthRecords: %v", err)
		}
		if again := e.revision(); again != rev {
			t.Fatalf("the revision moved during the scan (%d, then %d)", rev, again)
		}
		return recs, rev
	}
	var a, gone keystore.IssuedKey
	var expiry *time.Time
	steps := []struct {
		name string
		do   func() error
	}{
		{"workspace", func() error { _, err := e.svc.CreateWorkspace(e.ctx, "ws", 0); return err }},
		{"account with a key", func() error {
			_, k, err := e.svc.CreateServiceAccount(e.ctx, "ws", keystore.CreateServiceAccountInput{Name: "bot", CreateKey: true})
			if k != nil {
				a = *k
			}
			return err
		}},
		{"second account", func() error {
			_, k, err := e.svc.CreateServiceAccount(e.ctx, "ws", keystore.CreateServiceAccountInput{Name: "other", CreateKey: true})
			if k != nil {
				gone = *k
			}
			return err
		}},
		{"grant", func() error { _, err := e.svc.SetGrant(e.ctx, "ws", "p1", "bot", keystore.RoleContributor); return err }},
		{"description", func() error {
			d := "reports"
			_, err := e.svc.UpdateServiceAccount(e.ctx, "ws", "bot", &d)
			return err
		}},
		{"group", func() error { _, err := e.svc.CreateGroup(e.ctx, "ws", "team", ""); return err }},
		{"group grant", func() error { _, err := e.svc.SetGroupGrant(e.ctx, "ws", "p2", "team", keystore.RoleOwner); return err }},
		{"group member", func() error { _, _, err := e.svc.AddGroupMember(e.ctx, "ws", "team", "sa:bot"); return err }},
		{"member removed", func() error { return e.svc.RemoveGroupMember(e.ctx, "ws", "team", "sa:bot") }},
		{"member again", func() error { _, _, err := e.svc.AddGroupMember(e.ctx, "ws", "team", "sa:bot"); return err }},
		{"group grant removed", func() error { return e.svc.RemoveGroupGrant(e.ctx, "ws", "p2", "team") }},
		{"group grant again", func() error {
			_, err := e.svc.SetGroupGrant(e.ctx, "ws", "p2", "team", keystore.RoleViewer)
			return err
		}},
		{"group deleted", func() error { return e.svc.DeleteGroup(e.ctx, "ws", "team") }},
		{"grant removed", func() error { return e.svc.RemoveGrant(e.ctx, "ws", "p1", "bot") }},
		{"rate limit", func() error {
			_, err := e.svc.SetServiceAccountRateLimit(e.ctx, "ws", "bot", &keystore.RateLimit{RPS: 5, Burst: 10})
			return err
		}},
		{"key deactivated", func() error { _, err := e.svc.DeactivateKey(e.ctx, "ws", "bot", a.ID); return err }},
		{"key activated", func() error { _, err := e.svc.ActivateKey(e.ctx, "ws", "bot", a.ID); return err }},
		{"rotation with grace", func() error {
			_, err := e.svc.RotateKeyWith(e.ctx, "ws", "bot", a.ID, keystore.RotateKeyInput{Retain: time.Hour})
			return err
		}},
		{"account deactivated", func() error { _, err := e.svc.DeactivateServiceAccount(e.ctx, "ws", "bot"); return err }},
		{"account reactivated", func() error { _, _, err := e.svc.ReactivateServiceAccount(e.ctx, "ws", "bot"); return err }},
		{"key that expires", func() error {
			// Issued an hour ago, by the service's clock, for an hour: it expires
			// by the store's clock (the real one) a moment from now.
			e.clock.Set(time.Now().Add(-time.Hour + 300*time.Millisecond))
			defer e.clock.Set(time.Now())
			k, err := e.svc.CreateKey(e.ctx, "ws", "bot", keystore.CreateKeyInput{Name: "short", ExpiresIn: time.Hour})
			expiry = k.ExpiresAt
			return err
		}},
		{"expiry announced", func() error {
			time.Sleep(time.Until(*expiry) + 10*time.Millisecond)
			_, _, err := ea.AnnounceExpiries(e.ctx, 100)
			return err
		}},
		{"key revoked", func() error { return e.svc.RevokeKey(e.ctx, "ws", "other", gone.ID) }},
		{"all keys revoked", func() error { _, _, err := e.svc.RevokeAllKeys(e.ctx, "ws", "bot"); return err }},
		{"key after revocation", func() error { _, err := e.svc.CreateKey(e.ctx, "ws", "other", keystore.CreateKeyInput{}); return err }},
		{"account deleted", func() error { return e.svc.DeleteServiceAccount(e.ctx, "ws", "other") }},
	}
	// Steps that change no record; every other one must, or it tests nothing.
	still := map[string]bool{"workspace": true, "description": true, "group": true, "group grant": true}
	prev, rev := snapshot()
	for _, s := range steps {
		if err := s.do(); err != nil {
			t.Fatalf("%s: %v", s.name, err)
		}
		e.sync.take()
		recs, r := snapshot()
		switch same := maps.Equal(recs, prev); {
		case !same && r <= rev:
			t.Errorf("%s changed the records and left the revision at %d", s.name, rev)
		case same && !still[s.name]:
			t.Errorf("%s changed no record; the step does not test what it names", s.name)
		}
		prev, rev = recs, r
	}
}
