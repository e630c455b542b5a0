package wire

import "slices"

// The one rule for a principal's role in a project. A principal's grants in a workspace
// are a map project → role, where the project "*" covers every project: its own grants
// (a service account's grants, a person's roles) and those of the groups it belongs to,
// merged by AddRole. RoleIn reads the role in one project from that map. The records the
// sidecars read carry the merged map (Record.RoleFor calls RoleIn), and the access rules
// (keystore) build the same map in the transaction of the call they check, so the sidecar
// and the admin answer the same question the same way.

// AddRole records that a principal holds role on project (a project or "*") and returns
// roles, allocated if nil. Of two roles on the same project the higher is kept: grants
// add up, as cloud IAM roles do, so no grant, own or through a group, lowers another.
func AddRole(roles map[string]Role, project string, role Role) map[string]Role {
	if roles == nil {
		roles = make(map[string]Role, 2)
	}
	if old, ok := roles[project]; !ok || role.Rank() > old.Rank() {
		roles[project] = role
	}
	return roles
}

// RoleIn returns the role in project of a principal whose grants are roles (merged by
// AddRole): the higher of its role on project and its role on "*". ok is false when no
// grant covers the project. It allocates nothing: the sidecar calls it on every request.
func RoleIn(roles map[string]Role, project string) (role Role, ok bool) {
	role, ok = roles[project]
	if all, star := roles[AllProjects]; star && (!ok || all.Rank() > role.Rank()) {
		return all, true
	}
	return role, ok
}

// SortedProjects appends the projects of roles to into, sorted: the order in which a
// record's roles are encoded and fingerprinted.
func SortedProjects(roles map[string]Role, into []string) []string {
	for p := range roles {
		into = append(into, p)
	}
	slices.Sort(into)
	return into
}
