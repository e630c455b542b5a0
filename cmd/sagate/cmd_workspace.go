package main

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/sagate/sagate/admin"
	"github.com/sagate/sagate/keystore"
)

// group returns a command that only holds subcommands; run alone it is a usage error.
func group(use, short string) *cobra.Command {
	return &cobra.Command{
		Use:   use,
		Short: short,
		Args:  subcommandArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			var names []string
			for _, c := range cmd.Commands() {
				if c.IsAvailableCommand() {
					names = append(names, c.Name())
				}
			}
			return usagef("%s needs a subcommand: %s", cmd.CommandPath(), strings.Join(names, ", "))
		},
	}
}

var wsHeader = []string{"NAME", "MAX SERVICE ACCOUNTS", "CREATED"}

func wsRow(w keystore.Workspace) []string {
	return []string{w.Name, strconv.Itoa(w.MaxServiceAccounts), ts(w.CreatedAt)}
}

// workspaceCmd: sagate workspace create NAME | update NAME | list.
func (a *app) workspaceCmd() *cobra.Command {
	cmd := group("workspace", "Create, change and list workspaces")
	var maxSA int
	create := &cobra.Command{
		Use:   "create NAME",
		Short: "Create a workspace",
		Args:  nArgs(1, "NAME"),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := a.client()
			if err != nil {
				return err
			}
			w, err := c.CreateWorkspace(cmd.Context(), admin.CreateWorkspaceRequest{Name: args[0], MaxServiceAccounts: maxSA})
			if err != nil {
				return err
			}
			return a.show(w, func() error { return a.table(wsHeader, [][]string{wsRow(w)}) })
		},
	}
	create.Flags().IntVar(&maxSA, "max-service-accounts", 0, fmt.Sprintf("most service accounts in the workspace (default %d)", keystore.DefaultMaxServiceAccounts))
	var newMax int
	update := &cobra.Command{
		Use:   "update NAME --max-service-accounts N",
		Short: "Change a workspace's limit of service accounts",
		Args:  nArgs(1, "NAME"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if !cmd.Flags().Changed("max-service-accounts") {
				return usagef("workspace update needs --max-service-accounts N")
			}
			c, err := a.client()
			if err != nil {
				return err
			}
			w, err := c.UpdateWorkspace(cmd.Context(), args[0], admin.UpdateWorkspaceRequest{MaxServiceAccounts: &newMax})
			if err != nil {
				return err
			}
			return a.show(w, func() error { return a.table(wsHeader, [][]string{wsRow(w)}) })
		},
	}
	update.Flags().IntVar(&newMax, "max-service-accounts", 0, fmt.Sprintf("most service accounts in the workspace (1 to %d)", keystore.MaxServiceAccountsLimit))
	list := &cobra.Command{
		Use:   "list",
		Short: "List workspaces",
		Args:  nArgs(0, "none"),
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := a.client()
			if err != nil {
				return err
			}
			items, err := c.AllWorkspaces(cmd.Context())
			if err != nil {
				return err
			}
			return showList(a, items, wsHeader, wsRow)
		},
	}
	cmd.AddCommand(create, update, list, a.workspaceAdminsCmd())
	return cmd
}

// auditCmd: sagate audit [-w WS] [--action A] [--actor REF] [--since T] [--until T]
// [--limit N]: one workspace's actions with -w, else every workspace's.
func (a *app) auditCmd() *cobra.Command {
	var limit int
	var token, since, until string
	var f keystore.AuditFilter
	cmd := &cobra.Command{
		Use:   "audit",
		Short: "Show admin actions, newest first",
		Args:  nArgs(0, "none"),
		RunE: func(cmd *cobra.Command, _ []string) error {
			if limit < 1 || limit > keystore.MaxPageSize {
				return usagef("--limit must be from 1 to %d", keystore.MaxPageSize)
			}
			for _, t := range []struct {
				flag, v string
				dst     *time.Time
			}{{"--since", since, &f.Since}, {"--until", until, &f.Until}} {
				if t.v == "" {
					continue
				}
				at, err := time.Parse(time.RFC3339, t.v)
				if err != nil {
					return usagef("%s must be an RFC 3339 time such as 2026-05-01T14:30:00Z", t.flag)
				}
				*t.dst = at
			}
			c, err := a.client()
			if err != nil {
				return err
			}
			f.Workspace = a.workspace // optional here: without it, every workspace's (operators only)
			if f.Workspace == "" {
				f.Workspace = a.getenv(envWorkspace)
			}
			l, err := c.ListAudit(cmd.Context(), f, admin.ListOptions{PageSize: limit, PageToken: token})
			if err != nil {
				return err
			}
			if a.output == "json" {
				return a.printJSON(l)
			}
			rows := make([][]string, 0, len(l.Items))
			for _, e := range l.Items {
				actor := e.Actor
				if e.Principal != nil && e.Principal.Name != "" {
					actor = string(e.Principal.Kind) + ":" + e.Principal.Name // a name, not an id
					if e.Principal.Kind == keystore.PrincipalServiceAccount {
						actor = keystore.PrincipalRefSA + e.Principal.Name
					}
				}
				rows = append(rows, []string{ts(e.At), actor, e.Action, e.Workspace, e.Target, details(e.Details)})
			}
			if err := a.table([]string{"AT", "ACTOR", "ACTION", "WORKSPACE", "TARGET", "DETAILS"}, rows); err != nil {
				return err
			}
			if l.NextPageToken != "" {
				a.done("(more: the same command with --page-token %s)", l.NextPageToken)
			}
			return nil
		},
	}
	cmd.Flags().IntVar(&limit, "limit", keystore.DefaultPageSize, "how many actions to show")
	cmd.Flags().StringVar(&token, "page-token", "", "continue from a previous page")
	cmd.Flags().StringVar(&f.Action, "action", "", `only this action ("key.revoke"), or every action of a kind ("key.")`)
	cmd.Flags().StringVar(&f.Actor, "actor", "", "only the actions of this principal (operator:NAME, person:NAME, sa:NAME, sa:NAME@WS or sa:ID); one that never acted here is an error naming those who did")
	cmd.Flags().StringVar(&since, "since", "", "only actions at or after this RFC 3339 time")
	cmd.Flags().StringVar(&until, "until", "", "only actions before this RFC 3339 time")
	return cmd
}

// details renders audit details as k=v pairs in key order.
func details(m map[string]string) string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	parts := make([]string, 0, len(keys))
	for _, k := range keys {
		parts = append(parts, k+"="+m[k])
	}
	return strings.Join(parts, " ")
}
