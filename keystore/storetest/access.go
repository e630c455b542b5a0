package storetest

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/sagate/sagate/keystore"
)

// caller authenticates key and returns a context that acts as its account.
func (e *env) caller(key keystore.IssuedKey) context.Context {
	e.t.Helper()
	p, err := e.svc.Authenticate(context.Background(), key.Key)
	if err != nil {
		e.t.Fatalf("Authenticate(…%s): %v", key.Last6, err)
	}
	return keystore.WithPrincipal(context.Background(), p)
}

// auditLen counts the audit events of every workspace.
func (e *env) auditLen() int {
	e.t.Helper()
	evs, _, err := e.svc.ListAudit(e.ctx, keystore.AuditFilter{}, keystore.Page{Size: keystore.MaxPageSize})
	if err != nil {
		e.t.Fatalf("ListAudit: %v", err)
	}
	return len(evs)
}

// testAuthenticate: a live key authenticates as its account; a revoked, paused or expired
// key, a key of a deactivated or deleted account and a malformed key do not; a key that
// dies after authenticating is refused by the next call.
func testAuthenticate(t *testing.T, e *env) {
	e.ws("ws", 0)
	sa, k := e.sa("ws", "bot")
	p, err := e.svc.Authenticate(context.Background(), k.Key)
	if err != nil || p.Kind != keystore.PrincipalServiceAccount || p.ID != sa.ID || p.Name != "bot" ||
		p.Workspace != "ws" || p.KeyID != k.ID || p.KeyLast6 != k.Last6 || p.FullName() != "bot@ws" || p.Ref() != "sa:"+sa.ID {
		t.Fatalf("Authenticate = %+v, %v", p, err)
	}
	ctx := keystore.WithPrincipal(context.Background(), p)
	if who, err := e.svc.WhoAmI(ctx); err != nil || who.ID != sa.ID {
		t.Fatalf("WhoAmI = %+v, %v", who, err)
	}
	// A KeyPrincipal is checked by the method it calls, in that method's transaction.
	up, err := keystore.KeyPrincipal(k.Key)
	if err != nil || !up.Unchecked() {
		t.Fatalf("KeyPrincipal = %+v, %v", up, err)
	}
	uctx := keystore.WithPrincipal(context.Background(), up)
	if who, err := e.svc.WhoAmI(uctx); err != nil || who.ID != sa.ID || who.KeyLast6 != k.Last6 || who.Unchecked() {
		t.Fatalf("WhoAmI of a KeyPrincipal = %+v, %v", who, err)
	}
	if checked, err := e.svc.Check(context.Background(), up); err != nil || checked.ID != sa.ID {
		t.Fatalf("Check = %+v, %v", checked, err)
	}
	if _, err := keystore.KeyPrincipal("sak_nope"); keystore.KindOf(err) != keystore.KindUnauthenticated {
		t.Fatalf("KeyPrincipal(malformed) = %v", err)
	}
	// The key with its last character changed (to "x", or "y" when it is an "x").
	last := "x"
	if strings.HasSuffix(k.Key, last) {
		last = "y"
	}
	for _, bad := range []string{"", "sak_short", k.Key[:len(k.Key)-1] + last, "not-a-key"} {
		_, err := e.svc.Authenticate(context.Background(), bad)
		wantKind(t, "Authenticate(malformed)", err, keystore.KindUnauthenticated)
	}
	if _, err := e.svc.DeactivateKey(e.ctx, "ws", "bot", k.ID); err != nil {
		t.Fatal(err)
	}
	_, err = e.svc.Authenticate(context.Background(), k.Key)
	wantKind(t, "Authenticate(paused key)", err, keystore.KindUnauthenticated)
	_, err = e.svc.WhoAmI(ctx)
	wantKind(t, "WhoAmI after the key was paused", err, keystore.KindUnauthenticated)
	_, _, err = e.svc.ListKeys(uctx, "ws", "bot", keystore.Page{})
	wantKind(t, "a KeyPrincipal's call after the key was paused", err, keystore.KindUnauthenticated)
	_, err = e.svc.Check(context.Background(), up)
	wantKind(t, "Check after the key was paused", err, keystore.KindUnauthenticated)

	k2 := e.key("ws", "bot", keystore.CreateKeyInput{ExpiresIn: 3600e9})
	ctx2 := e.caller(k2)
	e.clock.Add(2 * 3600e9)
	_, err = e.svc.Authenticate(context.Background(), k2.Key)
	wantKind(t, "Authenticate(expired key)", err, keystore.KindUnauthenticated)
	_, err = e.svc.GetServiceAccount(ctx2, "ws", "bot")
	wantKind(t, "a call with a key that expired since", err, keystore.KindUnauthenticated)

	k3 := e.key("ws", "bot", keystore.CreateKeyInput{})
	ctx3 := e.caller(k3)
	if _, err := e.svc.DeactivateServiceAccount(e.ctx, "ws", "bot"); err != nil {
		t.Fatal(err)
	}
	_, err = e.svc.Authenticate(context.Background(), k3.Key)
	wantKind(t, "Authenticate(key of a deactivated account)", err, keystore.KindUnauthenticated)
	_, _, err = e.svc.ListKeys(ctx3, "ws", "bot", keystore.Page{})
	wantKind(t, "a call once the account is deactivated", err, keystore.KindUnauthenticated)

	_, k4 := e.sa("ws", "bot2")
	ctx4 := e.caller(k4)
	if err := e.svc.RevokeKey(e.ctx, "ws", "bot2", k4.ID); err != nil {
		t.Fatal(err)
	}
	_, err = e.svc.Authenticate(context.Background(), k4.Key)
	wantKind(t, "Authenticate(revoked key)", err, keystore.KindUnauthenticated)
	_, err = e.svc.WhoAmI(ctx4)
	wantKind(t, "WhoAmI with a revoked key", err, keystore.KindUnauthenticated)

	_, _, err = e.svc.ListWorkspaces(context.Background(), keystore.Page{})
	wantKind(t, "a call with no principal", err, keystore.KindUnauthenticated)
	e.sync.take()
	e.noSecret("errors", fmt.Sprint(err))
}

