package storetest

import (
	"fmt"
	"testing"
	"time"

	"github.com/sagate/sagate/keystore"
)

func testCreateListKeys(t *testing.T, e *env) {
	e.ws("ws", 0)
	_, k1 := e.sa("ws", "bot")
	for _, tc := range []struct {
		doing string
		sa    string
		in    keystore.CreateKeyInput
		kind  keystore.Kind
	}{
		{"bad name", "bot", keystore.CreateKeyInput{Name: "-x"}, keystore.KindInvalid},
		{"name with space", "bot", keystore.CreateKeyInput{Name: "a b"}, keystore.KindInvalid},
		{"negative expiry", "bot", keystore.CreateKeyInput{ExpiresIn: -1}, keystore.KindInvalid},
		{"absurd expiry", "bot", keystore.CreateKeyInput{ExpiresIn: keystore.MaxDuration + time.Hour}, keystore.KindInvalid},
		{"unknown account", "ghost", keystore.CreateKeyInput{}, keystore.KindNotFound},
	} {
		_, err := e.svc.CreateKey(e.ctx, "ws", tc.sa, tc.in)
		wantKind(t, tc.doing, err, tc.kind)
	}
	e.expectNoChange("refused key creates")
	e.clock.Add(time.Millisecond) // keys list by created_at, then id

	k2, err := e.svc.CreateKey(e.ctx, "ws", "bot", keystore.CreateKeyInput{Name: "deploy.v2", ExpiresIn: time.Hour})
	if err != nil {
		t.Fatalf("CreateKey: %v", err)
	}
	e.secrets = append(e.secrets, k2.Key)
	e.expectChange("key.create", hash(k2))
	if k2.Name != "deploy.v2" || k2.ExpiresAt == nil || !k2.ExpiresAt.Equal(e.clock.Now().Add(time.Hour).Truncate(time.Millisecond)) {
		t.Errorf("created key = name %q expires %v", k2.Name, k2.ExpiresAt)
	}
	e.clock.Add(time.Millisecond)
	k3 := e.key("ws", "bot", keystore.CreateKeyInput{})
	list, next, err := e.svc.ListKeys(e.ctx, "ws", "bot", keystore.Page{})
	if err != nil || next != "" || len(list) != 3 {
		t.Fatalf("ListKeys = %d keys, %q, %v", len(list), next, err)
	}
	for i, want := range []keystore.IssuedKey{k1, k2, k3} {
		got := list[i]
		if got.ID != want.ID || got.Last6 != want.Last6 || got.Name != want.Name || got.State != keystore.KeyActive || got.Expired {
			t.Errorf("key %d = %+v, want %s", i, got, want.ID)
		}
	}
	if list[0].CreatedAt.After(list[1].CreatedAt) || list[1].CreatedAt.After(list[2].CreatedAt) {
		t.Errorf("keys not ordered by created_at")
	}
	e.noSecret("key list", list)
}

func testRotate(t *testing.T, e *env) {
	e.ws("ws", 0)
	_, k1 := e.sa("ws", "bot")
	start := e.clock.Now()

	// retain 0: the old key is revoked now, the successor takes its name.
	k2, err := e.svc.RotateKey(e.ctx, "ws", "bot", k1.ID, 0, 0)
	if err != nil {
		t.Fatalf("RotateKey: %v", err)
	}
	e.secrets = append(e.secrets, k2.Key)
	e.expectChange("key.rotate", hash(k1), hash(k2))
	keys := e.keys("ws", "bot")
	if keys[k1.ID].State != keystore.KeyRevoked || keys[k1.ID].RevokedAt == nil || k2.Name != k1.Name || k2.ExpiresAt != nil {
		t.Errorf("after rotate: old %+v, new name %q expires %v", keys[k1.ID], k2.Name, k2.ExpiresAt)
	}
	if recs, _ := e.records(k1, k2); len(recs) != 1 || recs[hash(k2)].KeyID != k2.ID {
		t.Errorf("records after rotate = %+v", recs)
	}

	// retain 1h: the old key stays active and expires in an hour; expires_in applies to the successor.
	k3, err := e.svc.RotateKey(e.ctx, "ws", "bot", k2.Last6, time.Hour, 48*time.Hour)
	if err != nil {
		t.Fatalf("RotateKey with retain: %v", err)
	}
	e.secrets = append(e.secrets, k3.Key)
	e.expectChange("key.rotate", hash(k2), hash(k3))
	keys = e.keys("ws", "bot")
	old := keys[k2.ID]
	wantExp := start.Add(time.Hour).Truncate(time.Millisecond)
	if old.State != keystore.KeyActive || old.ExpiresAt == nil || !old.ExpiresAt.Equal(wantExp) {
		t.Errorf("retained key = %s expires %v, want active until %v", old.State, old.ExpiresAt, wantExp)
	}
	if k3.ExpiresAt == nil || !k3.ExpiresAt.Equal(start.Add(48*time.Hour).Truncate(time.Millisecond)) {
		t.Errorf("successor expires %v", k3.ExpiresAt)
	}
	recs, _ := e.records(k2, k3)
	if len(recs) != 2 || recs[hash(k2)].Exp != wantExp.UnixMilli() {
		t.Errorf("records with retain = %+v", recs)
	}

	// A retain longer than the key's own expiry keeps the earlier expiry.
	k4, err := e.svc.RotateKey(e.ctx, "ws", "bot", k3.ID, 100*time.Hour, 0)
	if err != nil {
		t.Fatalf("RotateKey with long retain: %v", err)
	}
	e.secrets = append(e.secrets, k4.Key)
	e.sync.take()
	if got := e.keys("ws", "bot")[k3.ID].ExpiresAt; got == nil || !got.Equal(*k3.ExpiresAt) {
		t.Errorf("long retain moved expiry to %v, want %v", got, k3.ExpiresAt)
	}

	// Only an active, unexpired key rotates.
	_, err = e.svc.RotateKey(e.ctx, "ws", "bot", k1.ID, 0, 0)
	wantKind(t, "rotating a revoked key", err, keystore.KindState)
	if _, err := e.svc.DeactivateKey(e.ctx, "ws", "bot", k4.ID); err != nil {
		t.Fatalf("DeactivateKey: %v", err)
	}
	_, err = e.svc.RotateKey(e.ctx, "ws", "bot", k4.ID, 0, 0)
	wantKind(t, "rotating a deactivated key", err, keystore.KindState)
	e.clock.Add(2 * time.Hour) // k2 is past its retain window
	_, err = e.svc.RotateKey(e.ctx, "ws", "bot", k2.ID, 0, 0)
	wantKind(t, "rotating an expired key", err, keystore.KindState)
	_, err = e.svc.RotateKey(e.ctx, "ws", "bot", k3.ID, -time.Second, 0)
	wantKind(t, "negative retain", err, keystore.KindInvalid)
}

