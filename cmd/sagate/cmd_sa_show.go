package main

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/spf13/cobra"

	"github.com/sagate/sagate/admin"
	"github.com/sagate/sagate/keystore"
)

// accountView is what sa show prints: the account whole.
type accountView struct {
	ServiceAccount keystore.ServiceAccount `json:"service_account"`
	// Grants are the account's grants by project, "*" (every project) first.
	Grants []grantView `json:"grants"`
	// Keys are the account's keys, oldest first (never a secret).
	Keys []keystore.APIKey `json:"keys"`
}

// grantView is one role of an account in a project, from its own grant (Via "direct") or
// through a group it belongs to (Via "group:NAME"), and the role the account holds in that
// project by the one rule (keystore.RoleIn): the highest of all its grants, its own and its
// groups', on the project and on "*".
type grantView struct {
	Project       string        `json:"project"`
	Role          keystore.Role `json:"role"`
	Via           string        `json:"via"`
	EffectiveRole keystore.Role `json:"effective_role"`
	// From names the grant the effective role comes from when it is another one: "*",
	// "group:NAME" or "group:NAME on *".
	From      string `json:"from,omitempty"`
	UpdatedAt string `json:"updated_at"`
}

// viaDirect is the Via of an account's own grant.
const viaDirect = "direct"

// saShowCmd: sagate sa show NAME.
func (a *app) saShowCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "show NAME",
		Short: "Show a service account whole: its state, its role in each project, its keys",
		Args:  nArgs(1, "NAME"),
		RunE: a.withSA(0, func(ctx context.Context, c *admin.Client, ws string, args []string) error {
			v, err := a.accountView(ctx, c, ws, args[0])
			if err != nil {
				return err
			}
			return a.show(v, func() error { return a.printAccountView(v) })
		}),
	}
}

// accountView reads account ref, its grants and its keys.
func (a *app) accountView(ctx context.Context, c *admin.Client, ws, ref string) (accountView, error) {
	sa, err := c.GetServiceAccount(ctx, ws, ref)
	if err != nil {
		return accountView{}, err
	}
	grants, err := c.AllAccountGrants(ctx, ws, sa.ID)
	if err != nil {
		return accountView{}, err
	}
	groups, err := c.AccountGroupGrants(ctx, ws, sa.ID)
	if err != nil {
		return accountView{}, err
	}
	keys, err := c.AllKeys(ctx, ws, sa.ID)
	if err != nil {
		return accountView{}, err
	}
	v := accountView{ServiceAccount: sa, Grants: make([]grantView, 0, len(grants)+len(groups)), Keys: keys}
	for _, g := range grants {
		v.Grants = append(v.Grants, grantView{Project: g.Project, Role: g.Role, Via: viaDirect, UpdatedAt: ts(g.UpdatedAt)})
	}
	for _, g := range groups {
		v.Grants = append(v.Grants, grantView{Project: g.Project, Role: g.Role, Via: "group:" + g.Group, UpdatedAt: ts(g.UpdatedAt)})
	}
	slices.SortStableFunc(v.Grants, func(x, y grantView) int { return projectOrder(x.Project, y.Project) })
	var roles map[string]keystore.Role
	for _, g := range v.Grants {
		roles = keystore.AddRole(roles, g.Project, g.Role)
	}
	for i, g := range v.Grants {
		v.Grants[i].EffectiveRole, _ = keystore.RoleIn(roles, g.Project)
		if v.Grants[i].EffectiveRole != g.Role {
			v.Grants[i].From = roleSource(v.Grants, g.Project, v.Grants[i].EffectiveRole)
		}
	}
	if v.Keys == nil {
		v.Keys = []keystore.APIKey{}
	}
	return v, nil
}

// printAccountView prints the account, its grants and its keys as three tables.
func (a *app) printAccountView(v accountView) error {
	if err := a.table(saHeader, [][]string{saRow(v.ServiceAccount)}); err != nil {
		return err
	}
	fmt.Fprintln(a.stdout)
	fmt.Fprintf(a.stdout, "Rate limit: %s\n\n", rateLimitText(v.ServiceAccount.RateLimit))
	if len(v.Grants) == 0 {
		fmt.Fprintln(a.stdout, "No project grants: the account's keys open no project (sagate project assign PROJECT SA --role ROLE).")
	} else {
		rows := make([][]string, 0, len(v.Grants))
		for _, g := range v.Grants {
			eff := string(g.EffectiveRole)
			if g.From != "" {
				eff += " (from " + g.From + ")"
			}
			rows = append(rows, []string{g.Project, string(g.Role), g.Via, eff})
		}
		if err := a.table([]string{"PROJECT", "GRANTED", "VIA", "ROLE"}, rows); err != nil {
			return err
		}
	}
	fmt.Fprintln(a.stdout)
	if len(v.Keys) == 0 {
		fmt.Fprintln(a.stdout, "No keys (sagate key create SA).")
		return nil
	}
	rows := make([][]string, 0, len(v.Keys))
	for _, k := range v.Keys {
		rows = append(rows, keyRow(k))
	}
	return a.table(keyHeader, rows)
}

// checkRole is the usage error of a role flag whose value is not a role.
func checkRole(flag, role string) error {
	if _, err := keystore.ParseRole(role); err != nil {
		return usagef("%s must be one of viewer, contributor, owner (got %q)", flag, role)
	}
	return nil
}

// projectOrder sorts projects by name, "*" (every project) first.
func projectOrder(a, b string) int {
	switch {
	case a == b:
		return 0
	case a == keystore.AllProjects:
		return -1
	case b == keystore.AllProjects:
		return 1
	}
	return strings.Compare(a, b)
}

// roleSource names the grant of gs that gives role in project: one on project (its Via,
// when that is a group) before one on "*" ("*" or "group:NAME on *").
func roleSource(gs []grantView, project string, role keystore.Role) string {
	for _, on := range []string{project, keystore.AllProjects} {
		for _, g := range gs {
			if g.Project != on || g.Role != role {
				continue
			}
			switch {
			case on != keystore.AllProjects:
				return g.Via
			case g.Via == viaDirect:
				return keystore.AllProjects
			}
			return g.Via + " on " + keystore.AllProjects
		}
	}
	return ""
}
