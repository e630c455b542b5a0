package keystore

import (
	"context"
	"errors"
	"strings"
)

// GroupDetail is a group with its grants, as GetGroup answers it.
type GroupDetail struct {
	Group
	Grants []GroupGrant `json:"grants"`
}

// getGroup reads group name of ws or answers KindInvalid / KindNotFound.
func getGroup(ctx context.Context, tx Tx, ws, name string) (Group, error) {
	if _, err := getWorkspace(ctx, tx, ws); err != nil {
		return Group{}, err
	}
	if err := ValidateSlug("group", name); err != nil {
		return Group{}, err
	}
	g, ok, err := tx.GetGroup(ctx, ws, name)
	if err != nil {
		return Group{}, err
	}
	if !ok {
		return Group{}, NotFound("group", FullName(name, ws))
	}
	return g, nil
}

// touchGroup marks the records of every key of the group's member accounts as changed:
// their roles include the group's grants.
func touchGroup(ctx context.Context, tx Tx, m *mutation, groupID string) error {
	hs, err := tx.GroupKeys(ctx, groupID)
	if err != nil {
		return err
	}
	m.hashes = append(m.hashes, hs...)
	return nil
}

// CreateGroup creates a group of ws named name (a slug, unique in the workspace).
func (s *Service) CreateGroup(ctx context.Context, ws, name, description string) (Group, error) {
	if err := ValidateSlug("name", name); err != nil {
		return Group{}, err
	}
	if err := ValidateDescription(description); err != nil {
		return Group{}, err
	}
	var g Group
	err := s.update(ctx, "group.create", scope{ws: ws}, func(tx Tx, m *mutation) error {
		if _, err := getWorkspace(ctx, tx, ws); err != nil {
			return err
		}
		id, err := newID(GroupIDPrefix)
		if err != nil {
			return err
		}
		g = Group{ID: id, Workspace: ws, Name: name, Description: description, CreatedAt: m.now, UpdatedAt: m.now}
		if err := tx.InsertGroup(ctx, g); err != nil {
			if errors.Is(err, ErrConflict) {
				return Errorf(KindNameTaken, "group %q already exists in workspace %q", name, ws)
			}
			return err
		}
		return m.audit(tx, ws, id, map[string]string{"group": name})
	})
	return g, err
}

// ListGroups lists the groups of ws by name, with their member counts.
func (s *Service) ListGroups(ctx context.Context, ws string, p Page) ([]Group, string, error) {
	size, after, err := parsePage(p, 1)
	if err != nil {
		return nil, "", err
	}
	var gs []Group
	err = s.view(ctx, "group.list", scope{ws: ws}, func(tx Tx) error {
		if _, err := getWorkspace(ctx, tx, ws); err != nil {
			return err
		}
		gs, err = tx.ListGroups(ctx, ws, after[0], size+1)
		return err
	})
	if err != nil {
		return nil, "", err
	}
	gs, next := nextPage(gs, size, func(g Group) []string { return []string{g.Name} })
	return gs, next, nil
}

// GetGroup reads a group of ws with its grants.
func (s *Service) GetGroup(ctx context.Context, ws, name string) (GroupDetail, error) {
	var d GroupDetail
	err := s.view(ctx, "group.read", scope{ws: ws}, func(tx Tx) error {
		g, err := getGroup(ctx, tx, ws, name)
		if err != nil {
			return err
		}
		d.Group = g
		d.Grants, err = tx.ListGroupGrants(ctx, g.ID)
		return err
	})
	if d.Grants == nil {
		d.Grants = []GroupGrant{}
	}
	return d, err
}

// UpdateGroup changes a group's description (nil: unchanged).
func (s *Service) UpdateGroup(ctx context.Context, ws, name string, description *string) (Group, error) {
	if description != nil {
		if err := ValidateDescription(*description); err != nil {
			return Group{}, err
		}
	}
	var g Group
	err := s.update(ctx, "group.update", scope{ws: ws}, func(tx Tx, m *mutation) error {
		var err error
		if g, err = getGroup(ctx, tx, ws, name); err != nil {
			return err
		}
		if description == nil || *description == g.Description {
			return nil
		}
		g.Description, g.UpdatedAt = *description, m.now
		if err := tx.UpdateGroup(ctx, g); err != nil {
			return err
		}
		return m.audit(tx, ws, g.ID, map[string]string{"group": name, "description": *description})
	})
	return g, err
}

