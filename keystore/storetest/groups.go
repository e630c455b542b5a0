package storetest

import (
	"context"
	"slices"
	"strings"
	"testing"

	"github.com/sagate/sagate/keystore"
	"github.com/sagate/sagate/keystore/wire"
)

// testGroups: a group's life (create, read, list, update, delete), its members in every
// spelling, and its grants: each change rewrites exactly its member accounts' records,
// and a member's role is the highest of its own grants and its groups'.
func testGroups(t *testing.T, e *env) {
	e.ws("ws", 0)
	e.ws("other", 0)
	ann, annKey := e.sa("ws", "ann")
	bob, bobKey := e.sa("ws", "bob")
	_, outKey := e.sa("ws", "outsider")
	e.sa("other", "far")
	must := func(doing string, err error) {
		t.Helper()
		if err != nil {
			t.Fatalf("%s: %v", doing, err)
		}
	}
	g, err := e.svc.CreateGroup(e.ctx, "ws", "ml", "the ML team")
	if err != nil || g.Name != "ml" || g.Workspace != "ws" || !strings.HasPrefix(g.ID, keystore.GroupIDPrefix) || g.Description != "the ML team" {
		t.Fatalf("CreateGroup = %+v, %v", g, err)
	}
	_, err = e.svc.CreateGroup(e.ctx, "ws", "ml", "")
	wantKind(t, "CreateGroup with a taken name", err, keystore.KindNameTaken)
	_, err = e.svc.CreateGroup(e.ctx, "ws", "Not A Slug", "")
	wantKind(t, "CreateGroup with a bad name", err, keystore.KindInvalid)
	_, err = e.svc.CreateGroup(e.ctx, "nope", "x", "")
	wantKind(t, "CreateGroup in a missing workspace", err, keystore.KindNotFound)
	_, err = e.svc.CreateGroup(e.ctx, "other", "ml", "")
	must("the same name in another workspace", err)
	e.expectNoChange("creating groups")

	// Members, in every spelling; the second add of one member changes nothing.
	for _, ref := range []string{"sa:ann", "sa:" + bob.ID, "person:pat"} {
		m, created, err := e.svc.AddGroupMember(e.ctx, "ws", "ml", ref)
		if err != nil || !created || m.Group != "ml" {
			t.Fatalf("AddGroupMember(%s) = %+v, %v, %v", ref, m, created, err)
		}
	}
	e.sync.take()
	if _, created, err := e.svc.AddGroupMember(e.ctx, "ws", "ml", "sa:ann@ws"); err != nil || created {
		t.Fatalf("AddGroupMember(sa:ann@ws) again = %v, %v", created, err)
	}
	e.expectNoChange("adding a member again")
	for _, ref := range []string{"sa:far@other", "sa:nobody", "group:x", "person:"} {
		_, _, err := e.svc.AddGroupMember(e.ctx, "ws", "ml", ref)
		if k := keystore.KindOf(err); k != keystore.KindInvalid && k != keystore.KindNotFound {
			t.Errorf("AddGroupMember(%q) = %v, want invalid or not found", ref, err)
		}
	}
	_, _, err = e.svc.AddGroupMember(e.ctx, "ws", "nope", "sa:ann")
	wantKind(t, "AddGroupMember to a missing group", err, keystore.KindNotFound)
	ms, _, err := e.svc.ListGroupMembers(e.ctx, "ws", "ml", keystore.Page{})
	must("ListGroupMembers", err)
	names := []string{}
	for _, m := range ms {
		names = append(names, m.Name)
	}
	if slices.Sort(names); strings.Join(names, ",") != "ann@ws,bob@ws,pat" || !slices.IsSortedFunc(ms, func(a, b keystore.GroupMember) int {
		return strings.Compare(a.Principal, b.Principal)
	}) {
		t.Errorf("members = %+v, want ann@ws, bob@ws and pat by principal", ms)
	}

	// A group grant rewrites every member account's records, and roles add up.
	_, err = e.svc.SetGrant(e.ctx, "ws", "p1", "ann", keystore.RoleViewer)
	must("SetGrant ann", err)
	e.sync.take()
	gg, err := e.svc.SetGroupGrant(e.ctx, "ws", "p1", "ml", keystore.RoleOwner)
	if err != nil || gg.Group != "ml" || gg.Role != keystore.RoleOwner || gg.Project != "p1" {
		t.Fatalf("SetGroupGrant = %+v, %v", gg, err)
	}
	e.expectChange("group_grant.set", hash(annKey), hash(bobKey))
	_, err = e.svc.SetGroupGrant(e.ctx, "ws", "*", "ml", keystore.RoleViewer)
	must("SetGroupGrant *", err)
	e.expectChange("group_grant.set", hash(annKey), hash(bobKey))
	recs, _ := e.records(annKey, bobKey, outKey)
	for _, c := range []struct {
		key     keystore.IssuedKey
		project string
		want    keystore.Role
	}{{annKey, "p1", keystore.RoleOwner}, {annKey, "p2", keystore.RoleViewer}, {bobKey, "p1", keystore.RoleOwner}, {outKey, "p1", ""}} {
		r := recs[hash(c.key)]
		if got, _ := r.RoleFor(c.project); got != c.want {
			t.Errorf("record of …%s: role in %s = %q, want %q", c.key.Last6, c.project, got, c.want)
		}
	}
	var scanned int
	must("ScanAuthRecords", e.store.ScanAuthRecords(e.ctx, func(h keystore.KeyHash, r wire.Record) error {
		if h == hash(annKey) {
			scanned++
			if got, _ := r.RoleFor("p1"); got != keystore.RoleOwner {
				t.Errorf("scanned record of ann: role in p1 = %q, want owner", got)
			}
		}
		return nil
	}))
	if scanned != 1 {
		t.Errorf("ScanAuthRecords saw ann's key %d times", scanned)
	}
	d, err := e.svc.GetGroup(e.ctx, "ws", "ml")
	if err != nil || d.Members != 3 || len(d.Grants) != 2 || d.Grants[0].Project != "*" || d.Grants[1].Role != keystore.RoleOwner {
		t.Fatalf("GetGroup = %+v, %v", d, err)
	}
	pg, err := e.svc.ListProjectGroupGrants(e.ctx, "ws", "p1")
	if err != nil || len(pg) != 2 || pg[0].Group != "ml" {
		t.Fatalf("ListProjectGroupGrants = %+v, %v", pg, err)
	}

	// Roles through the group count for the access rules: bob and pat own p1.
	pat := keystore.WithPrincipal(context.Background(), keystore.Person("pat", "10.0.0.1"))
	for name, ctx := range map[string]context.Context{"bob": e.caller(bobKey), "pat": pat} {
		if _, err := e.svc.SetGrant(ctx, "ws", "p1", "outsider", keystore.RoleViewer); err != nil {
			t.Errorf("%s, owner of p1 through ml, assigns on p1: %v", name, err)
		}
		_, err := e.svc.SetGrant(ctx, "ws", "p2", "outsider", keystore.RoleViewer)
		wantKind(t, name+" assigns on p2", err, keystore.KindPermissionDenied)
		reach, err := e.svc.Reach(ctx)
		if err != nil || len(reach.Owner) != 1 || reach.Owner[0] != (keystore.ProjectRef{Workspace: "ws", Project: "p1"}) {
			t.Errorf("%s's reach = %+v, %v", name, reach, err)
		}
	}
	e.sync.take()
	// A member cannot raise its own group; a non-member owner of p1 may assign the group there.
	_, err = e.svc.SetGroupGrant(e.caller(bobKey), "ws", "p1", "ml", keystore.RoleContributor)
	wantKind(t, "bob re-grants his own group", err, keystore.KindPermissionDenied)
	_, err = e.svc.SetGrant(e.ctx, "ws", "p1", "outsider", keystore.RoleOwner)
	must("outsider owns p1", err)
	e.sync.take()
	out := e.caller(outKey)
	_, err = e.svc.SetGroupGrant(out, "ws", "p1", "ml", keystore.RoleContributor)
	must("the owner of p1 assigns ml on p1", err)
	e.expectChange("group_grant.set", hash(annKey), hash(bobKey))
	for _, project := range []string{"p2", "*"} {
		_, err = e.svc.SetGroupGrant(out, "ws", project, "ml", keystore.RoleViewer)
		wantKind(t, "the owner of p1 assigns ml on "+project, err, keystore.KindPermissionDenied)
	}
	_, _, err = e.svc.AddGroupMember(out, "ws", "ml", "sa:outsider")
	wantKind(t, "a project owner adds a member", err, keystore.KindPermissionDenied)
	e.expectNoChange("refused group changes")
	must("make bob admin", func() error { _, _, err := e.svc.SetWorkspaceAdmin(e.ctx, "ws", "sa:bob"); return err }())
	_, _, err = e.svc.AddGroupMember(e.caller(bobKey), "ws", "ml", "sa:outsider")
	must("admin bob adds outsider", err)
	e.expectChange("group_member.add", hash(outKey))
	_, err = e.svc.SetGroupGrant(e.caller(bobKey), "ws", "p1", "ml", keystore.RoleOwner)
	wantKind(t, "admin bob re-grants his own group", err, keystore.KindPermissionDenied)
	must("remove outsider", e.svc.RemoveGroupMember(e.caller(bobKey), "ws", "ml", "sa:outsider"))
	e.expectChange("group_member.remove", hash(outKey))

	// Removing a member, deleting an account, deleting the group: the roles go.
	must("remove ann", e.svc.RemoveGroupMember(e.ctx, "ws", "ml", "sa:"+ann.ID))
	e.expectChange("group_member.remove", hash(annKey))
	err = e.svc.RemoveGroupMember(e.ctx, "ws", "ml", "sa:ann")
	wantKind(t, "removing a non-member", err, keystore.KindNotFound)
	recs, _ = e.records(annKey)
	annRec := recs[hash(annKey)]
	if got, _ := annRec.RoleFor("p1"); got != keystore.RoleViewer {
		t.Errorf("ann's role in p1 after leaving ml = %q, want her own viewer", got)
	}
	must("remove the grant on *", e.svc.RemoveGroupGrant(e.ctx, "ws", "*", "ml"))
	e.expectChange("group_grant.remove", hash(bobKey))
	desc := "renamed team"
	if u, err := e.svc.UpdateGroup(e.ctx, "ws", "ml", &desc); err != nil || u.Description != desc {
		t.Fatalf("UpdateGroup = %+v, %v", u, err)
	}
	gs, _, err := e.svc.ListGroups(e.ctx, "ws", keystore.Page{})
	if err != nil || len(gs) != 1 || gs[0].Description != desc || gs[0].Members != 2 {
		t.Fatalf("ListGroups = %+v, %v", gs, err)
	}
	must("delete bob", e.svc.DeleteServiceAccount(e.ctx, "ws", "bob"))
	e.sync.take()
	if d, err := e.svc.GetGroup(e.ctx, "ws", "ml"); err != nil || d.Members != 1 {
		t.Fatalf("after deleting bob, GetGroup = %+v, %v", d, err)
	}
	must("add ann back", func() error { _, _, err := e.svc.AddGroupMember(e.ctx, "ws", "ml", "sa:ann"); return err }())
	e.sync.take()
	must("DeleteGroup", e.svc.DeleteGroup(e.ctx, "ws", "ml"))
	e.expectChange("group.delete", hash(annKey))
	_, err = e.svc.GetGroup(e.ctx, "ws", "ml")
	wantKind(t, "GetGroup after delete", err, keystore.KindNotFound)
	reach, err := e.svc.Reach(pat)
	if err != nil || len(reach.Owner) != 0 {
		t.Errorf("pat's reach after the group went = %+v, %v", reach, err)
	}

	seen := map[string]bool{}
	evs, _, err := e.svc.ListAudit(e.ctx, keystore.AuditFilter{Workspace: "ws"}, keystore.Page{Size: keystore.MaxPageSize})
	must("ListAudit", err)
	for _, ev := range evs {
		seen[ev.Action] = true
	}
	for _, a := range []string{"group.create", "group.update", "group.delete", "group_member.add", "group_member.remove", "group_grant.set", "group_grant.remove"} {
		if !seen[a] {
			t.Errorf("no audit entry for %s", a)
		}
	}
}
