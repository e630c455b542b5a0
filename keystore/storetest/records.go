package storetest

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/sagate/sagate/keystore"
	"github.com/sagate/sagate/keystore/wire"
)

func testGrants(t *testing.T, e *env) {
	e.ws("ws", 0)
	_, ka := e.sa("ws", "alice")
	e.sa("ws", "bob")
	e.sa("ws", "carol")
	for _, tc := range []struct {
		project, sa string
		role        keystore.Role
		kind        keystore.Kind
	}{
		{"bad project!", "alice", keystore.RoleViewer, keystore.KindInvalid},
		{"", "alice", keystore.RoleViewer, keystore.KindInvalid},
		{"proj", "alice", "admin", keystore.KindInvalid},
		{"proj", "alice", "Owner", keystore.KindInvalid},
		{"proj", "ghost", keystore.RoleViewer, keystore.KindNotFound},
	} {
		_, err := e.svc.SetGrant(e.ctx, "ws", tc.project, tc.sa, tc.role)
		wantKind(t, fmt.Sprintf("SetGrant(%q, %q, %q)", tc.project, tc.sa, tc.role), err, tc.kind)
	}
	e.expectNoChange("refused grants")

	g, err := e.svc.SetGrant(e.ctx, "ws", "proj", "alice", keystore.RoleViewer)
	if err != nil || g.Role != keystore.RoleViewer || g.ServiceAccount != "alice@ws" || g.Project != "proj" || g.Workspace != "ws" {
		t.Fatalf("SetGrant = %+v, %v", g, err)
	}
	e.expectChange("grant.set", hash(ka))
	e.clock.Add(time.Second)
	g2, err := e.svc.SetGrant(e.ctx, "ws", "proj", "alice", keystore.RoleOwner)
	if err != nil || g2.Role != keystore.RoleOwner || !g2.CreatedAt.Equal(g.CreatedAt) || !g2.UpdatedAt.After(g.UpdatedAt) {
		t.Errorf("changing a role = %+v, %v", g2, err)
	}
	e.expectChange("grant.set", hash(ka))
	mustGrant := func(project, sa string, role keystore.Role) {
		t.Helper()
		if _, err := e.svc.SetGrant(e.ctx, "ws", project, sa, role); err != nil {
			t.Fatalf("SetGrant(%s, %s): %v", project, sa, err)
		}
	}
	mustGrant("*", "alice", keystore.RoleViewer)
	mustGrant("*", "carol", keystore.RoleContributor)
	mustGrant("other", "bob", keystore.RoleOwner)

	recs, _ := e.records(ka)
	r := recs[hash(ka)]
	for _, tc := range []struct {
		project string
		role    keystore.Role
	}{{"proj", keystore.RoleOwner}, {"elsewhere", keystore.RoleViewer}} {
		if role, ok := r.RoleFor(tc.project); !ok || role != tc.role {
			t.Errorf("alice's role in %s = %q %v, want %q", tc.project, role, ok, tc.role)
		}
	}

	list, _, err := e.svc.ListGrants(e.ctx, "ws", "proj", keystore.Page{})
	if err != nil {
		t.Fatalf("ListGrants: %v", err)
	}
	var got []string
	for _, g := range list {
		got = append(got, fmt.Sprintf("%s:%s:%s", g.ServiceAccount, g.Project, g.Role))
	}
	want := []string{"alice@ws:*:viewer", "alice@ws:proj:owner", "carol@ws:*:contributor"}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("ListGrants(proj) = %v, want %v", got, want)
	}
	// Paged one by one, the same list.
	var paged []string
	p := keystore.Page{Size: 1}
	for range 10 {
		items, next, err := e.svc.ListGrants(e.ctx, "ws", "proj", p)
		if err != nil {
			t.Fatalf("ListGrants page: %v", err)
		}
		for _, g := range items {
			paged = append(paged, fmt.Sprintf("%s:%s:%s", g.ServiceAccount, g.Project, g.Role))
		}
		if next == "" {
			break
		}
		p.Token = next
	}
	if fmt.Sprint(paged) != fmt.Sprint(want) {
		t.Errorf("paged ListGrants = %v, want %v", paged, want)
	}

	// One account's grants, "*" first, paged one by one.
	var mine []string
	p = keystore.Page{Size: 1}
	for range 10 {
		items, next, err := e.svc.ListAccountGrants(e.ctx, "ws", "alice@ws", p)
		if err != nil {
			t.Fatalf("ListAccountGrants: %v", err)
		}
		for _, g := range items {
			mine = append(mine, fmt.Sprintf("%s:%s:%s", g.ServiceAccount, g.Project, g.Role))
		}
		if next == "" {
			break
		}
		p.Token = next
	}
	if want := []string{"alice@ws:*:viewer", "alice@ws:proj:owner"}; fmt.Sprint(mine) != fmt.Sprint(want) {
		t.Errorf("ListAccountGrants(alice) = %v, want %v", mine, want)
	}
	_, _, err = e.svc.ListAccountGrants(e.ctx, "ws", "ghost", keystore.Page{})
	wantKind(t, "ListAccountGrants of an unknown account", err, keystore.KindNotFound)

	if err := e.svc.RemoveGrant(e.ctx, "ws", "proj", "alice"); err != nil {
		t.Fatalf("RemoveGrant: %v", err)
	}
	e.sync.take()
	err = e.svc.RemoveGrant(e.ctx, "ws", "proj", "alice")
	wantKind(t, "removing a missing grant", err, keystore.KindNotFound)
	recs, _ = e.records(ka)
	r = recs[hash(ka)]
	if role, _ := r.RoleFor("proj"); role != keystore.RoleViewer {
		t.Errorf("after removing the explicit grant alice is %q in proj, want viewer from *", role)
	}
	_, _, err = e.svc.ListGrants(e.ctx, "nope", "proj", keystore.Page{})
	wantKind(t, "ListGrants of an unknown workspace", err, keystore.KindNotFound)
}