func testKeyTransitions(t *testing.T, e *env) {
	e.ws("ws", 0)
	_, k := e.sa("ws", "bot")
	steps := []struct {
		op   string
		kind keystore.Kind // "" for success
		want keystore.KeyState
	}{
		{"activate", keystore.KindState, keystore.KeyActive},
		{"deactivate", "", keystore.KeyDeactivated},
		{"deactivate", keystore.KindState, keystore.KeyDeactivated},
		{"activate", "", keystore.KeyActive},
		{"deactivate", "", keystore.KeyDeactivated},
		{"revoke", "", keystore.KeyRevoked},
		{"revoke", keystore.KindState, keystore.KeyRevoked},
		{"activate", keystore.KindState, keystore.KeyRevoked},
		{"deactivate", keystore.KindState, keystore.KeyRevoked},
	}
	for i, st := range steps {
		var err error
		switch st.op {
		case "activate":
			_, err = e.svc.ActivateKey(e.ctx, "ws", "bot", k.ID)
		case "deactivate":
			_, err = e.svc.DeactivateKey(e.ctx, "ws", "bot", k.Last6)
		case "revoke":
			err = e.svc.RevokeKey(e.ctx, "ws", "bot", k.ID)
		}
		doing := fmt.Sprintf("step %d: %s", i, st.op)
		if st.kind == "" {
			if err != nil {
				t.Fatalf("%s: %v", doing, err)
			}
			e.expectChange("key."+st.op, hash(k))
		} else {
			wantKind(t, doing, err, st.kind)
			e.expectNoChange(doing)
		}
		if got := e.keys("ws", "bot")[k.ID].State; got != st.want {
			t.Errorf("%s: state %s, want %s", doing, got, st.want)
		}
		recs, _ := e.records(k)
		r, live := recs[hash(k)]
		switch st.want {
		case keystore.KeyActive:
			if !live || r.State != keystore.KeyActive {
				t.Errorf("%s: record %+v, want active", doing, r)
			}
		case keystore.KeyDeactivated:
			if !live || r.State != keystore.KeyDeactivated {
				t.Errorf("%s: record %+v, want deactivated", doing, r)
			}
		case keystore.KeyRevoked:
			if live {
				t.Errorf("%s: a revoked key has a record", doing)
			}
		}
	}

	// Activating a paused key of a deactivated account is refused: reactivation voids it anyway.
	k2 := e.key("ws", "bot", keystore.CreateKeyInput{})
	if _, err := e.svc.DeactivateKey(e.ctx, "ws", "bot", k2.ID); err != nil {
		t.Fatalf("DeactivateKey: %v", err)
	}
	if _, err := e.svc.DeactivateServiceAccount(e.ctx, "ws", "bot"); err != nil {
		t.Fatalf("DeactivateServiceAccount: %v", err)
	}
	_, err := e.svc.ActivateKey(e.ctx, "ws", "bot", k2.ID)
	wantKind(t, "activating a key of a deactivated account", err, keystore.KindState)
}

