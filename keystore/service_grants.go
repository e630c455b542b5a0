package keystore

import (
	"context"
	"strconv"
)

// SetGrant grants or changes the account's role in project ("*": every project).
// Grants may be set on a deactivated account: they survive deactivation and reactivation.
func (s *Service) SetGrant(ctx context.Context, ws, project, saRef string, role Role) (Grant, error) {
	if err := ValidateProject(project); err != nil {
		return Grant{}, err
	}
	if _, err := ParseRole(string(role)); err != nil {
		return Grant{}, err
	}
	var g Grant
	err := s.update(ctx, "grant.set", scope{ws: ws, project: project, sa: saRef}, func(tx Tx, m *mutation) error {
		sa, err := getAccount(ctx, tx, ws, saRef)
		if err != nil {
			return err
		}
		old, had, err := tx.GetGrant(ctx, sa.ID, project)
		if err != nil {
			return err
		}
		g = Grant{Workspace: ws, Project: project, ServiceAccountID: sa.ID, ServiceAccount: sa.FullName,
			Role: role, CreatedAt: m.now, UpdatedAt: m.now}
		details := map[string]string{"service_account": sa.Name, "project": project, "role": string(role)}
		if had {
			g.CreatedAt = old.CreatedAt
			details["previous_role"] = string(old.Role)
		}
		if err := tx.PutGrant(ctx, g); err != nil {
			return err
		}
		if err := touchAccount(ctx, tx, m, sa.ID); err != nil {
			return err
		}
		return m.audit(tx, ws, sa.ID, details)
	})
	return g, err
}

// RemoveGrant removes the account's grant on project.
func (s *Service) RemoveGrant(ctx context.Context, ws, project, saRef string) error {
	if err := ValidateProject(project); err != nil {
		return err
	}
	return s.update(ctx, "grant.remove", scope{ws: ws, project: project, sa: saRef}, func(tx Tx, m *mutation) error {
		sa, err := getAccount(ctx, tx, ws, saRef)
		if err != nil {
			return err
		}
		old, had, err := tx.GetGrant(ctx, sa.ID, project)
		if err != nil {
			return err
		}
		if !had {
			return NotFound("grant of "+sa.FullName+" on project", project)
		}
		if _, err := tx.DeleteGrant(ctx, sa.ID, project); err != nil {
			return err
		}
		if err := touchAccount(ctx, tx, m, sa.ID); err != nil {
			return err
		}
		return m.audit(tx, ws, sa.ID, map[string]string{
			"service_account": sa.Name, "project": project, "previous_role": string(old.Role),
		})
	})
}

// touchAccount marks every unrevoked key of saID as changed: its record carries the roles.
func touchAccount(ctx context.Context, tx Tx, m *mutation, saID string) error {
	keys, err := tx.UnrevokedKeys(ctx, saID)
	if err != nil {
		return err
	}
	m.touch(keys...)
	return nil
}

// ListGrants lists who has which role in project: explicit grants on it and "*" grants,
// ordered by service account name, then project (an account may appear twice: once with
// its explicit grant and once with its "*" grant; the higher of the two is its role, see
// Record.RoleFor).
func (s *Service) ListGrants(ctx context.Context, ws, project string, p Page) ([]Grant, string, error) {
	if err := ValidateProject(project); err != nil {
		return nil, "", err
	}
	size, after, err := parsePage(p, 2)
	if err != nil {
		return nil, "", err
	}
	var rows []GrantRow
	err = s.view(ctx, "grant.list", scope{ws: ws, project: project}, func(tx Tx) error {
		if _, err := getWorkspace(ctx, tx, ws); err != nil {
			return err
		}
		rows, err = tx.ListGrants(ctx, ws, project, after[0], after[1], size+1)
		return err
	})
	if err != nil {
		return nil, "", err
	}
	rows, next := nextPage(rows, size, func(g GrantRow) []string { return []string{g.AccountName, g.Project} })
	out := make([]Grant, len(rows))
	for i, r := range rows {
		out[i] = r.Grant
	}
	return out, next, nil
}

// ListAccountGrants lists the account's grants by project ("*" first): the roles it has.
func (s *Service) ListAccountGrants(ctx context.Context, ws, saRef string, p Page) ([]Grant, string, error) {
	size, after, err := parsePage(p, 1)
	if err != nil {
		return nil, "", err
	}
	var gs []Grant
	err = s.view(ctx, "service_account.read", scope{ws: ws, sa: saRef}, func(tx Tx) error {
		sa, err := getAccount(ctx, tx, ws, saRef)
		if err != nil {
			return err
		}
		gs, err = tx.ListAccountGrants(ctx, sa.ID, after[0], size+1)
		return err
	})
	if err != nil {
		return nil, "", err
	}
	gs, next := nextPage(gs, size, func(g Grant) []string { return []string{g.Project} })
	return gs, next, nil
}

func parseInt(s string) (int64, error) { return strconv.ParseInt(s, 10, 64) }
