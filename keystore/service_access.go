package keystore

import (
	"context"
	"strings"
	"time"
)

// WorkspaceAdmin is a principal that administers a workspace: every account, key,
// project assignment and audit entry of it, nothing outside it.
type WorkspaceAdmin struct {
	Workspace string `json:"workspace"`
	// Principal is "sa:ID" or "person:NAME".
	Principal string `json:"principal"`
	// Name is the account's name@workspace or the person's name.
	Name      string    `json:"name"`
	CreatedAt time.Time `json:"created_at"`
}

// PersonRole gives a person (named by the authenticating proxy) a role in one project of
// a workspace (or in every project, "*"). As owner the person manages the project's
// assignments; the role gives no access to keys.
type PersonRole struct {
	Workspace string    `json:"workspace"`
	Project   string    `json:"project"`
	Person    string    `json:"person"`
	Role      Role      `json:"role"`
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
}

// resolveAdminRef turns "sa:ID-or-NAME" or "person:NAME" into the principal the
// workspace_admins table holds ("sa:ID" or "person:NAME") and its display name.
func resolveAdminRef(ctx context.Context, tx Tx, ws, ref string) (principal, name string, err error) {
	switch {
	case strings.HasPrefix(ref, PrincipalRefSA):
		sa, err := getAccount(ctx, tx, ws, strings.TrimPrefix(ref, PrincipalRefSA))
		if err != nil {
			return "", "", err
		}
		return PrincipalRefSA + sa.ID, sa.FullName, nil
	case strings.HasPrefix(ref, PrincipalRefPerson):
		person := strings.TrimPrefix(ref, PrincipalRefPerson)
		if err := ValidatePersonName(person); err != nil {
			return "", "", err
		}
		if _, err := getWorkspace(ctx, tx, ws); err != nil {
			return "", "", err
		}
		return ref, person, nil
	}
	return "", "", Invalid("principal", "must be sa:<id or name> or person:<name>")
}

// adminScope is the scope of a workspace-admin change: the account it names, if any.
func adminScope(ws, ref string) scope {
	sc := scope{ws: ws}
	if a, ok := strings.CutPrefix(ref, PrincipalRefSA); ok {
		sc.sa = a
	}
	return sc
}

// SetWorkspaceAdmin makes ref ("sa:<id or name>" or "person:<name>") an admin of ws;
// created is false when it already was one. A service account cannot make itself one.
func (s *Service) SetWorkspaceAdmin(ctx context.Context, ws, ref string) (a WorkspaceAdmin, created bool, err error) {
	err = s.update(ctx, "workspace_admin.set", adminScope(ws, ref), func(tx Tx, m *mutation) error {
		principal, name, err := resolveAdminRef(ctx, tx, ws, ref)
		if err != nil {
			return err
		}
		a = WorkspaceAdmin{Workspace: ws, Principal: principal, Name: name, CreatedAt: m.now}
		if created, err = tx.PutWorkspaceAdmin(ctx, a); err != nil {
			return err
		}
		if !created {
			// Nothing changed: no audit entry; the answer is the admin as stored.
			at, _, err := tx.WorkspaceAdminSince(ctx, ws, principal)
			a.CreatedAt = at
			return err
		}
		return m.audit(tx, ws, principal, map[string]string{"name": name})
	})
	return a, created, err
}

// RemoveWorkspaceAdmin removes an admin of ws.
func (s *Service) RemoveWorkspaceAdmin(ctx context.Context, ws, ref string) error {
	return s.update(ctx, "workspace_admin.remove", adminScope(ws, ref), func(tx Tx, m *mutation) error {
		principal, name, err := resolveAdminRef(ctx, tx, ws, ref)
		if err != nil {
			return err
		}
		found, err := tx.DeleteWorkspaceAdmin(ctx, ws, principal)
		if err != nil {
			return err
		}
		if !found {
			return NotFound("admin of workspace "+ws, ref)
		}
		return m.audit(tx, ws, principal, map[string]string{"name": name})
	})
}

