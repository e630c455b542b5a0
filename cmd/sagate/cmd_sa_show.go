package main

import (
	"context"
	"fmt"

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

// grantView is one grant of an account and the role its own grants give it in that
// project, by the one rule (keystore.RoleIn): the higher of the project's grant and the
// "*" grant. Its groups' grants add to it (sagate group show lists them).
type grantView struct {
	Project       string        `json:"project"`
	Role          keystore.Role `json:"role"`
	EffectiveRole keystore.Role `json:"effective_role"`
	UpdatedAt     string        `json:"updated_at"`
}

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
	keys, err := c.AllKeys(ctx, ws, sa.ID)
	if err != nil {
		return accountView{}, err
	}
	var roles map[string]keystore.Role
	for _, g := range grants {
		roles = keystore.AddRole(roles, g.Project, g.Role)
	}
	v := accountView{ServiceAccount: sa, Grants: make([]grantView, 0, len(grants)), Keys: keys}
	for _, g := range grants {
		eff, _ := keystore.RoleIn(roles, g.Project)
		v.Grants = append(v.Grants, grantView{Project: g.Project, Role: g.Role, EffectiveRole: eff, UpdatedAt: ts(g.UpdatedAt)})
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
			if g.EffectiveRole != g.Role {
				eff += " (from *)"
			}
			rows = append(rows, []string{g.Project, string(g.Role), eff})
		}
		if err := a.table([]string{"PROJECT", "GRANTED", "ROLE"}, rows); err != nil {
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
