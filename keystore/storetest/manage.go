package storetest

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/sagate/sagate/keystore"
)

// testNotOnItself: an account cannot deactivate or delete itself, not even as workspace
// admin; the refusal says so and changes nothing. A key of a deactivated account is told
// that its account is deactivated; other dead keys learn nothing.
func testNotOnItself(t *testing.T, e *env) {
	e.ws("ws", 0)
	_, k := e.sa("ws", "ci")
	e.sa("ws", "other")
	if _, _, err := e.svc.SetWorkspaceAdmin(e.ctx, "ws", "sa:ci"); err != nil {
		t.Fatal(err)
	}
	e.sync.take()
	ci := e.caller(k)
	before := e.auditLen()
	for _, ref := range []string{"ci", "ci@ws"} {
		_, err := e.svc.DeactivateServiceAccount(ci, "ws", ref)
		wantKind(t, "ci deactivates itself as "+ref, err, keystore.KindPermissionDenied)
		if err == nil || !strings.Contains(err.Error(), "cannot deactivate itself") {
			t.Errorf("deactivating itself: %v", err)
		}
		err = e.svc.DeleteServiceAccount(ci, "ws", ref)
		wantKind(t, "ci deletes itself as "+ref, err, keystore.KindPermissionDenied)
		if err == nil || !strings.Contains(err.Error(), "cannot delete itself") {
			t.Errorf("deleting itself: %v", err)
		}
	}
	if n := e.auditLen(); n != before {
		t.Errorf("refused, yet the audit trail grew from %d to %d", before, n)
	}
	e.expectNoChange("refused self-deactivation")
	// As admin it may still deactivate another account.
	if _, err := e.svc.DeactivateServiceAccount(ci, "ws", "other"); err != nil {
		t.Fatalf("ci deactivates other: %v", err)
	}
	e.sync.take()
	if _, err := e.svc.DeactivateServiceAccount(e.ctx, "ws", "ci"); err != nil {
		t.Fatal(err)
	}
	_, err := e.svc.WhoAmI(ci)
	wantKind(t, "a deactivated account's key", err, keystore.KindUnauthenticated)
	if err == nil || !strings.Contains(err.Error(), "ci@ws") || !strings.Contains(err.Error(), "deactivated") {
		t.Errorf("a deactivated account's key is told %v, want its account named as deactivated", err)
	}
	_, err = e.svc.Authenticate(context.Background(), k.Key)
	if err == nil || !strings.Contains(err.Error(), "is deactivated") {
		t.Errorf("Authenticate(key of a deactivated account) = %v", err)
	}
	e.noSecret("the refusal", err.Error())
}

// testKeyUsable: every key answer says whether the key passes now and why not, by the
// same rule as the sidecar's records (KeyBlock, RecordState).
func testKeyUsable(t *testing.T, e *env) {
	e.ws("ws", 0)
	e.sa("ws", "bot")
	live := e.key("ws", "bot", keystore.CreateKeyInput{Name: "live"})
	paused := e.key("ws", "bot", keystore.CreateKeyInput{Name: "paused"})
	soon := e.key("ws", "bot", keystore.CreateKeyInput{Name: "soon", ExpiresIn: time.Hour})
	gone := e.key("ws", "bot", keystore.CreateKeyInput{Name: "gone"})
	if _, err := e.svc.DeactivateKey(e.ctx, "ws", "bot", paused.ID); err != nil {
		t.Fatal(err)
	}
	if err := e.svc.RevokeKey(e.ctx, "ws", "bot", gone.ID); err != nil {
		t.Fatal(err)
	}
	e.sync.take()
	// records: whether to compare with the records too; they are read at the store's
	// clock, which the test's clock does not move.
	check := func(when string, records bool, want map[string]keystore.KeyReason) {
		t.Helper()
		ks := e.keys("ws", "bot")
		for id, reason := range want {
			k := ks[id]
			if k.Reason != reason || k.Usable != (reason == "") {
				t.Errorf("%s: key %s: usable %v, reason %q; want reason %q", when, k.Name, k.Usable, k.Reason, reason)
			}
		}
		if !records {
			return
		}
		// A record exists for the keys that are neither revoked nor expired; its state
		// agrees with usable.
		recs, _ := e.records(live, paused, soon, gone)
		for _, ik := range []keystore.IssuedKey{live, paused, soon, gone} {
			r, ok := recs[keystore.HashKey(ik.Key)]
			reason := want[ik.ID]
			final := reason == keystore.ReasonRevoked || reason == keystore.ReasonExpired
			if ok == final {
				t.Errorf("%s: key %s: record present %v with reason %q", when, ik.Name, ok, reason)
			}
			if ok && (r.State == keystore.KeyActive) != (reason == "") {
				t.Errorf("%s: key %s: record state %s, reason %q", when, ik.Name, r.State, reason)
			}
		}
	}
	check("at first", true, map[string]keystore.KeyReason{
		live.ID: "", paused.ID: keystore.ReasonKeyDeactivated, soon.ID: "", gone.ID: keystore.ReasonRevoked,
	})
	if _, err := e.svc.DeactivateServiceAccount(e.ctx, "ws", "bot"); err != nil {
		t.Fatal(err)
	}
	e.sync.take()
	check("account deactivated", true, map[string]keystore.KeyReason{
		live.ID: keystore.ReasonAccountDeactivated, paused.ID: keystore.ReasonAccountDeactivated,
		soon.ID: keystore.ReasonAccountDeactivated, gone.ID: keystore.ReasonRevoked,
	})
	e.clock.Add(2 * time.Hour)
	check("after two hours", false, map[string]keystore.KeyReason{
		live.ID: keystore.ReasonAccountDeactivated, paused.ID: keystore.ReasonAccountDeactivated,
		soon.ID: keystore.ReasonExpired, gone.ID: keystore.ReasonRevoked,
	})
}