// testAccessRules walks the roles: what each may do, and that a refusal changes nothing.
func testAccessRules(t *testing.T, e *env) {
	e.ws("a", 0)
	e.ws("b", 0)
	_, adminKey := e.sa("a", "ci")
	_, ownerKey := e.sa("a", "owner")
	_, plainKey := e.sa("a", "plain")
	_, bKey := e.sa("b", "ci")
	mustDo := func(doing string, err error) {
		t.Helper()
		if err != nil {
			t.Fatalf("%s: %v", doing, err)
		}
	}
	if a, created, err := e.svc.SetWorkspaceAdmin(e.ctx, "a", "sa:ci"); err != nil || !created || a.Name != "ci@a" {
		t.Fatalf("SetWorkspaceAdmin = %+v, %v, %v", a, created, err)
	}
	_, created, err := e.svc.SetWorkspaceAdmin(e.ctx, "a", "sa:ci")
	mustDo("SetWorkspaceAdmin again", err)
	if created {
		t.Error("SetWorkspaceAdmin of an admin: created = true")
	}
	_, _, err = e.svc.SetWorkspaceAdmin(e.ctx, "b", "sa:ci")
	mustDo("SetWorkspaceAdmin b", err)
	_, err = e.svc.SetGrant(e.ctx, "a", "p1", "owner", keystore.RoleOwner)
	mustDo("SetGrant owner", err)
	_, err = e.svc.SetPersonRole(e.ctx, "a", "p1", "carol", keystore.RoleOwner)
	mustDo("SetPersonRole carol", err)
	_, _, err = e.svc.SetWorkspaceAdmin(e.ctx, "a", "person:dave")
	mustDo("SetWorkspaceAdmin dave", err)
	e.sync.take()

	admin, owner, plain, other := e.caller(adminKey), e.caller(ownerKey), e.caller(plainKey), e.caller(bKey)
	carol := keystore.WithPrincipal(context.Background(), keystore.Person("carol", "10.0.0.1"))
	dave := keystore.WithPrincipal(context.Background(), keystore.Person("dave", "10.0.0.1"))
	stranger := keystore.WithPrincipal(context.Background(), keystore.Person("eve", "10.0.0.1"))

	type call struct {
		name string
		do   func(ctx context.Context) error
	}
	calls := []call{
		{"create workspace", func(ctx context.Context) error { _, err := e.svc.CreateWorkspace(ctx, "c", 0); return err }},
		{"raise limit", func(ctx context.Context) error { _, err := e.svc.UpdateWorkspace(ctx, "a", ptr(999)); return err }},
		{"list workspaces", func(ctx context.Context) error { _, _, err := e.svc.ListWorkspaces(ctx, keystore.Page{}); return err }},
		{"create account", func(ctx context.Context) error {
			_, _, err := e.svc.CreateServiceAccount(ctx, "a", keystore.CreateServiceAccountInput{Name: "new"})
			return err
		}},
		{"issue key to plain", func(ctx context.Context) error {
			_, err := e.svc.CreateKey(ctx, "a", "plain", keystore.CreateKeyInput{})
			return err
		}},
		{"list plain's keys", func(ctx context.Context) error {
			_, _, err := e.svc.ListKeys(ctx, "a", "plain", keystore.Page{})
			return err
		}},
		{"read owner", func(ctx context.Context) error { _, err := e.svc.GetServiceAccount(ctx, "a", "owner"); return err }},
		{"assign plain on p1", func(ctx context.Context) error {
			_, err := e.svc.SetGrant(ctx, "a", "p1", "plain", keystore.RoleOwner)
			return err
		}},
		{"assign plain on p2", func(ctx context.Context) error {
			_, err := e.svc.SetGrant(ctx, "a", "p2", "plain", keystore.RoleViewer)
			return err
		}},
		{"assign plain on *", func(ctx context.Context) error {
			_, err := e.svc.SetGrant(ctx, "a", "*", "plain", keystore.RoleViewer)
			return err
		}},
		{"list p1", func(ctx context.Context) error {
			_, _, err := e.svc.ListGrants(ctx, "a", "p1", keystore.Page{})
			return err
		}},
		{"person role on p1", func(ctx context.Context) error {
			_, err := e.svc.SetPersonRole(ctx, "a", "p1", "frank", keystore.RoleViewer)
			return err
		}},
		{"make plain admin", func(ctx context.Context) error {
			_, _, err := e.svc.SetWorkspaceAdmin(ctx, "a", "sa:plain")
			return err
		}},
		{"audit of a", func(ctx context.Context) error {
			_, _, err := e.svc.ListAudit(ctx, keystore.AuditFilter{Workspace: "a"}, keystore.Page{})
			return err
		}},
		{"audit of all", func(ctx context.Context) error {
			_, _, err := e.svc.ListAudit(ctx, keystore.AuditFilter{}, keystore.Page{})
			return err
		}},
		{"accounts of b", func(ctx context.Context) error {
			_, _, err := e.svc.ListServiceAccounts(ctx, "b", keystore.Page{})
			return err
		}},
	}
	const Y, N = true, false
	allowed := map[string][]bool{ // per call, in the order of calls
		"admin":    {N, N, N, Y, Y, Y, Y, Y, Y, Y, Y, Y, N, Y, N, N}, // only operators and people make accounts admins
		"owner":    {N, N, N, N, N, N, Y, Y, N, N, Y, Y, N, N, N, N}, // "read owner" reads itself
		"plain":    {N, N, N, N, N, Y, N, N, N, N, N, N, N, N, N, N},
		"other":    {N, N, N, N, N, N, N, N, N, N, N, N, N, N, N, Y},
		"carol":    {N, N, N, N, N, N, N, Y, N, N, Y, Y, N, N, N, N},
		"dave":     {N, N, N, Y, Y, Y, Y, Y, Y, Y, Y, Y, Y, Y, N, N},
		"stranger": {N, N, N, N, N, N, N, N, N, N, N, N, N, N, N, N},
	}
	ctxs := map[string]context.Context{"admin": admin, "owner": owner, "plain": plain, "other": other, "carol": carol, "dave": dave, "stranger": stranger}
	for who, want := range allowed {
		for i, c := range calls {
			before := e.auditLen()
			err := c.do(ctxs[who])
			if want[i] {
				if err != nil {
					t.Errorf("%s: %s: %v", who, c.name, err)
				}
				e.sync.take()
				continue
			}
			wantKind(t, who+": "+c.name, err, keystore.KindPermissionDenied)
			if err != nil && !strings.Contains(err.Error(), "needs") && !strings.Contains(err.Error(), "itself") {
				t.Errorf("%s: %s: the refusal names no right: %v", who, c.name, err)
			}
			if n := e.auditLen(); n != before {
				t.Errorf("%s: %s: refused, yet the audit trail grew from %d to %d", who, c.name, before, n)
			}
			e.expectNoChange(who + ": " + c.name)
		}
		// Undo what the allowed calls did, so that each caller meets the same world.
		if _, err := e.svc.GetServiceAccount(e.ctx, "a", "new"); err == nil {
			mustDo("delete new", e.svc.DeleteServiceAccount(e.ctx, "a", "new"))
		}
		_ = e.svc.RemoveGrant(e.ctx, "a", "p1", "plain")
		_ = e.svc.RemoveGrant(e.ctx, "a", "p2", "plain")
		_ = e.svc.RemoveGrant(e.ctx, "a", "*", "plain")
		_ = e.svc.RemoveWorkspaceAdmin(e.ctx, "a", "sa:plain")
		e.sync.take()
	}

	// A service account cannot give itself a role, even as workspace admin.
	_, err = e.svc.SetGrant(admin, "a", "p1", "ci", keystore.RoleOwner)
	wantKind(t, "admin grants itself", err, keystore.KindPermissionDenied)
	_, err = e.svc.SetGrant(owner, "a", "p1", "owner", keystore.RoleOwner)
	wantKind(t, "owner re-grants itself", err, keystore.KindPermissionDenied)
	// The workspace's limit is the operator's: its admin cannot raise it.
	_, err = e.svc.UpdateWorkspace(admin, "a", ptr(1000))
	wantKind(t, "admin raises the limit", err, keystore.KindPermissionDenied)
	if err == nil || !strings.Contains(err.Error(), "operator") {
		t.Errorf("raising the limit: the refusal does not name the operator: %v", err)
	}
	e.expectNoChange("refused self-grants")

	// Admins list; deleting an account removes its admin row.
	as, _, err := e.svc.ListWorkspaceAdmins(admin, "a", keystore.Page{})
	if err != nil || len(as) != 2 || as[0].Principal != "person:dave" || as[0].Name != "dave" || as[1].Name != "ci@a" {
		t.Fatalf("ListWorkspaceAdmins = %+v, %v", as, err)
	}
	people, err := e.svc.ListPersonRoles(owner, "a", "p1")
	if err != nil || len(people) != 2 || people[0].Person != "carol" || people[0].Role != keystore.RoleOwner || people[1].Person != "frank" {
		t.Fatalf("ListPersonRoles = %+v, %v", people, err)
	}
	mustDo("delete ci", e.svc.DeleteServiceAccount(e.ctx, "a", "ci"))
	as, _, err = e.svc.ListWorkspaceAdmins(e.ctx, "a", keystore.Page{})
	if err != nil || len(as) != 1 || as[0].Principal != "person:dave" {
		t.Fatalf("admins after deleting ci = %+v, %v", as, err)
	}
	_, err = e.svc.WhoAmI(admin)
	wantKind(t, "a deleted account's key", err, keystore.KindUnauthenticated)

	// The audit trail names each principal.
	evs, _, err := e.svc.ListAudit(dave, keystore.AuditFilter{Workspace: "a"}, keystore.Page{Size: keystore.MaxPageSize})
	mustDo("ListAudit as dave", err)
	kinds := map[keystore.PrincipalKind]bool{}
	for _, ev := range evs {
		if ev.Workspace != "a" || ev.Principal == nil {
			t.Fatalf("audit of a holds %+v", ev)
		}
		kinds[ev.Principal.Kind] = true
		last6 := map[string]string{"ci@a": adminKey.Last6, "owner@a": ownerKey.Last6}
		if ev.Principal.Kind == keystore.PrincipalServiceAccount && (last6[ev.Principal.Name] == "" ||
			ev.Principal.KeyLast6 != last6[ev.Principal.Name] || ev.Actor != "sa:"+ev.Principal.ID) {
			t.Errorf("audit entry by an account: %+v %+v", ev, ev.Principal)
		}
		if ev.Principal.Kind == keystore.PrincipalPerson && (ev.Principal.Via != "10.0.0.1" || !strings.HasPrefix(ev.Actor, "person:")) {
			t.Errorf("audit entry by a person: %+v %+v", ev, ev.Principal)
		}
	}
	if !kinds[keystore.PrincipalOperator] || !kinds[keystore.PrincipalServiceAccount] || !kinds[keystore.PrincipalPerson] {
		t.Errorf("the audit trail of a lacks a kind of principal: %v", kinds)
	}
}

// ptr returns a pointer to v.
func ptr[T any](v T) *T { return &v }
