package storetest

import (
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sagate/sagate/keystore"
)

func testWorkspaces(t *testing.T, e *env) {
	w, err := e.svc.CreateWorkspace(e.ctx, "ml-team", 0)
	if err != nil {
		t.Fatalf("CreateWorkspace: %v", err)
	}
	if w.Name != "ml-team" || w.MaxServiceAccounts != keystore.DefaultMaxServiceAccounts || w.CreatedAt.IsZero() {
		t.Errorf("workspace = %+v", w)
	}
	e.expectNoChange("creating a workspace")
	for _, tc := range []struct {
		name string
		max  int
		kind keystore.Kind
	}{
		{"ml-team", 0, keystore.KindNameTaken},
		{"Upper", 0, keystore.KindInvalid},
		{"", 0, keystore.KindInvalid},
		{"1abc", 0, keystore.KindInvalid},
		{"x'; DROP TABLE workspaces; --", 0, keystore.KindInvalid},
		{"ok", -1, keystore.KindInvalid},
		{"ok", keystore.MaxServiceAccountsLimit + 1, keystore.KindInvalid},
	} {
		_, err := e.svc.CreateWorkspace(e.ctx, tc.name, tc.max)
		wantKind(t, fmt.Sprintf("CreateWorkspace(%q, %d)", tc.name, tc.max), err, tc.kind)
	}
	got, err := e.svc.GetWorkspace(e.ctx, "ml-team")
	if err != nil || !got.CreatedAt.Equal(w.CreatedAt) || got.MaxServiceAccounts != w.MaxServiceAccounts {
		t.Errorf("GetWorkspace = %+v, %v; want %+v", got, err, w)
	}
	_, err = e.svc.GetWorkspace(e.ctx, "nope")
	wantKind(t, "GetWorkspace(nope)", err, keystore.KindNotFound)
	e.ws("alpha", 7)
	n := 3
	up, err := e.svc.UpdateWorkspace(e.ctx, "alpha", &n)
	if err != nil || up.MaxServiceAccounts != 3 {
		t.Errorf("UpdateWorkspace = %+v, %v", up, err)
	}
	for _, bad := range []int{0, -1, keystore.MaxServiceAccountsLimit + 1} {
		_, err := e.svc.UpdateWorkspace(e.ctx, "alpha", &bad)
		wantKind(t, fmt.Sprintf("UpdateWorkspace(alpha, %d)", bad), err, keystore.KindInvalid)
	}
	_, err = e.svc.UpdateWorkspace(e.ctx, "nope", &n)
	wantKind(t, "UpdateWorkspace(nope)", err, keystore.KindNotFound)
	n = 7
	if _, err := e.svc.UpdateWorkspace(e.ctx, "alpha", &n); err != nil {
		t.Fatalf("UpdateWorkspace back to 7: %v", err)
	}
	list, next, err := e.svc.ListWorkspaces(e.ctx, keystore.Page{})
	if err != nil || next != "" || len(list) != 2 || list[0].Name != "alpha" || list[1].Name != "ml-team" || list[0].MaxServiceAccounts != 7 {
		t.Errorf("ListWorkspaces = %+v, %q, %v", list, next, err)
	}
}