// testRotateRetry: rotating a key that already has a live successor is refused
// (KindAlreadyRotated, naming the successor's last six) and changes nothing; force
// rotates it again; once the successor is revoked, the key rotates again unforced.
func testRotateRetry(t *testing.T, e *env) {
	e.ws("ws", 0)
	_, k := e.sa("ws", "bot")
	first, err := e.svc.RotateKey(e.ctx, "ws", "bot", k.ID, time.Hour, 0)
	if err != nil {
		t.Fatal(err)
	}
	e.secrets = append(e.secrets, first.Key)
	e.sync.take()
	if got := e.keys("ws", "bot")[k.ID].SuccessorID; got != first.ID {
		t.Fatalf("successor_id = %q, want %q", got, first.ID)
	}
	before := e.auditLen()
	_, err = e.svc.RotateKey(e.ctx, "ws", "bot", k.ID, time.Hour, 0)
	wantKind(t, "rotating again", err, keystore.KindAlreadyRotated)
	if err == nil || !strings.Contains(err.Error(), first.Last6) {
		t.Errorf("the refusal does not name the successor's last six %s: %v", first.Last6, err)
	}
	if n := e.auditLen(); n != before {
		t.Errorf("refused, yet the audit trail grew")
	}
	e.expectNoChange("refused rotation")
	if n := len(e.keys("ws", "bot")); n != 2 {
		t.Fatalf("after a refused retry the account has %d keys, want 2", n)
	}
	second, err := e.svc.RotateKeyWith(e.ctx, "ws", "bot", k.ID, keystore.RotateKeyInput{Retain: time.Hour, Force: true})
	if err != nil {
		t.Fatalf("forced rotation: %v", err)
	}
	e.secrets = append(e.secrets, second.Key)
	e.sync.take()
	if got := e.keys("ws", "bot")[k.ID].SuccessorID; got != second.ID {
		t.Fatalf("after force, successor_id = %q, want %q", got, second.ID)
	}
	if err := e.svc.RevokeKey(e.ctx, "ws", "bot", second.ID); err != nil {
		t.Fatal(err)
	}
	e.sync.take()
	third, err := e.svc.RotateKey(e.ctx, "ws", "bot", k.ID, 0, 0)
	if err != nil {
		t.Fatalf("rotating after the successor was revoked: %v", err)
	}
	e.secrets = append(e.secrets, third.Key)
}

