package admin_test

import (
	"context"
	"fmt"

	"github.com/sagate/sagate/keystore"
)

// groupMatrixRoutes are the access matrix's routes of groups: the group g1 of ml (made
// here) is managed by admins, and assigned on p1 by p1's owners too. adm and own are the
// matrix's callers allowed as workspace admin and as owner of p1.
func groupMatrixRoutes(svc *keystore.Service, op context.Context, must func(string, error), adm, own []string) []matrixRoute {
	const ws = "/v1/workspaces/ml"
	_, err := svc.CreateGroup(op, "ml", "g1", "")
	must("creating g1", err)
	_, _, err = svc.AddGroupMember(op, "ml", "g1", "sa:target")
	must("adding target to g1", err)
	fixed := func(method, path, body string) func(int) (string, string, string) {
		return func(int) (string, string, string) { return method, path, body }
	}
	return []matrixRoute{
		{"create group", adm, 201, func(n int) (string, string, string) {
			return "POST", ws + "/groups", fmt.Sprintf(`{"name": "g-%d"}`, n)
		}},
		{"list groups", adm, 200, fixed("GET", ws+"/groups", "")},
		{"read group", adm, 200, fixed("GET", ws+"/groups/g1", "")},
		{"update group", adm, 200, func(n int) (string, string, string) {
			return "PATCH", ws + "/groups/g1", fmt.Sprintf(`{"description": "d%d"}`, n)
		}},
		{"delete group", adm, 204, func(n int) (string, string, string) {
			name := fmt.Sprintf("del-%d", n)
			_, err := svc.CreateGroup(op, "ml", name, "")
			must("creating "+name, err)
			return "DELETE", ws + "/groups/" + name, ""
		}},
		{"list members", adm, 200, fixed("GET", ws+"/groups/g1/members", "")},
		{"add member", adm, 201, func(n int) (string, string, string) {
			return "PUT", fmt.Sprintf("%s/groups/g1/members/person:m%d", ws, n), ""
		}},
		{"remove member", adm, 204, func(n int) (string, string, string) {
			_, _, err := svc.AddGroupMember(op, "ml", "g1", fmt.Sprintf("person:x%d", n))
			must("adding a member", err)
			return "DELETE", fmt.Sprintf("%s/groups/g1/members/person:x%d", ws, n), ""
		}},
		{"assign group", own, 200, fixed("PUT", ws+"/projects/p1/groups/g1", `{"role": "viewer"}`)},
		{"unassign group", own, 204, func(int) (string, string, string) {
			_, err := svc.SetGroupGrant(op, "ml", "p1", "g1", keystore.RoleContributor)
			must("assigning g1", err)
			return "DELETE", ws + "/projects/p1/groups/g1", ""
		}},
		{"assign group on another project", adm, 200, fixed("PUT", ws+"/projects/p2/groups/g1", `{"role": "viewer"}`)},
		{"assign group on every project", adm, 200, fixed("PUT", ws+"/projects/*/groups/g1", `{"role": "viewer"}`)},
		{"list projects", adm, 200, fixed("GET", ws+"/projects", "")},
	}
}
