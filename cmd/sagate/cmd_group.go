package main

import (
	"context"
	"fmt"
	"strconv"

	"github.com/spf13/cobra"

	"github.com/sagate/sagate/admin"
	"github.com/sagate/sagate/keystore"
)

var groupHeader = []string{"NAME", "MEMBERS", "DESCRIPTION", "CREATED"}

func groupRow(g keystore.Group) []string {
	return []string{g.Name, strconv.Itoa(g.Members), g.Description, ts(g.CreatedAt)}
}

var memberHeader = []string{"PRINCIPAL", "NAME", "SINCE"}

func memberRow(m keystore.GroupMember) []string {
	return []string{m.Principal, m.Name, ts(m.CreatedAt)}
}

var groupGrantHeader = []string{"GROUP", "PROJECT", "ROLE", "UPDATED"}

func groupGrantRow(g keystore.GroupGrant) []string {
	return []string{g.Group, g.Project, string(g.Role), ts(g.UpdatedAt)}
}

// groupCmd: sagate group create|list|show|update|delete|add|remove (-w WORKSPACE). A
// member's role in a project is the highest of its own grants and its groups' grants.
func (a *app) groupCmd() *cobra.Command {
	cmd := group("group", "Groups of service accounts and people that are given roles together")
	var desc string
	create := &cobra.Command{
		Use:   "create NAME [--description TEXT]",
		Short: "Create a group",
		Args:  nArgs(1, "NAME"),
		RunE: a.withWS(func(ctx context.Context, c *admin.Client, ws string, args []string) error {
			g, err := c.CreateGroup(ctx, ws, args[0], desc)
			if err != nil {
				return err
			}
			return a.show(g, func() error { return a.table(groupHeader, [][]string{groupRow(g)}) })
		}),
	}
	create.Flags().StringVar(&desc, "description", "", "what the group is for")
	list := &cobra.Command{
		Use:   "list",
		Short: "List the workspace's groups",
		Args:  nArgs(0, "none"),
		RunE: a.withWS(func(ctx context.Context, c *admin.Client, ws string, _ []string) error {
			items, err := c.AllGroups(ctx, ws)
			if err != nil {
				return err
			}
			return showList(a, items, groupHeader, groupRow)
		}),
	}
	show := &cobra.Command{
		Use:   "show NAME",
		Short: "Show a group, its grants and its members",
		Args:  nArgs(1, "NAME"),
		RunE: a.withWS(func(ctx context.Context, c *admin.Client, ws string, args []string) error {
			d, err := c.GetGroup(ctx, ws, args[0])
			if err != nil {
				return err
			}
			members, err := c.AllGroupMembers(ctx, ws, args[0])
			if err != nil {
				return err
			}
			out := struct {
				keystore.GroupDetail
				MemberList []keystore.GroupMember `json:"member_list"`
			}{d, members}
			return a.show(out, func() error {
				if err := a.table(groupHeader, [][]string{groupRow(d.Group)}); err != nil {
					return err
				}
				a.done("")
				if err := a.table(groupGrantHeader, rowsOf(d.Grants, groupGrantRow)); err != nil {
					return err
				}
				a.done("")
				return a.table(memberHeader, rowsOf(members, memberRow))
			})
		}),
	}
	var newDesc string
	update := &cobra.Command{
		Use:   "update NAME --description TEXT",
		Short: "Change a group's description",
		Args:  nArgs(1, "NAME"),
		RunE: a.withWS(func(ctx context.Context, c *admin.Client, ws string, args []string) error {
			g, err := c.UpdateGroup(ctx, ws, args[0], &newDesc)
			if err != nil {
				return err
			}
			return a.show(g, func() error { return a.table(groupHeader, [][]string{groupRow(g)}) })
		}),
	}
	update.Flags().StringVar(&newDesc, "description", "", "the new description")
	_ = update.MarkFlagRequired("description")
	del := &cobra.Command{
		Use:   "delete NAME",
		Short: "Delete a group: its members lose the roles they had through it",
		Args:  nArgs(1, "NAME"),
		RunE: a.withWS(func(ctx context.Context, c *admin.Client, ws string, args []string) error {
			if err := c.DeleteGroup(ctx, ws, args[0]); err != nil {
				return err
			}
			return a.acted(actionResult{Action: "deleted", Group: args[0]}, fmt.Sprintf("deleted group %s of %s", args[0], ws))
		}),
	}
	add := &cobra.Command{
		Use:   "add GROUP MEMBER",
		Short: "Add a member: sa:NAME, sa:ID, sa:NAME@WORKSPACE or person:NAME",
		Args:  nArgs(2, "GROUP MEMBER"),
		RunE: a.withWS(func(ctx context.Context, c *admin.Client, ws string, args []string) error {
			m, _, err := c.AddGroupMember(ctx, ws, args[0], args[1])
			if err != nil {
				return err
			}
			return a.show(m, func() error { return a.table(memberHeader, [][]string{memberRow(m)}) })
		}),
	}
	remove := &cobra.Command{
		Use:   "remove GROUP MEMBER",
		Short: "Remove a member from a group",
		Args:  nArgs(2, "GROUP MEMBER"),
		RunE: a.withWS(func(ctx context.Context, c *admin.Client, ws string, args []string) error {
			if err := c.RemoveGroupMember(ctx, ws, args[0], args[1]); err != nil {
				return err
			}
			return a.acted(actionResult{Action: "removed", Group: args[0], Member: args[1]},
				fmt.Sprintf("%s is no longer a member of %s", args[1], args[0]))
		}),
	}
	cmd.AddCommand(create, list, show, update, del, add, remove)
	return cmd
}
