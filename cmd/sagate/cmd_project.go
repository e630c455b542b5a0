package main

import (
	"context"
	"fmt"
	"strconv"

	"github.com/spf13/cobra"

	"github.com/sagate/sagate/admin"
	"github.com/sagate/sagate/keystore"
)

// projectCmd: sagate project assign|unassign|list. PROJECT "*" means every project of the
// workspace. Grants add up: an account's role in a project is the higher of its grant on
// the project and its grant on "*".
func (a *app) projectCmd() *cobra.Command {
	cmd := group("project", "Grant service accounts roles in projects (PROJECT \"*\": every project)")

	var role, person, grp string
	assign := &cobra.Command{
		Use:   "assign PROJECT (SA | --person NAME | --group GROUP) --role ROLE",
		Short: "Grant or change a service account's, a person's or a group's role (viewer, contributor, owner) in a project",
		Args:  saOrPerson(&person, &grp),
		RunE: a.withSA(1, func(ctx context.Context, c *admin.Client, ws string, args []string) error {
			if err := checkRole("--role", role); err != nil {
				return err
			}
			switch {
			case grp != "":
				g, err := c.SetGroupGrant(ctx, ws, args[0], grp, keystore.Role(role))
				if err != nil {
					return err
				}
				return a.show(g, func() error { return a.table(groupGrantHeader, [][]string{groupGrantRow(g)}) })
			case person != "":
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
	assign.Flags().StringVar(&grp, "group", "", "a group's name instead of SA: every member gets the role")
	_ = assign.MarkFlagRequired("role")

	var unPerson, unGroup string
	unassign := &cobra.Command{
		Use:   "unassign PROJECT (SA | --person NAME | --group GROUP)",
		Short: "Remove a service account's grant, a person's role or a group's grant on a project",
		Args:  saOrPerson(&unPerson, &unGroup),
		RunE: a.withSA(1, func(ctx context.Context, c *admin.Client, ws string, args []string) error {
			if unGroup != "" {
				if err := c.RemoveGroupGrant(ctx, ws, args[0], unGroup); err != nil {
					return err
				}
				return a.acted(actionResult{Action: "unassigned", Group: unGroup, Project: args[0]},
					fmt.Sprintf("removed the grant of group %s on project %s", unGroup, args[0]))
			}
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
		Use:   "list [PROJECT]",
		Short: "List the workspace's projects with a grant; with PROJECT, who has which role in it (the highest counts)",
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) > 1 {
				return usagef("project list takes at most one PROJECT, got %d arguments", len(args))
			}
			return nil
		},
		RunE: a.withWS(func(ctx context.Context, c *admin.Client, ws string, args []string) error {
			if len(args) == 0 {
				items, err := c.AllProjects(ctx, ws)
				if err != nil {
					return err
				}
				return showList(a, items, projectHeader, projectRow)
			}
			items, err := c.AllGrants(ctx, ws, args[0])
			if err != nil {
				return err
			}
			if err := showList(a, items, grantHeader, grantRow); err != nil || a.output == "json" {
				return err
			}
			people, err := c.ProjectPeople(ctx, ws, args[0])
			if err != nil {
				return err
			}
			if len(people) > 0 {
				a.done("")
				if err := a.table(personHeader, rowsOf(people, personRow)); err != nil {
					return err
				}
			}
			groups, err := c.ProjectGroups(ctx, ws, args[0])
			if err != nil || len(groups) == 0 {
				return err
			}
			a.done("")
			return a.table(groupGrantHeader, rowsOf(groups, groupGrantRow))
		}),
	}
	unassign.Flags().StringVar(&unPerson, "person", "", "a person's name instead of SA")
	unassign.Flags().StringVar(&unGroup, "group", "", "a group's name instead of SA")
	cmd.AddCommand(assign, unassign, list)
	return cmd
}

// saOrPerson takes PROJECT SA, or PROJECT alone with --person or --group (one of them).
func saOrPerson(person, grp *string) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		switch {
		case *person != "" && *grp != "":
			return usagef("give --person or --group, not both")
		case *person != "" || *grp != "":
			return nArgs(1, "PROJECT (with --person or --group)")(cmd, args)
		}
		return nArgs(2, "PROJECT SA")(cmd, args)
	}
}

var projectHeader = []string{"PROJECT", "ACCOUNTS", "GROUPS", "PEOPLE"}

func projectRow(p keystore.ProjectSummary) []string {
	return []string{p.Project, strconv.Itoa(p.Accounts), strconv.Itoa(p.Groups), strconv.Itoa(p.People)}
}