func testCreateServiceAccount(t *testing.T, e *env) {
	e.ws("ws", 0)
	for _, tc := range []struct {
		doing string
		ws    string
		in    keystore.CreateServiceAccountInput
		kind  keystore.Kind
	}{
		{"bad name", "ws", keystore.CreateServiceAccountInput{Name: "Bad_Name"}, keystore.KindInvalid},
		{"unicode name", "ws", keystore.CreateServiceAccountInput{Name: "bøt"}, keystore.KindInvalid},
		{"long name", "ws", keystore.CreateServiceAccountInput{Name: "a" + strings.Repeat("b", 63)}, keystore.KindInvalid},
		{"control char", "ws", keystore.CreateServiceAccountInput{Name: "a", Description: "x\x00y"}, keystore.KindInvalid},
		{"bad role", "ws", keystore.CreateServiceAccountInput{Name: "a", AllProjectsRole: "admin"}, keystore.KindInvalid},
		{"negative expiry", "ws", keystore.CreateServiceAccountInput{Name: "a", CreateKey: true, KeyExpiresIn: -time.Hour}, keystore.KindInvalid},
		{"unknown workspace", "nope", keystore.CreateServiceAccountInput{Name: "a"}, keystore.KindNotFound},
	} {
		_, _, err := e.svc.CreateServiceAccount(e.ctx, tc.ws, tc.in)
		wantKind(t, tc.doing, err, tc.kind)
	}
	e.expectNoChange("failed creates")

	sa, k, err := e.svc.CreateServiceAccount(e.ctx, "ws", keystore.CreateServiceAccountInput{
		Name: "ci-bot", Description: "CI", AllProjectsRole: keystore.RoleViewer, CreateKey: true, KeyExpiresIn: 90 * 24 * time.Hour,
	})
	if err != nil {
		t.Fatalf("CreateServiceAccount: %v", err)
	}
	e.secrets = append(e.secrets, k.Key)
	if !strings.HasPrefix(sa.ID, "sa_") || len(sa.ID) != 23 || sa.FullName != "ci-bot@ws" || sa.State != keystore.AccountActive ||
		sa.Description != "CI" || sa.Workspace != "ws" {
		t.Errorf("account = %+v", sa)
	}
	if err := keystore.CheckKey(k.Key); err != nil {
		t.Errorf("issued key: %v", err)
	}
	if !strings.HasPrefix(k.ID, "key_") || len(k.ID) != 24 || k.Last6 != keystore.Last6(k.Key) || k.Name != keystore.DefaultKeyName {
		t.Errorf("issued key = id %s name %s last6 %s", k.ID, k.Name, k.Last6)
	}
	if k.ExpiresAt == nil || k.ExpiresAt.Sub(e.clock.Now()) > 90*24*time.Hour || k.ExpiresAt.Sub(e.clock.Now()) < 90*24*time.Hour-time.Second {
		t.Errorf("key expires at %v, want now+90d", k.ExpiresAt)
	}
	e.expectChange("service_account.create", hash(*k))
	recs, _ := e.records(*k)
	if r := recs[hash(*k)]; r.Roles[keystore.AllProjects] != keystore.RoleViewer {
		t.Errorf("record roles = %v, want *: viewer", r.Roles)
	}

	_, _, err = e.svc.CreateServiceAccount(e.ctx, "ws", keystore.CreateServiceAccountInput{Name: "ci-bot"})
	wantKind(t, "duplicate name", err, keystore.KindNameTaken)

	other, none, err := e.svc.CreateServiceAccount(e.ctx, "ws", keystore.CreateServiceAccountInput{Name: "nokey"})
	if err != nil || none != nil || other.ID == sa.ID {
		t.Errorf("create without key = %+v, %v, %v", other, none, err)
	}
	e.expectNoChange("create without key")

	e.ws("other", 0)
	if _, _, err := e.svc.CreateServiceAccount(e.ctx, "other", keystore.CreateServiceAccountInput{Name: "ci-bot"}); err != nil {
		t.Errorf("the same name in another workspace: %v", err)
	}
}

func testLimitConcurrent(t *testing.T, e *env) {
	const limit, tries = 50, 60
	e.ws("lim", limit)
	var wg sync.WaitGroup
	errs := make([]error, tries)
	for i := range tries {
		wg.Go(func() {
			_, _, errs[i] = e.svc.CreateServiceAccount(e.ctx, "lim",
				keystore.CreateServiceAccountInput{Name: fmt.Sprintf("sa-%d", i), CreateKey: true})
		})
	}
	wg.Wait()
	ok, limited := 0, 0
	for i, err := range errs {
		switch {
		case err == nil:
			ok++
		case keystore.KindOf(err) == keystore.KindLimitReached:
			limited++
		default:
			t.Errorf("create %d: %v", i, err)
		}
	}
	if ok != limit || limited != tries-limit {
		t.Errorf("%d succeeded and %d hit the limit; want %d and %d", ok, limited, limit, tries-limit)
	}
	list, _, err := e.svc.ListServiceAccounts(e.ctx, "lim", keystore.Page{Size: 100})
	if err != nil || len(list) != limit {
		t.Errorf("ListServiceAccounts: %d accounts, %v; want %d", len(list), err, limit)
	}
	// Deleting one frees a place.
	if err := e.svc.DeleteServiceAccount(e.ctx, "lim", list[0].Name); err != nil {
		t.Fatalf("DeleteServiceAccount: %v", err)
	}
	if _, _, err := e.svc.CreateServiceAccount(e.ctx, "lim", keystore.CreateServiceAccountInput{Name: "again"}); err != nil {
		t.Errorf("create after delete: %v", err)
	}
	_, _, err = e.svc.CreateServiceAccount(e.ctx, "lim", keystore.CreateServiceAccountInput{Name: "one-more"})
	wantKind(t, "create over the limit", err, keystore.KindLimitReached)
	if err != nil && !strings.Contains(err.Error(), "sagate workspace update lim --max-service-accounts") {
		t.Errorf("the limit's error does not say how to raise it: %v", err)
	}
	raised := limit + 1
	if _, err := e.svc.UpdateWorkspace(e.ctx, "lim", &raised); err != nil {
		t.Fatalf("raising the limit: %v", err)
	}
	if _, _, err = e.svc.CreateServiceAccount(e.ctx, "lim", keystore.CreateServiceAccountInput{Name: "one-more"}); err != nil {
		t.Errorf("create after raising the limit: %v", err)
	}
}

