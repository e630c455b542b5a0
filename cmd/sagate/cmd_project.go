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

	var role, person string
	assign := &cobra.Command{
		Use:   "assign PROJECT (SA | --person NAME) --role ROLE",
		Short: "Grant or change a service account's or a person's role (viewer, contributor, owner) in a project",
		Args:  saOrPerson(&person),
		RunE: a.withSA(1, func(ctx context.Context, c *admin.Client, ws string, args []string) error {
			if err := checkRole("--role", role); err != nil {
				return err
			}
			if person != "" {
				r, err := c.SetPersonRole(ctx, ws, args[0], person, keystore.Role(role))
				if err != nil {
					return err
				}
				return a.show(r, func() error { return a.table(personHeader, [][]string{personRow(r)}) })
			}
			g, err := c.SetGrant(ctx, ws, args[0], args[1], keystore.Role(role))
			if err != nil {
				return err
			}
			return a.show(g, func() error { return a.table(grantHeader, [][]string{grantRow(g)}) })
		}),
	}
	assign.Flags().StringVar(&role, "role", "", "viewer, contributor or owner")
	assign.Flags().StringVar(&person, "person", "", "a person's name (as the authenticating proxy sends it) instead of SA")
	_ = assign.MarkFlagRequired("role")

	var unPerson string
	unassign := &cobra.Command{
		Use:   "unassign PROJECT (SA | --person NAME)",
		Short: "Remove a service account's grant or a person's role on a project",
		Args:  saOrPerson(&unPerson),
		RunE: a.withSA(1, func(ctx context.Context, c *admin.Client, ws string, args []string) error {
			if unPerson != "" {
				if err := c.RemovePersonRole(ctx, ws, args[0], unPerson); err != nil {
					return err
				}
				return a.acted(actionResult{Action: "unassigned", Person: unPerson, Project: args[0]},
					fmt.Sprintf("removed the role of %s on project %s", unPerson, args[0]))
			}
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
			if err := showList(a, items, grantHeader, grantRow); err != nil || a.output == "json" {
				return err
			}
			people, err := c.ProjectPeople(ctx, ws, args[0])
			if err != nil || len(people) == 0 {
				return err
			}
			a.done("")
			return a.table(personHeader, rowsOf(people, personRow))
		}),
	}
	unassign.Flags().StringVar(&unPerson, "person", "", "a person's name instead of SA")
	cmd.AddCommand(assign, unassign, list)
	return cmd
}

// saOrPerson takes PROJECT SA, or PROJECT alone with --person.
func saOrPerson(person *string) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if *person != "" {
			return nArgs(1, "PROJECT (with --person)")(cmd, args)
		}
		return nArgs(2, "PROJECT SA")(cmd, args)
	}
}