func testAuthRecords(t *testing.T, e *env) {
	e.ws("ws", 0)
	sa, k1 := e.sa("ws", "bot")
	k2 := e.key("ws", "bot", keystore.CreateKeyInput{ExpiresIn: 24 * time.Hour})
	if _, err := e.svc.SetGrant(e.ctx, "ws", "proj", "bot", keystore.RoleContributor); err != nil {
		t.Fatal(err)
	}
	last := e.sync.take()
	unknown := keystore.HashKey("sak_unknown")
	hashes := []keystore.KeyHash{hash(k1), hash(k2), unknown}
	for i := range 1200 { // more than one IN-list batch
		hashes = append(hashes, keystore.HashKey(fmt.Sprint("filler-", i)))
	}
	recs, rev, err := e.store.AuthRecords(e.ctx, hashes)
	if err != nil {
		t.Fatalf("AuthRecords: %v", err)
	}
	if len(last) != 1 || rev != last[0].Rev {
		t.Errorf("AuthRecords rev = %d, want the last change's rev %+v", rev, last)
	}
	if len(recs) != 2 {
		t.Fatalf("AuthRecords returned %d records, want 2", len(recs))
	}
	r := recs[hash(k1)]
	want := wire.Record{KeyID: k1.ID, SAID: sa.ID, SA: "bot@ws", Workspace: "ws", State: keystore.KeyActive,
		Roles: map[string]keystore.Role{"proj": keystore.RoleContributor}, Rev: rev}
	if fmt.Sprint(r) != fmt.Sprint(want) {
		t.Errorf("record = %+v, want %+v", r, want)
	}
	if r2 := recs[hash(k2)]; r2.Exp != k2.ExpiresAt.UnixMilli() || r2.KeyID != k2.ID || r2.Rev != rev {
		t.Errorf("record of the expiring key = %+v", r2)
	}
	// The revision grows with every commit.
	if err := e.svc.RevokeKey(e.ctx, "ws", "bot", k2.ID); err != nil {
		t.Fatal(err)
	}
	c := e.expectChange("key.revoke", hash(k2))
	recs, rev2, err := e.store.AuthRecords(e.ctx, hashes[:2])
	if err != nil || rev2 != c.Rev || rev2 <= rev || len(recs) != 1 || recs[hash(k1)].Rev != rev2 {
		t.Errorf("after revoke: %d records at rev %d (change rev %d, before %d), %v", len(recs), rev2, c.Rev, rev, err)
	}
	if recs, _, err := e.store.AuthRecords(e.ctx, nil); err != nil || len(recs) != 0 {
		t.Errorf("AuthRecords(nil) = %v, %v", recs, err)
	}
}