// testSelfRotation: an account rotates and revokes its own keys with its own key; it
// cannot force a rotation, nor give a successor a longer life, nor issue a key, nor
// touch another account's keys.
func testSelfRotation(t *testing.T, e *env) {
	e.ws("ws", 0)
	ciSA, _ := e.sa("ws", "ci")
	e.sa("ws", "other")
	k := e.key("ws", "ci", keystore.CreateKeyInput{Name: "ci", ExpiresIn: 24 * time.Hour})
	spare := e.key("ws", "ci", keystore.CreateKeyInput{Name: "spare"})
	_, ok := e.sa("ws", "third")
	ci := e.caller(k)
	_, err := e.svc.RotateKeyWith(ci, "ws", "ci", k.ID, keystore.RotateKeyInput{ExpiresIn: 48 * time.Hour})
	wantKind(t, "a longer successor", err, keystore.KindPermissionDenied)
	_, err = e.svc.RotateKeyWith(ci, "ws", "ci", k.ID, keystore.RotateKeyInput{Force: true})
	wantKind(t, "a forced self-rotation", err, keystore.KindPermissionDenied)
	_, err = e.svc.CreateKey(ci, "ws", "ci", keystore.CreateKeyInput{})
	wantKind(t, "issuing itself a key", err, keystore.KindPermissionDenied)
	_, err = e.svc.RotateKey(ci, "ws", "other", ok.ID, 0, 0)
	wantKind(t, "rotating another account's key", err, keystore.KindPermissionDenied)
	e.expectNoChange("refused self-service")

	next, err := e.svc.RotateKey(ci, "ws", "ci", k.ID, time.Minute, 0)
	if err != nil {
		t.Fatalf("rotating its own key: %v", err)
	}
	e.secrets = append(e.secrets, next.Key)
	e.sync.take()
	if next.ExpiresAt == nil || next.ExpiresAt.Sub(next.CreatedAt) > 24*time.Hour+time.Second {
		t.Errorf("the successor of a 24h key expires at %v (created %v), want within 24h", next.ExpiresAt, next.CreatedAt)
	}
	// The retry with the old key, still retained, is refused and names the successor.
	_, err = e.svc.RotateKey(ci, "ws", "ci", k.ID, time.Minute, 0)
	wantKind(t, "a retried self-rotation", err, keystore.KindAlreadyRotated)
	if err := e.svc.RevokeKey(ci, "ws", "ci", spare.ID); err != nil {
		t.Fatalf("revoking its own key: %v", err)
	}
	e.sync.take()
	evs, _, err := e.svc.ListAudit(e.ctx, keystore.AuditFilter{Workspace: "ws", Action: "key.revoke"}, keystore.Page{})
	if err != nil || len(evs) != 1 || evs[0].Actor != "sa:"+ciSA.ID || evs[0].Target != spare.ID {
		t.Errorf("audit of the self-revocation: %+v, %v", evs, err)
	}
}

// testGetFindKeys: one key is read by id or last six; a workspace's keys are found by
// their last six across its accounts, and only its own.
func testGetFindKeys(t *testing.T, e *env) {
	e.ws("ws", 0)
	e.ws("far", 0)
	_, a := e.sa("ws", "a")
	e.sa("ws", "b")
	_, far := e.sa("far", "a")
	for _, ref := range []string{a.ID, a.Last6} {
		k, err := e.svc.GetKey(e.ctx, "ws", "a", ref)
		if err != nil || k.ID != a.ID || !k.Usable || k.Reason != "" {
			t.Errorf("GetKey(%s) = %+v, %v", ref, k, err)
		}
		e.noSecret("GetKey", k)
	}
	_, err := e.svc.GetKey(e.ctx, "ws", "b", a.ID)
	wantKind(t, "a's key read as b's", err, keystore.KindNotFound)
	found, err := e.svc.FindKeys(e.ctx, "ws", a.Last6)
	if err != nil || len(found) != 1 || found[0].ID != a.ID || found[0].ServiceAccount != "a@ws" {
		t.Fatalf("FindKeys(%s) = %+v, %v", a.Last6, found, err)
	}
	e.noSecret("FindKeys", found)
	if far.Last6 != a.Last6 {
		found, err = e.svc.FindKeys(e.ctx, "ws", far.Last6)
		if err != nil || len(found) != 0 {
			t.Errorf("FindKeys found another workspace's key: %+v, %v", found, err)
		}
	}
	_, err = e.svc.FindKeys(e.ctx, "ws", "abc")
	wantKind(t, "FindKeys(short)", err, keystore.KindInvalid)
	_, err = e.svc.FindKeys(e.ctx, "nope", a.Last6)
	wantKind(t, "FindKeys(unknown workspace)", err, keystore.KindNotFound)
}