func testGetUpdateAccount(t *testing.T, e *env) {
	e.ws("ws", 0)
	e.ws("ws2", 0)
	sa, _ := e.sa("ws", "bot")
	sa2, _ := e.sa("ws2", "bot")
	for _, ref := range []string{sa.ID, "bot", "bot@ws"} {
		got, err := e.svc.GetServiceAccount(e.ctx, "ws", ref)
		if err != nil || got.ID != sa.ID || got.FullName != "bot@ws" {
			t.Errorf("GetServiceAccount(%q) = %+v, %v", ref, got, err)
		}
	}
	for _, tc := range []struct {
		ws, ref string
		kind    keystore.Kind
	}{
		{"ws", sa2.ID, keystore.KindNotFound}, // an id of another workspace
		{"ws", "sa_00000000000000000000", keystore.KindNotFound},
		{"ws", "sa_x", keystore.KindNotFound},
		{"ws", "ghost", keystore.KindNotFound},
		{"ws", "Bad Name", keystore.KindInvalid},
		{"nope", "bot", keystore.KindNotFound},
		{"ws", "bot@ws2", keystore.KindInvalid},   // a full name of another workspace, existing or not
		{"ws", "ghost@ws2", keystore.KindInvalid}, // the same answer: it says nothing of ws2
		{"ws", "ghost@ws", keystore.KindNotFound},
		{"ws", "bot@", keystore.KindInvalid},
		{"ws", "bot@ws@ws", keystore.KindInvalid},
	} {
		_, err := e.svc.GetServiceAccount(e.ctx, tc.ws, tc.ref)
		wantKind(t, fmt.Sprintf("GetServiceAccount(%q, %q)", tc.ws, tc.ref), err, tc.kind)
	}
	e.clock.Add(time.Minute)
	desc := "runs the nightly build"
	up, err := e.svc.UpdateServiceAccount(e.ctx, "ws", "bot", &desc)
	if err != nil || up.Description != desc || !up.UpdatedAt.After(sa.UpdatedAt) || !up.CreatedAt.Equal(sa.CreatedAt) {
		t.Errorf("UpdateServiceAccount = %+v, %v", up, err)
	}
	e.expectNoChange("description change")
	same, err := e.svc.UpdateServiceAccount(e.ctx, "ws", sa.ID, nil)
	if err != nil || same.Description != desc {
		t.Errorf("UpdateServiceAccount(nil) = %+v, %v", same, err)
	}
	bad := "a\x07b"
	_, err = e.svc.UpdateServiceAccount(e.ctx, "ws", "bot", &bad)
	wantKind(t, "bad description", err, keystore.KindInvalid)
}

func testDeactivate(t *testing.T, e *env) {
	e.ws("ws", 0)
	sa, k1 := e.sa("ws", "bot")
	k2 := e.key("ws", "bot", keystore.CreateKeyInput{Name: "second"})
	k3 := e.key("ws", "bot", keystore.CreateKeyInput{Name: "gone"})
	if err := e.svc.RevokeKey(e.ctx, "ws", "bot", k3.ID); err != nil {
		t.Fatalf("RevokeKey: %v", err)
	}
	e.sync.take()
	got, err := e.svc.DeactivateServiceAccount(e.ctx, "ws", "bot")
	if err != nil || got.State != keystore.AccountDeactivated {
		t.Fatalf("DeactivateServiceAccount = %+v, %v", got, err)
	}
	e.expectChange("service_account.deactivate", hash(k1), hash(k2))
	recs, _ := e.records(k1, k2, k3)
	if len(recs) != 2 || recs[hash(k1)].State != keystore.KeyDeactivated || recs[hash(k2)].State != keystore.KeyDeactivated {
		t.Errorf("records after deactivation = %+v", recs)
	}
	if r := recs[hash(k1)]; r.Live(time.Now()) {
		t.Errorf("a key of a deactivated account is live")
	}
	_, err = e.svc.DeactivateServiceAccount(e.ctx, "ws", sa.ID)
	wantKind(t, "deactivating twice", err, keystore.KindState)
	_, err = e.svc.CreateKey(e.ctx, "ws", "bot", keystore.CreateKeyInput{})
	wantKind(t, "CreateKey on a deactivated account", err, keystore.KindState)
	_, err = e.svc.RotateKey(e.ctx, "ws", "bot", k1.ID, 0, 0)
	wantKind(t, "RotateKey on a deactivated account", err, keystore.KindState)
	e.expectNoChange("refused calls")
}

