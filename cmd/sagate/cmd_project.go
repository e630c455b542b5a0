package main

import (
	"context"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/sagate/sagate/admin"
	"github.com/sagate/sagate/keystore"
)

// projectCmd: sagate project assign|unassign|list. PROJECT "*" means every project of the
// workspace. Grants add up: an account's role in a project is the higher of its grant on
// the project and its grant on "*".
func (a *app) projectCmd() *cobra.Command {
	cmd := group("project", "Grant service accounts roles in projects (PROJECT \"*\": every project)")

	var role string
	assign := &cobra.Command{
		Use:   "assign PROJECT SA --role ROLE",
		Short: "Grant or change a service account's role (viewer, contributor, owner) in a project",
		Args:  nArgs(2, "PROJECT SA"),
		RunE: a.withSA(1, func(ctx context.Context, c *admin.Client, ws string, args []string) error {
			if err := checkRole("--role", role); err != nil {
				return err
			}
			g, err := c.SetGrant(ctx, ws, args[0], args[1], keystore.Role(role))
			if err != nil {
				return err
			}
			return a.show(g, func() error { return a.table(grantHeader, [][]string{grantRow(g)}) })
		}),
	}
	assign.Flags().StringVar(&role, "role", "", "viewer, contributor or owner")
	_ = assign.MarkFlagRequired("role")

	unassign := &cobra.Command{
		Use:   "unassign PROJECT SA",
		Short: "Remove a service account's grant on a project",
		Args:  nArgs(2, "PROJECT SA"),
		RunE: a.withSA(1, func(ctx context.Context, c *admin.Client, ws string, args []string) error {
			if err := c.RemoveGrant(ctx, ws, args[0], args[1]); err != nil {
				return err
			}
			sa := saName(args[1], ws)
			return a.acted(actionResult{Action: "unassigned", ServiceAccount: sa, Project: args[0]},
				fmt.Sprintf("removed the grant of %s on project %s", sa, args[0]))
		}),
	}

	list := &cobra.Command{
		Use:   "list PROJECT",
		Short: "Show who has which role in a project (its grants and \"*\" grants: the higher one counts)",
		Args:  nArgs(1, "PROJECT"),
		RunE: a.withWS(func(ctx context.Context, c *admin.Client, ws string, args []string) error {
			items, err := c.AllGrants(ctx, ws, args[0])
			if err != nil {
				return err
			}
			return showList(a, items, grantHeader, grantRow)
		}),
	}
	cmd.AddCommand(assign, unassign, list)
	return cmd
}