// DeleteGroup removes a group, its members and its grants; its member accounts' records
// lose the group's roles.
func (s *Service) DeleteGroup(ctx context.Context, ws, name string) error {
	return s.update(ctx, "group.delete", scope{ws: ws}, func(tx Tx, m *mutation) error {
		g, err := getGroup(ctx, tx, ws, name)
		if err != nil {
			return err
		}
		if err := touchGroup(ctx, tx, m, g.ID); err != nil {
			return err
		}
		if err := tx.DeleteGroup(ctx, g.ID); err != nil {
			return err
		}
		return m.audit(tx, ws, g.ID, map[string]string{"group": name})
	})
}

// groupMember reads group of ws and resolves the member ref names, as resolveAdminRef does.
func groupMember(ctx context.Context, tx Tx, ws, group, ref string) (g Group, principal, name string, err error) {
	if g, err = getGroup(ctx, tx, ws, group); err != nil {
		return Group{}, "", "", err
	}
	principal, name, err = resolveAdminRef(ctx, tx, ws, ref)
	return g, principal, name, err
}

// AddGroupMember adds ref ("sa:<id, name or name@ws>" or "person:<name>") to group of
// ws; created is false when it was a member already. The account's records gain the
// group's roles. A service account cannot add itself.
func (s *Service) AddGroupMember(ctx context.Context, ws, group, ref string) (gm GroupMember, created bool, err error) {
	err = s.update(ctx, "group_member.add", adminScope(ws, ref), func(tx Tx, m *mutation) error {
		g, principal, name, err := groupMember(ctx, tx, ws, group, ref)
		if err != nil {
			return err
		}
		saID, isSA := strings.CutPrefix(principal, PrincipalRefSA)
		if !isSA {
			saID = ""
		}
		gm = GroupMember{Workspace: ws, Group: g.Name, GroupID: g.ID, Principal: principal, Name: name,
			ServiceAccountID: saID, CreatedAt: m.now}
		if created, err = tx.PutGroupMember(ctx, gm); err != nil || !created {
			return err // nothing changed: no audit entry
		}
		if saID != "" {
			if err := touchAccount(ctx, tx, m, saID); err != nil {
				return err
			}
		}
		return m.audit(tx, ws, g.ID, map[string]string{"group": g.Name, "member": principal, "name": name})
	})
	return gm, created, err
}

// RemoveGroupMember removes ref from group of ws; the account's records lose the group's roles.
func (s *Service) RemoveGroupMember(ctx context.Context, ws, group, ref string) error {
	return s.update(ctx, "group_member.remove", scope{ws: ws}, func(tx Tx, m *mutation) error {
		g, principal, name, err := groupMember(ctx, tx, ws, group, ref)
		if err != nil {
			return err
		}
		found, err := tx.DeleteGroupMember(ctx, g.ID, principal)
		if err != nil {
			return err
		}
		if !found {
			return NotFound("member of group "+g.Name, ref)
		}
		if saID, ok := strings.CutPrefix(principal, PrincipalRefSA); ok {
			if err := touchAccount(ctx, tx, m, saID); err != nil {
				return err
			}
		}
		return m.audit(tx, ws, g.ID, map[string]string{"group": g.Name, "member": principal, "name": name})
	})
}

// ListGroupMembers lists the members of group of ws by principal.
func (s *Service) ListGroupMembers(ctx context.Context, ws, group string, p Page) ([]GroupMember, string, error) {
	size, after, err := parsePage(p, 1)
	if err != nil {
		return nil, "", err
	}
	var ms []GroupMember
	err = s.view(ctx, "group.read", scope{ws: ws}, func(tx Tx) error {
		g, err := getGroup(ctx, tx, ws, group)
		if err != nil {
			return err
		}
		ms, err = tx.ListGroupMembers(ctx, g.ID, after[0], size+1)
		return err
	})
	if err != nil {
		return nil, "", err
	}
	ms, next := nextPage(ms, size, func(m GroupMember) []string { return []string{m.Principal} })
	return ms, next, nil
}