func testScan(t *testing.T, e *env) {
	e.ws("ws", 0)
	e.ws("ws2", 0)
	want := map[keystore.KeyHash]string{}
	for i := range 5 {
		_, k := e.sa("ws", fmt.Sprint("bot-", i))
		want[hash(k)] = k.ID
	}
	_, k := e.sa("ws2", "paused")
	want[hash(k)] = k.ID
	if _, err := e.svc.DeactivateServiceAccount(e.ctx, "ws2", "paused"); err != nil {
		t.Fatal(err)
	}
	_, gone := e.sa("ws2", "gone")
	if err := e.svc.RevokeKey(e.ctx, "ws2", "gone", gone.ID); err != nil {
		t.Fatal(err)
	}
	_, rev, err := e.store.AuthRecords(e.ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	got := map[keystore.KeyHash]wire.Record{}
	err = e.store.ScanAuthRecords(e.ctx, func(h keystore.KeyHash, r wire.Record) error {
		got[h] = r
		return nil
	})
	if err != nil {
		t.Fatalf("ScanAuthRecords: %v", err)
	}
	if len(got) != len(want) {
		t.Errorf("scan saw %d records, want %d", len(got), len(want))
	}
	for h, id := range want {
		if got[h].KeyID != id || got[h].Rev != rev {
			t.Errorf("scan record for %s = %+v (rev %d)", id, got[h], rev)
		}
	}
	if got[hash(k)].State != keystore.KeyDeactivated {
		t.Errorf("scan: key of a deactivated account is %s", got[hash(k)].State)
	}
	stop := errors.New("stop")
	n := 0
	err = e.store.ScanAuthRecords(e.ctx, func(keystore.KeyHash, wire.Record) error { n++; return stop })
	if !errors.Is(err, stop) || n != 1 {
		t.Errorf("ScanAuthRecords did not stop on the callback's error: %v after %d", err, n)
	}
}

func testAudit(t *testing.T, e *env) {
	ctx := keystore.WithPrincipal(e.ctx, keystore.Operator("ops"))
	if _, err := e.svc.CreateWorkspace(ctx, "ws", 0); err != nil {
		t.Fatal(err)
	}
	_, k1 := e.sa("ws", "bot")
	k2, err := e.svc.CreateKey(ctx, "ws", "bot", keystore.CreateKeyInput{Name: "ci"})
	if err != nil {
		t.Fatal(err)
	}
	e.secrets = append(e.secrets, k2.Key)
	k3, err := e.svc.RotateKey(ctx, "ws", "bot", k2.ID, time.Minute, 0)
	if err != nil {
		t.Fatal(err)
	}
	e.secrets = append(e.secrets, k3.Key)
	mustDo := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	_, err = e.svc.DeactivateKey(ctx, "ws", "bot", k3.ID)
	mustDo(err)
	_, err = e.svc.ActivateKey(ctx, "ws", "bot", k3.ID)
	mustDo(err)
	mustDo(e.svc.RevokeKey(ctx, "ws", "bot", k1.ID))
	_, err = e.svc.SetGrant(ctx, "ws", "proj", "bot", keystore.RoleOwner)
	mustDo(err)
	mustDo(e.svc.RemoveGrant(ctx, "ws", "proj", "bot"))
	_, err = e.svc.DeactivateServiceAccount(ctx, "ws", "bot")
	mustDo(err)
	_, k4, err := e.svc.ReactivateServiceAccount(ctx, "ws", "bot")
	mustDo(err)
	e.secrets = append(e.secrets, k4.Key)
	_, _, err = e.svc.RevokeAllKeys(ctx, "ws", "bot")
	mustDo(err)
	desc := "x"
	_, err = e.svc.UpdateServiceAccount(ctx, "ws", "bot", &desc)
	mustDo(err)
	mustDo(e.svc.DeleteServiceAccount(ctx, "ws", "bot"))
	_, err = e.svc.RotateKey(ctx, "ws", "nobody", "key_AAAAAAAAAAAAAAAAAAAA", 0, 0) // refused: no audit row
	wantKind(t, "rotating for an unknown account", err, keystore.KindNotFound)

	evs, next, err := e.svc.ListAudit(e.ctx, keystore.AuditFilter{}, keystore.Page{})
	if err != nil || next != "" {
		t.Fatalf("ListAudit: %v, next %q", err, next)
	}
	var actions []string
	for i, ev := range evs {
		actions = append(actions, ev.Action)
		wantActor, wantName := "operator:ops", "ops"
		if ev.Action == "service_account.create" {
			wantActor, wantName = "operator:"+Operator, Operator
		}
		if ev.Principal == nil || ev.Principal.Kind != keystore.PrincipalOperator || ev.Principal.Name != wantName {
			t.Errorf("audit event %d principal = %+v, want operator %s", i, ev.Principal, wantName)
		}
		if ev.Actor != wantActor || ev.At.IsZero() || ev.Workspace != "ws" || ev.Target == "" || ev.ID <= 0 {
			t.Errorf("audit event %d = %+v", i, ev)
		}
		if i > 0 && ev.ID >= evs[i-1].ID {
			t.Errorf("audit not newest first at %d", i)
		}
	}
	want := []string{"service_account.delete", "service_account.update", "key.revoke_all", "service_account.reactivate",
		"service_account.deactivate", "grant.remove", "grant.set", "key.revoke", "key.activate", "key.deactivate",
		"key.rotate", "key.create", "service_account.create", "workspace.create"}
	if fmt.Sprint(actions) != fmt.Sprint(want) {
		t.Errorf("audit actions = %v\nwant %v", actions, want)
	}
	if d := evs[len(evs)-3].Details; d["last6"] != k2.Last6 || d["name"] != "ci" {
		t.Errorf("key.create details = %v", d)
	}
	e.noSecret("audit trail", evs)
}

func testPagination(t *testing.T, e *env) {
	e.ws("ws", 100)
	for i := range 7 {
		e.sa("ws", fmt.Sprintf("sa-%02d", 6-i))
	}
	var names []string
	p := keystore.Page{Size: 3}
	pages := 0
	for {
		items, next, err := e.svc.ListServiceAccounts(e.ctx, "ws", p)
		if err != nil {
			t.Fatalf("ListServiceAccounts: %v", err)
		}
		pages++
		for _, sa := range items {
			names = append(names, sa.Name)
		}
		if next == "" {
			break
		}
		p.Token = next
	}
	if pages != 3 || fmt.Sprint(names) != "[sa-00 sa-01 sa-02 sa-03 sa-04 sa-05 sa-06]" {
		t.Errorf("%d pages: %v", pages, names)
	}
	for i := range 4 {
		e.clock.Add(time.Millisecond)
		e.key("ws", "sa-00", keystore.CreateKeyInput{Name: fmt.Sprint("k", i)})
	}
	var keyNames []string
	p = keystore.Page{Size: 2}
	for {
		items, next, err := e.svc.ListKeys(e.ctx, "ws", "sa-00", p)
		if err != nil {
			t.Fatalf("ListKeys: %v", err)
		}
		for _, k := range items {
			keyNames = append(keyNames, k.Name)
		}
		if next == "" {
			break
		}
		p.Token = next
	}
	if fmt.Sprint(keyNames) != "[default k0 k1 k2 k3]" {
		t.Errorf("paged keys = %v", keyNames)
	}
	evs, next, err := e.svc.ListAudit(e.ctx, keystore.AuditFilter{}, keystore.Page{Size: 2})
	if err != nil || len(evs) != 2 || next == "" {
		t.Fatalf("ListAudit page 1 = %d, %q, %v", len(evs), next, err)
	}
	evs2, _, err := e.svc.ListAudit(e.ctx, keystore.AuditFilter{}, keystore.Page{Size: 2, Token: next})
	if err != nil || len(evs2) != 2 || evs2[0].ID >= evs[1].ID {
		t.Errorf("ListAudit page 2 = %+v, %v", evs2, err)
	}
	for _, p := range []keystore.Page{
		{Size: -1}, {Size: keystore.MaxPageSize + 1}, {Token: "!!!"}, {Token: "bm90LWpzb24"}, {Token: "WyJhIiwiYiIsImMiXQ"},
	} {
		_, _, err := e.svc.ListServiceAccounts(e.ctx, "ws", p)
		wantKind(t, fmt.Sprintf("ListServiceAccounts(%+v)", p), err, keystore.KindInvalid)
		_, _, err = e.svc.ListKeys(e.ctx, "ws", "sa-00", p)
		wantKind(t, fmt.Sprintf("ListKeys(%+v)", p), err, keystore.KindInvalid)
		_, _, err = e.svc.ListAudit(e.ctx, keystore.AuditFilter{}, p)
		wantKind(t, fmt.Sprintf("ListAudit(%+v)", p), err, keystore.KindInvalid)
	}
	all, _, err := e.svc.ListServiceAccounts(e.ctx, "ws", keystore.Page{Size: keystore.MaxPageSize})
	if err != nil || len(all) != 7 {
		t.Errorf("MaxPageSize page = %d, %v", len(all), err)
	}
}

func testSyncerError(t *testing.T, e *env) {
	e.sync.err = errors.New("redis is down")
	e.ws("ws", 0)
	sa, k, err := e.svc.CreateServiceAccount(e.ctx, "ws", keystore.CreateServiceAccountInput{Name: "bot", CreateKey: true})
	if err != nil {
		t.Fatalf("a Syncer error failed the call: %v", err)
	}
	if got, err := e.svc.GetServiceAccount(e.ctx, "ws", sa.ID); err != nil || got.ID != sa.ID {
		t.Errorf("the commit did not stand: %v", err)
	}
	if recs, _ := e.records(*k); len(recs) != 1 {
		t.Errorf("the key's record is missing after a Syncer error")
	}
}
