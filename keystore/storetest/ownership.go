package storetest

import (
	"fmt"
	"slices"
	"testing"

	"github.com/sagate/sagate/keystore"
)

// testOwnership: an account records the principal that created it; its owner is set at
// creation or later by whoever may update it, in any spelling of a principal, and cleared.
func testOwnership(t *testing.T, e *env) {
	e.ws("ws", 0)
	ann, annKey := e.sa("ws", "ann")
	if ann.CreatedBy != "operator:"+Operator || ann.Owner != "" {
		t.Fatalf("created by the operator: %+v", ann)
	}
	if _, _, err := e.svc.SetWorkspaceAdmin(e.ctx, "ws", "sa:ann"); err != nil {
		t.Fatal(err)
	}
	bot, _, err := e.svc.CreateServiceAccount(e.caller(annKey), "ws", keystore.CreateServiceAccountInput{Name: "bot", Owner: "person:pat"})
	if err != nil || bot.CreatedBy != "sa:"+ann.ID || bot.Owner != "person:pat" {
		t.Fatalf("created by ann, owned by pat: %+v, %v", bot, err)
	}
	got, err := e.svc.GetServiceAccount(e.ctx, "ws", "bot")
	if err != nil || got.CreatedBy != bot.CreatedBy || got.Owner != "person:pat" {
		t.Fatalf("GetServiceAccount = %+v, %v", got, err)
	}
	for _, ref := range []string{"sa:ann", "sa:ann@ws", "sa:" + ann.ID} {
		sa, err := e.svc.SetServiceAccountOwner(e.ctx, "ws", "bot", ref)
		if err != nil || sa.Owner != "sa:"+ann.ID {
			t.Fatalf("SetServiceAccountOwner(%s) = %+v, %v", ref, sa, err)
		}
	}
	list, _, err := e.svc.ListServiceAccounts(e.ctx, "ws", keystore.Page{})
	if err != nil || len(list) != 2 || list[1].Owner != "sa:"+ann.ID || list[1].CreatedBy != "sa:"+ann.ID {
		t.Fatalf("ListServiceAccounts = %+v, %v", list, err)
	}
	for _, bad := range []string{"ann", "sa:nobody", "group:x"} {
		_, err := e.svc.SetServiceAccountOwner(e.ctx, "ws", "bot", bad)
		if k := keystore.KindOf(err); k != keystore.KindInvalid && k != keystore.KindNotFound {
			t.Errorf("SetServiceAccountOwner(%q) = %v", bad, err)
		}
	}
	_, _, err = e.svc.CreateServiceAccount(e.ctx, "ws", keystore.CreateServiceAccountInput{Name: "x", Owner: "nobody"})
	wantKind(t, "an account with a malformed owner", err, keystore.KindInvalid)
	if sa, err := e.svc.SetServiceAccountOwner(e.ctx, "ws", "bot", ""); err != nil || sa.Owner != "" {
		t.Fatalf("clearing the owner = %+v, %v", sa, err)
	}
	_, plainKey := e.sa("ws", "plain")
	_, err = e.svc.SetServiceAccountOwner(e.caller(plainKey), "ws", "bot", "person:eve")
	wantKind(t, "a plain account sets an owner", err, keystore.KindPermissionDenied)
	evs, _, err := e.svc.ListAudit(e.ctx, keystore.AuditFilter{Workspace: "ws", Action: "service_account.update"}, keystore.Page{})
	if err != nil || len(evs) == 0 || evs[0].Details["owner"] != "" || evs[0].Details["previous_owner"] != "sa:"+ann.ID {
		t.Fatalf("audit of the owner changes = %+v, %v", evs, err)
	}
}

// testFindAccounts: a workspace's accounts are filtered by owner (any spelling of a
// principal) and state, page by page; a bad filter or an unknown owning account is an error.
func testFindAccounts(t *testing.T, e *env) {
	e.ws("ws", 0)
	ann, _ := e.sa("ws", "ann")
	var want []string
	for i := range 7 {
		name := fmt.Sprintf("a%d", i)
		owner := ""
		if i%2 == 0 {
			owner = "sa:ann"
			want = append(want, name)
		}
		if _, _, err := e.svc.CreateServiceAccount(e.ctx, "ws", keystore.CreateServiceAccountInput{Name: name, Owner: owner}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := e.svc.DeactivateServiceAccount(e.ctx, "ws", "a2"); err != nil {
		t.Fatal(err)
	}
	find := func(f keystore.AccountFilter) []string {
		t.Helper()
		var names []string
		p := keystore.Page{Size: 2}
		for {
			items, next, err := e.svc.FindServiceAccounts(e.ctx, "ws", f, p)
			if err != nil || len(items) > 2 {
				t.Fatalf("FindServiceAccounts(%+v, %+v) = %+v, %v", f, p, items, err)
			}
			for _, sa := range items {
				names = append(names, sa.Name)
			}
			if next == "" {
				return names
			}
			p.Token = next
		}
	}
	for _, ref := range []string{"sa:ann", "sa:ann@ws", "sa:" + ann.ID} {
		if got := find(keystore.AccountFilter{Owner: ref}); !slices.Equal(got, want) {
			t.Errorf("owner %s: %v, want %v", ref, got, want)
		}
	}
	if got := find(keystore.AccountFilter{Owner: "sa:ann", State: keystore.AccountActive}); !slices.Equal(got, []string{"a0", "a4", "a6"}) {
		t.Errorf("owner sa:ann, active: %v", got)
	}
	if got := find(keystore.AccountFilter{State: keystore.AccountDeactivated}); !slices.Equal(got, []string{"a2"}) {
		t.Errorf("deactivated: %v", got)
	}
	if got := find(keystore.AccountFilter{Owner: "person:nobody"}); len(got) != 0 {
		t.Errorf("owner person:nobody: %v", got)
	}
	for _, c := range []struct {
		f    keystore.AccountFilter
		kind keystore.Kind
	}{
		{keystore.AccountFilter{State: "paused"}, keystore.KindInvalid},
		{keystore.AccountFilter{Owner: "ann"}, keystore.KindInvalid},
		{keystore.AccountFilter{Owner: "operator:x"}, keystore.KindInvalid},
		{keystore.AccountFilter{Owner: "sa:nobody"}, keystore.KindNotFound},
	} {
		_, _, err := e.svc.FindServiceAccounts(e.ctx, "ws", c.f, keystore.Page{})
		wantKind(t, fmt.Sprintf("FindServiceAccounts(%+v)", c.f), err, c.kind)
	}
}