func testExpiry(t *testing.T, e *env) {
	e.ws("ws", 0)
	e.sa("ws", "bot")
	k := e.key("ws", "bot", keystore.CreateKeyInput{Name: "short", ExpiresIn: time.Hour})
	if e.keys("ws", "bot")[k.ID].Expired {
		t.Errorf("a fresh key is expired")
	}
	e.clock.Add(time.Hour)
	got := e.keys("ws", "bot")[k.ID]
	if !got.Expired || got.State != keystore.KeyActive {
		t.Errorf("key an hour later: expired=%v state=%s; want expired, state unchanged", got.Expired, got.State)
	}
	_, err := e.svc.DeactivateKey(e.ctx, "ws", "bot", k.ID)
	wantKind(t, "deactivating an expired key", err, keystore.KindState)
	if err := e.svc.RevokeKey(e.ctx, "ws", "bot", k.ID); err != nil {
		t.Errorf("revoking an expired key: %v", err)
	}

	// The store drops keys whose expiry has passed on its own clock.
	e.clock.Set(time.Now().Add(-2 * time.Hour))
	past := e.key("ws", "bot", keystore.CreateKeyInput{Name: "past", ExpiresIn: time.Hour})
	e.clock.Set(time.Now())
	live := e.key("ws", "bot", keystore.CreateKeyInput{Name: "live", ExpiresIn: time.Hour})
	recs, _ := e.records(past, live)
	if _, ok := recs[hash(past)]; ok || len(recs) != 1 {
		t.Errorf("records = %+v; want only the unexpired key", recs)
	}
	if r := recs[hash(live)]; r.Exp != live.ExpiresAt.UnixMilli() || !r.Live(time.Now()) || r.Live(*live.ExpiresAt) {
		t.Errorf("record exp = %d, want %d", r.Exp, live.ExpiresAt.UnixMilli())
	}
}

func testLast6(t *testing.T, e *env) {
	e.ws("ws", 0)
	sa, k1 := e.sa("ws", "bot")
	k2 := e.key("ws", "bot", keystore.CreateKeyInput{})
	// Two keys sharing a last6 are rare (1 in 62^6 per pair): plant one through the store.
	twin, err := keystore.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	now := e.clock.Now().UTC().Truncate(time.Microsecond)
	planted := keystore.StoredKey{
		APIKey: keystore.APIKey{ID: "key_TWIN0000000000000000", ServiceAccountID: sa.ID, Name: "twin",
			Last6: k1.Last6, State: keystore.KeyActive, CreatedAt: now},
		Hash: keystore.HashKey(twin),
	}
	if _, err := e.store.Update(e.ctx, func(tx keystore.Tx) error { return tx.InsertKey(e.ctx, planted) }); err != nil {
		t.Fatalf("planting a key: %v", err)
	}
	err = e.svc.RevokeKey(e.ctx, "ws", "bot", k1.Last6)
	wantKind(t, "revoking by an ambiguous last6", err, keystore.KindAmbiguous)
	if err := e.svc.RevokeKey(e.ctx, "ws", "bot", k1.ID); err != nil {
		t.Errorf("revoking by id: %v", err)
	}
	if _, err := e.svc.DeactivateKey(e.ctx, "ws", "bot", k2.Last6); err != nil {
		t.Errorf("deactivating by a unique last6: %v", err)
	}
	for _, tc := range []struct {
		ref  string
		kind keystore.Kind
	}{
		{"zzzzzz", keystore.KindNotFound},
		{"key_nope", keystore.KindNotFound},
		{"key_AAAAAAAAAAAAAAAAAAAA", keystore.KindNotFound},
		{"abc", keystore.KindInvalid},
		{"ab cde", keystore.KindInvalid},
	} {
		err := e.svc.RevokeKey(e.ctx, "ws", "bot", tc.ref)
		wantKind(t, fmt.Sprintf("RevokeKey(%q)", tc.ref), err, tc.kind)
	}
	// A key id of another account is not found through this one.
	e.sa("ws", "other")
	err = e.svc.RevokeKey(e.ctx, "ws", "other", k2.ID)
	wantKind(t, "a key of another account", err, keystore.KindNotFound)
}

func testRevokeAll(t *testing.T, e *env) {
	e.ws("ws", 0)
	_, k1 := e.sa("ws", "bot")
	k2 := e.key("ws", "bot", keystore.CreateKeyInput{})
	k3 := e.key("ws", "bot", keystore.CreateKeyInput{})
	if err := e.svc.RevokeKey(e.ctx, "ws", "bot", k3.ID); err != nil {
		t.Fatal(err)
	}
	e.sync.take()
	sa, n, err := e.svc.RevokeAllKeys(e.ctx, "ws", "bot")
	if err != nil || n != 2 || sa.Name != "bot" || sa.State != keystore.AccountActive {
		t.Fatalf("RevokeAllKeys = %+v, %d, %v", sa, n, err)
	}
	e.expectChange("key.revoke_all", hash(k1), hash(k2))
	for id, k := range e.keys("ws", "bot") {
		if k.State != keystore.KeyRevoked {
			t.Errorf("key %s is %s after revoke-all", id, k.State)
		}
	}
	if _, n, err := e.svc.RevokeAllKeys(e.ctx, "ws", "bot"); err != nil || n != 0 {
		t.Errorf("second RevokeAllKeys = %d, %v", n, err)
	}
	e.expectNoChange("revoke-all with nothing to revoke")
	// The account can get new keys.
	e.key("ws", "bot", keystore.CreateKeyInput{})
}
