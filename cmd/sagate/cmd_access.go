package main

import (
	"context"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/sagate/sagate/admin"
	"github.com/sagate/sagate/keystore"
)

// whoamiCmd: sagate whoami says which principal the credential in $SAGATE_ADMIN_TOKEN acts as.
func (a *app) whoamiCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "whoami",
		Short: "Show whom the credential in $" + envAdminToken + " acts as (an operator or a service account)",
		Args:  nArgs(0, "none"),
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := a.client()
			if err != nil {
				return err
			}
			w, err := c.WhoAmI(cmd.Context())
			if err != nil {
				return err
			}
			name := w.Name
			if w.FullName != "" {
				name = w.FullName
			}
			return a.show(w, func() error {
				return a.table([]string{"PRINCIPAL", "KIND", "NAME", "KEY"}, [][]string{{w.Principal, string(w.Kind), name, w.KeyLast6}})
			})
		},
	}
}

var adminHeader = []string{"PRINCIPAL", "NAME", "SINCE"}

func adminRow(ad keystore.WorkspaceAdmin) []string {
	return []string{ad.Principal, ad.Name, ts(ad.CreatedAt)}
}

// workspaceAdminsCmd: sagate workspace admins add|remove|list (-w WORKSPACE).
func (a *app) workspaceAdminsCmd() *cobra.Command {
	cmd := group("admins", "Who administers a workspace: PRINCIPAL is sa:<id or name> or person:<name>")
	add := &cobra.Command{
		Use:   "add PRINCIPAL",
		Short: "Make a service account (sa:NAME) or a person (person:NAME) an admin of the workspace",
		Args:  nArgs(1, "PRINCIPAL"),
		RunE: a.withWS(func(ctx context.Context, c *admin.Client, ws string, args []string) error {
			ad, err := c.SetWorkspaceAdmin(ctx, ws, args[0])
			if err != nil {
				return err
			}
			return a.show(ad, func() error { return a.table(adminHeader, [][]string{adminRow(ad)}) })
		}),
	}
	remove := &cobra.Command{
		Use:   "remove PRINCIPAL",
		Short: "Remove an admin of the workspace",
		Args:  nArgs(1, "PRINCIPAL"),
		RunE: a.withWS(func(ctx context.Context, c *admin.Client, ws string, args []string) error {
			if err := c.RemoveWorkspaceAdmin(ctx, ws, args[0]); err != nil {
				return err
			}
			return a.acted(actionResult{Action: "admin_removed", Principal: args[0], Workspace: ws},
				fmt.Sprintf("%s is no longer an admin of %s", args[0], ws))
		}),
	}
	list := &cobra.Command{
		Use:   "list",
		Short: "List the admins of the workspace",
		Args:  nArgs(0, "none"),
		RunE: a.withWS(func(ctx context.Context, c *admin.Client, ws string, _ []string) error {
			items, err := c.AllWorkspaceAdmins(ctx, ws)
			if err != nil {
				return err
			}
			return showList(a, items, adminHeader, adminRow)
		}),
	}
	cmd.AddCommand(add, remove, list)
	return cmd
}

var personHeader = []string{"PROJECT", "PERSON", "ROLE", "UPDATED"}

func personRow(p keystore.PersonRole) []string {
	return []string{p.Project, p.Person, string(p.Role), ts(p.UpdatedAt)}
}

// rowsOf maps items to table rows.
func rowsOf[T any](items []T, row func(T) []string) [][]string {
	out := make([][]string, len(items))
	for i, it := range items {
		out[i] = row(it)
	}
	return out
}