// SetGroupGrant gives group of ws role in project ("*": every project); every member
// account's records are rewritten. A project owner may do it on its project; a service
// account may not for a group it belongs to.
func (s *Service) SetGroupGrant(ctx context.Context, ws, project, group string, role Role) (GroupGrant, error) {
	if err := ValidateProject(project); err != nil {
		return GroupGrant{}, err
	}
	if _, err := ParseRole(string(role)); err != nil {
		return GroupGrant{}, err
	}
	var gg GroupGrant
	err := s.update(ctx, "group_grant.set", scope{ws: ws, project: project, group: group}, func(tx Tx, m *mutation) error {
		g, err := getGroup(ctx, tx, ws, group)
		if err != nil {
			return err
		}
		old, had, err := tx.GetGroupGrant(ctx, g.ID, project)
		if err != nil {
			return err
		}
		gg = GroupGrant{Workspace: ws, Project: project, Group: g.Name, GroupID: g.ID, Role: role, CreatedAt: m.now, UpdatedAt: m.now}
		details := map[string]string{"group": g.Name, "project": project, "role": string(role)}
		if had {
			gg.CreatedAt = old.CreatedAt
			details["previous_role"] = string(old.Role)
		}
		if err := tx.PutGroupGrant(ctx, gg); err != nil {
			return err
		}
		if err := touchGroup(ctx, tx, m, g.ID); err != nil {
			return err
		}
		return m.audit(tx, ws, g.ID, details)
	})
	return gg, err
}

// RemoveGroupGrant removes group's grant on project of ws; every member account's
// records are rewritten.
func (s *Service) RemoveGroupGrant(ctx context.Context, ws, project, group string) error {
	if err := ValidateProject(project); err != nil {
		return err
	}
	return s.update(ctx, "group_grant.remove", scope{ws: ws, project: project}, func(tx Tx, m *mutation) error {
		g, err := getGroup(ctx, tx, ws, group)
		if err != nil {
			return err
		}
		old, had, err := tx.GetGroupGrant(ctx, g.ID, project)
		if err != nil {
			return err
		}
		if !had {
			return NotFound("grant of group "+g.Name+" on project", project)
		}
		if _, err := tx.DeleteGroupGrant(ctx, g.ID, project); err != nil {
			return err
		}
		if err := touchGroup(ctx, tx, m, g.ID); err != nil {
			return err
		}
		return m.audit(tx, ws, g.ID, map[string]string{"group": g.Name, "project": project, "previous_role": string(old.Role)})
	})
}

// ListProjectGroupGrants lists the groups' grants on project and on "*" (at most
// MaxPageSize), by group name then project.
func (s *Service) ListProjectGroupGrants(ctx context.Context, ws, project string) ([]GroupGrant, error) {
	if err := ValidateProject(project); err != nil {
		return nil, err
	}
	var out []GroupGrant
	err := s.view(ctx, "grant.list", scope{ws: ws, project: project}, func(tx Tx) error {
		if _, err := getWorkspace(ctx, tx, ws); err != nil {
			return err
		}
		var err error
		out, err = tx.ListProjectGroupGrants(ctx, ws, project, MaxPageSize)
		return err
	})
	return out, err
}

// ListAccountGroupGrants lists the grants an account holds through the groups it belongs
// to, in every project, by group name then project: the roles that add to its own grants.
func (s *Service) ListAccountGroupGrants(ctx context.Context, ws, saRef string) ([]GroupGrant, error) {
	var out []GroupGrant
	err := s.view(ctx, "service_account.read", scope{ws: ws, sa: saRef}, func(tx Tx) error {
		sa, err := getAccount(ctx, tx, ws, saRef)
		if err != nil {
			return err
		}
		out, err = tx.MemberGroupGrants(ctx, ws, PrincipalRefSA+sa.ID, "")
		return err
	})
	return out, err
}
