package main

import (
	"strings"
	"testing"

	"github.com/sagate/sagate/admin"
	"github.com/sagate/sagate/admin/admintest"
	"github.com/sagate/sagate/keystore"
)

// TestCLIGroups: a group's life through the CLI, and its role reaching its members' records
// in Redis as soon as each command returns.
func TestCLIGroups(t *testing.T) {
	e := admintest.Start(t, admintest.Options{})
	ok(t, e, "", "workspace", "create", "ml")
	bot := okJSON[admin.ServiceAccountWithKey](t, e, "ml", "sa", "create", "bot", "-o", "json")
	key := bot.APIKey.Key

	g := okJSON[keystore.Group](t, e, "ml", "group", "create", "ops", "--description", "on call", "-o", "json")
	if g.Name != "ops" || g.Description != "on call" {
		t.Fatalf("group create: %+v", g)
	}
	m := okJSON[keystore.GroupMember](t, e, "ml", "group", "add", "ops", "sa:bot", "-o", "json")
	if m.Name != "bot@ml" {
		t.Fatalf("group add: %+v", m)
	}
	ok(t, e, "ml", "group", "add", "ops", "person:alice")
	gg := okJSON[keystore.GroupGrant](t, e, "ml", "project", "assign", "vision", "--group", "ops", "--role", "owner", "-o", "json")
	if gg.Group != "ops" || gg.Role != keystore.RoleOwner {
		t.Fatalf("project assign --group: %+v", gg)
	}
	rec := e.LiveRecord(t, key)
	if role, _ := rec.RoleFor("vision"); role != keystore.RoleOwner {
		t.Fatalf("bot's record after the group's grant: role in vision %q, want owner", role)
	}
	r := ok(t, e, "ml", "group", "show", "ops")
	for _, want := range []string{"ops", "vision", "owner", "bot@ml", "alice"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("group show lacks %q: %s", want, r.stdout)
		}
	}
	if r := ok(t, e, "ml", "group", "list"); !strings.Contains(r.stdout, "ops") || !strings.Contains(r.stdout, "2") {
		t.Errorf("group list: %s", r.stdout)
	}
	if r := ok(t, e, "ml", "project", "list", "vision"); !strings.Contains(r.stdout, "ops") {
		t.Errorf("project list vision does not show the group: %s", r.stdout)
	}
	ps := okJSON[admin.List[keystore.ProjectSummary]](t, e, "ml", "project", "list", "-o", "json").Items
	if len(ps) != 1 || ps[0].Project != "vision" || ps[0].Groups != 1 {
		t.Errorf("project list -o json: %+v", ps)
	}
	if r := ok(t, e, "ml", "project", "list"); !strings.Contains(r.stdout, "vision") || !strings.Contains(r.stdout, "GROUPS") {
		t.Errorf("project list: %s", r.stdout)
	}
	ok(t, e, "ml", "group", "update", "ops", "--description", "nights")
	failing(t, e, "ml", "not found", "group", "add", "nope", "sa:bot")
	failingWith(t, e, 2, "ml", "not both", "project", "assign", "vision", "--group", "ops", "--person", "x", "--role", "viewer")

	ok(t, e, "ml", "group", "remove", "ops", "sa:bot")
	rec = e.LiveRecord(t, key)
	if role, ok := rec.RoleFor("vision"); ok {
		t.Fatalf("bot's record after leaving ops: role in vision %q", role)
	}
	ok(t, e, "ml", "group", "add", "ops", "sa:bot")
	ok(t, e, "ml", "project", "unassign", "vision", "--group", "ops")
	rec = e.LiveRecord(t, key)
	if role, ok := rec.RoleFor("vision"); ok {
		t.Fatalf("bot's record after unassigning ops: role in vision %q", role)
	}
	res := okJSON[actionResult](t, e, "ml", "group", "delete", "ops", "-o", "json")
	if res.Action != "deleted" || res.Group != "ops" {
		t.Fatalf("group delete -o json: %+v", res)
	}
	failing(t, e, "ml", "not found", "group", "show", "ops")
}

// TestCLIOwnership: sa create --owner, sa update --owner, sa list --owner, and who created
// an account, in the table and in JSON.
func TestCLIOwnership(t *testing.T) {
	e := admintest.Start(t, admintest.Options{})
	ok(t, e, "", "workspace", "create", "ml")
	lead := okJSON[admin.ServiceAccountWithKey](t, e, "ml", "sa", "create", "lead", "--no-key", "-o", "json").ServiceAccount
	a := okJSON[admin.ServiceAccountWithKey](t, e, "ml", "sa", "create", "etl", "--owner", "person:alice", "-o", "json").ServiceAccount
	if a.Owner != "person:alice" || a.CreatedBy != "operator:admin" {
		t.Fatalf("sa create --owner: %+v", a)
	}
	ok(t, e, "ml", "sa", "create", "ingest", "--no-key")
	b := okJSON[keystore.ServiceAccount](t, e, "ml", "sa", "update", "ingest", "--owner", "sa:lead", "-o", "json")
	if b.Owner != "sa:"+lead.ID {
		t.Fatalf("sa update --owner sa:lead: %+v", b)
	}
	list := okJSON[admin.List[keystore.ServiceAccount]](t, e, "ml", "sa", "list", "--owner", "sa:lead", "-o", "json").Items
	if len(list) != 1 || list[0].Name != "ingest" {
		t.Fatalf("sa list --owner sa:lead: %+v", list)
	}
	if r := ok(t, e, "ml", "sa", "list", "--owner", "person:alice"); !strings.Contains(r.stdout, "etl@ml") || strings.Contains(r.stdout, "ingest") {
		t.Fatalf("sa list --owner person:alice: %s", r.stdout)
	}
	if r := ok(t, e, "ml", "sa", "show", "etl"); !strings.Contains(r.stdout, "person:alice") || !strings.Contains(r.stdout, "operator:admin") {
		t.Fatalf("sa show does not show the owner and creator: %s", r.stdout)
	}
	failingWith(t, e, 2, "ml", "--description, --owner or --rate-limit", "sa", "update", "etl")
	failing(t, e, "ml", "must be sa:", "sa", "list", "--owner", "alice")
	failing(t, e, "ml", "nobody", "sa", "list", "--owner", "sa:nobody")

	// --state, with --owner or alone, filtered by the admin.
	ok(t, e, "ml", "sa", "deactivate", "etl")
	if l := okJSON[admin.List[keystore.ServiceAccount]](t, e, "ml", "sa", "list", "--state", "deactivated", "-o", "json").Items; len(l) != 1 || l[0].Name != "etl" {
		t.Fatalf("sa list --state deactivated: %+v", l)
	}
	if r := ok(t, e, "ml", "sa", "list", "--state", "active"); strings.Contains(r.stdout, "etl@ml") || !strings.Contains(r.stdout, "ingest@ml") {
		t.Fatalf("sa list --state active: %s", r.stdout)
	}
	if l := okJSON[admin.List[keystore.ServiceAccount]](t, e, "ml", "sa", "list", "--owner", "person:alice", "--state", "active", "-o", "json").Items; len(l) != 0 {
		t.Fatalf("sa list --owner person:alice --state active: %+v", l)
	}
	failing(t, e, "ml", "state", "sa", "list", "--state", "paused")
}