// testAdminAddedTwice: making an admin of someone who already is one answers the admin
// as stored, with its first created_at, and writes nothing.
func testAdminAddedTwice(t *testing.T, e *env) {
	e.ws("ws", 0)
	first, created, err := e.svc.SetWorkspaceAdmin(e.ctx, "ws", "person:alice")
	if err != nil || !created {
		t.Fatalf("SetWorkspaceAdmin = %+v, %v, %v", first, created, err)
	}
	e.sync.take()
	e.clock.Add(time.Hour)
	before := e.auditLen()
	again, created, err := e.svc.SetWorkspaceAdmin(e.ctx, "ws", "person:alice")
	if err != nil || created || !again.CreatedAt.Equal(first.CreatedAt) {
		t.Fatalf("again: %+v (created %v), %v; want created_at %v", again, created, err, first.CreatedAt)
	}
	if n := e.auditLen(); n != before {
		t.Errorf("a repeated add wrote %d audit entries", n-before)
	}
}

// testAuditByName: the audit trail is filtered by an account's name (in the filtered
// workspace, or name@workspace); an unknown account, action or workspace is an error
// that says so, not an empty list.
func testAuditByName(t *testing.T, e *env) {
	e.ws("ws", 0)
	_, k := e.sa("ws", "ci")
	if _, _, err := e.svc.SetWorkspaceAdmin(e.ctx, "ws", "sa:ci"); err != nil {
		t.Fatal(err)
	}
	if _, _, err := e.svc.CreateServiceAccount(e.caller(k), "ws", keystore.CreateServiceAccountInput{Name: "etl"}); err != nil {
		t.Fatal(err)
	}
	if _, _, err := e.svc.SetWorkspaceAdmin(e.ctx, "ws", "person:alice"); err != nil {
		t.Fatal(err)
	}
	alice := keystore.WithPrincipal(context.Background(), keystore.Person("alice", "10.0.0.1"))
	if _, _, err := e.svc.CreateServiceAccount(alice, "ws", keystore.CreateServiceAccountInput{Name: "web"}); err != nil {
		t.Fatal(err)
	}
	for _, f := range []keystore.AuditFilter{
		{Workspace: "ws", Actor: "sa:ci"},
		{Actor: "sa:ci@ws"},
		{Workspace: "ws", Actor: "sa:ci", Action: "service_account."},
		{Workspace: "ws", Actor: "person:alice"},
		{Actor: "person:alice", Action: "service_account.create"},
	} {
		evs, _, err := e.svc.ListAudit(e.ctx, f, keystore.Page{})
		if err != nil || len(evs) != 1 || evs[0].Action != "service_account.create" {
			t.Errorf("ListAudit(%+v) = %+v, %v", f, evs, err)
		}
	}
	evs, _, err := e.svc.ListAudit(e.ctx, keystore.AuditFilter{Workspace: "ws", Actor: "operator:" + Operator}, keystore.Page{})
	if err != nil || len(evs) == 0 {
		t.Errorf("ListAudit(operator:%s) = %+v, %v", Operator, evs, err)
	}
	for _, c := range []struct {
		f    keystore.AuditFilter
		kind keystore.Kind
		says string
	}{
		{keystore.AuditFilter{Workspace: "ws", Actor: "sa:terraform"}, keystore.KindNotFound, "terraform"},
		{keystore.AuditFilter{Actor: "sa:terraform"}, keystore.KindInvalid, "workspace"},
		{keystore.AuditFilter{Workspace: "ws", Action: "key.explode"}, keystore.KindInvalid, "key.rotate"},
		{keystore.AuditFilter{Workspace: "nope"}, keystore.KindNotFound, "nope"},
		{keystore.AuditFilter{Workspace: "ws", Actor: "person:bob"}, keystore.KindNotFound, "person:alice"},
		{keystore.AuditFilter{Actor: "person:bob"}, keystore.KindNotFound, "person:alice"},
		{keystore.AuditFilter{Workspace: "ws", Actor: "operator:nobody"}, keystore.KindNotFound, "operator:" + Operator},
	} {
		_, _, err := e.svc.ListAudit(e.ctx, c.f, keystore.Page{})
		wantKind(t, "ListAudit(unknown)", err, c.kind)
		if err == nil || !strings.Contains(err.Error(), c.says) {
			t.Errorf("ListAudit(%+v) = %v, want it to name %q", c.f, err, c.says)
		}
	}
}