func testReactivate(t *testing.T, e *env) {
	e.ws("ws", 0)
	sa, k1 := e.sa("ws", "bot")
	k2 := e.key("ws", "bot", keystore.CreateKeyInput{Name: "paused"})
	if _, err := e.svc.DeactivateKey(e.ctx, "ws", "bot", k2.ID); err != nil {
		t.Fatalf("DeactivateKey: %v", err)
	}
	if _, err := e.svc.SetGrant(e.ctx, "ws", "proj", "bot", keystore.RoleOwner); err != nil {
		t.Fatalf("SetGrant: %v", err)
	}
	_, _, err := e.svc.ReactivateServiceAccount(e.ctx, "ws", "bot")
	wantKind(t, "reactivating an active account", err, keystore.KindState)
	if _, err := e.svc.DeactivateServiceAccount(e.ctx, "ws", "bot"); err != nil {
		t.Fatalf("DeactivateServiceAccount: %v", err)
	}
	e.sync.take()
	got, fresh, err := e.svc.ReactivateServiceAccount(e.ctx, "ws", sa.ID)
	if err != nil || got.State != keystore.AccountActive {
		t.Fatalf("ReactivateServiceAccount = %+v, %v", got, err)
	}
	e.secrets = append(e.secrets, fresh.Key)
	if keystore.CheckKey(fresh.Key) != nil || fresh.ID == k1.ID || fresh.ID == k2.ID {
		t.Errorf("fresh key %s is not new", fresh.ID)
	}
	e.expectChange("service_account.reactivate", hash(k1), hash(k2), hash(fresh))
	keys := e.keys("ws", "bot")
	if keys[k1.ID].State != keystore.KeyRevoked || keys[k2.ID].State != keystore.KeyRevoked || keys[fresh.ID].State != keystore.KeyActive {
		t.Errorf("key states after reactivation: %s %s %s", keys[k1.ID].State, keys[k2.ID].State, keys[fresh.ID].State)
	}
	recs, _ := e.records(k1, k2, fresh)
	if r, ok := recs[hash(fresh)]; len(recs) != 1 || !ok || !r.Live(time.Now()) {
		t.Errorf("records after reactivation = %+v; want only the fresh key, live", recs)
	}
	r := recs[hash(fresh)]
	if role, ok := r.RoleFor("proj"); !ok || role != keystore.RoleOwner {
		t.Errorf("grant did not survive reactivation: %v %v", role, ok)
	}
	err = e.svc.RevokeKey(e.ctx, "ws", "bot", k1.ID)
	wantKind(t, "revoking a key voided by reactivation", err, keystore.KindState)
	_, err = e.svc.ActivateKey(e.ctx, "ws", "bot", k2.ID)
	wantKind(t, "activating a key voided by reactivation", err, keystore.KindState)
}

func testDelete(t *testing.T, e *env) {
	e.ws("ws", 0)
	sa, k1 := e.sa("ws", "bot")
	k2 := e.key("ws", "bot", keystore.CreateKeyInput{})
	if _, err := e.svc.SetGrant(e.ctx, "ws", "*", "bot", keystore.RoleContributor); err != nil {
		t.Fatalf("SetGrant: %v", err)
	}
	e.sync.take()
	if err := e.svc.DeleteServiceAccount(e.ctx, "ws", "bot"); err != nil {
		t.Fatalf("DeleteServiceAccount: %v", err)
	}
	e.expectChange("service_account.delete", hash(k1), hash(k2))
	if recs, _ := e.records(k1, k2); len(recs) != 0 {
		t.Errorf("records of a deleted account: %+v", recs)
	}
	_, err := e.svc.GetServiceAccount(e.ctx, "ws", sa.ID)
	wantKind(t, "GetServiceAccount after delete", err, keystore.KindNotFound)
	err = e.svc.DeleteServiceAccount(e.ctx, "ws", "bot")
	wantKind(t, "deleting twice", err, keystore.KindNotFound)
	gs, _, err := e.svc.ListGrants(e.ctx, "ws", "proj", keystore.Page{})
	if err != nil || len(gs) != 0 {
		t.Errorf("grants after delete = %+v, %v", gs, err)
	}
	again, k3 := e.sa("ws", "bot")
	if again.ID == sa.ID {
		t.Errorf("a new account reuses the deleted id")
	}
	if recs, _ := e.records(k1, k2, k3); len(recs) != 1 || recs[hash(k3)].Roles != nil {
		t.Errorf("records after re-create = %+v; want the new key only, without the old grant", recs)
	}
}