// ListWorkspaceAdmins lists the admins of ws by principal.
func (s *Service) ListWorkspaceAdmins(ctx context.Context, ws string, p Page) ([]WorkspaceAdmin, string, error) {
	size, after, err := parsePage(p, 1)
	if err != nil {
		return nil, "", err
	}
	var out []WorkspaceAdmin
	err = s.view(ctx, "workspace_admin.list", scope{ws: ws}, func(tx Tx) error {
		if _, err := getWorkspace(ctx, tx, ws); err != nil {
			return err
		}
		out, err = tx.ListWorkspaceAdmins(ctx, ws, after[0], size+1)
		return err
	})
	if err != nil {
		return nil, "", err
	}
	out, next := nextPage(out, size, func(a WorkspaceAdmin) []string { return []string{a.Principal} })
	return out, next, nil
}

// SetPersonRole gives person role in project of ws ("*": every project).
func (s *Service) SetPersonRole(ctx context.Context, ws, project, person string, role Role) (PersonRole, error) {
	if err := ValidateProject(project); err != nil {
		return PersonRole{}, err
	}
	if err := ValidatePersonName(person); err != nil {
		return PersonRole{}, err
	}
	if _, err := ParseRole(string(role)); err != nil {
		return PersonRole{}, err
	}
	var r PersonRole
	err := s.update(ctx, "person_role.set", scope{ws: ws, project: project}, func(tx Tx, m *mutation) error {
		if _, err := getWorkspace(ctx, tx, ws); err != nil {
			return err
		}
		old, had, err := tx.GetPersonRole(ctx, ws, project, person)
		if err != nil {
			return err
		}
		r = PersonRole{Workspace: ws, Project: project, Person: person, Role: role, CreatedAt: m.now, UpdatedAt: m.now}
		details := map[string]string{"person": person, "project": project, "role": string(role)}
		if had {
			r.CreatedAt = old.CreatedAt
			details["previous_role"] = string(old.Role)
		}
		if err := tx.PutPersonRole(ctx, r); err != nil {
			return err
		}
		return m.audit(tx, ws, PrincipalRefPerson+person, details)
	})
	return r, err
}

// RemovePersonRole removes person's role in project of ws.
func (s *Service) RemovePersonRole(ctx context.Context, ws, project, person string) error {
	if err := ValidateProject(project); err != nil {
		return err
	}
	if err := ValidatePersonName(person); err != nil {
		return err
	}
	return s.update(ctx, "person_role.remove", scope{ws: ws, project: project}, func(tx Tx, m *mutation) error {
		if _, err := getWorkspace(ctx, tx, ws); err != nil {
			return err
		}
		old, had, err := tx.GetPersonRole(ctx, ws, project, person)
		if err != nil {
			return err
		}
		if !had {
			return NotFound("role of "+person+" in project", project)
		}
		if _, err := tx.DeletePersonRole(ctx, ws, project, person); err != nil {
			return err
		}
		return m.audit(tx, ws, PrincipalRefPerson+person, map[string]string{
			"person": person, "project": project, "previous_role": string(old.Role),
		})
	})
}

// ListPersonRoles lists people's roles in project and in "*" (at most MaxPageSize), by
// person then project.
func (s *Service) ListPersonRoles(ctx context.Context, ws, project string) ([]PersonRole, error) {
	if err := ValidateProject(project); err != nil {
		return nil, err
	}
	var out []PersonRole
	err := s.view(ctx, "grant.list", scope{ws: ws, project: project}, func(tx Tx) error {
		if _, err := getWorkspace(ctx, tx, ws); err != nil {
			return err
		}
		var err error
		out, err = tx.ListPersonRoles(ctx, ws, project, MaxPageSize)
		return err
	})
	return out, err
}

// GetWorkspaceAdmin reads one admin of ws, named as SetWorkspaceAdmin takes it.
func (s *Service) GetWorkspaceAdmin(ctx context.Context, ws, ref string) (WorkspaceAdmin, error) {
	var a WorkspaceAdmin
	err := s.view(ctx, "workspace_admin.list", scope{ws: ws}, func(tx Tx) error {
		principal, name, err := resolveAdminRef(ctx, tx, ws, ref)
		if err != nil {
			return err
		}
		ok, err := tx.IsWorkspaceAdmin(ctx, ws, principal)
		if err != nil {
			return err
		}
		if !ok {
			return NotFound("admin of workspace "+ws, ref)
		}
		a = WorkspaceAdmin{Workspace: ws, Principal: principal, Name: name}
		return nil
	})
	return a, err
}
