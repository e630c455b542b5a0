package main

import (
	"context"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/sagate/sagate/admin"
	"github.com/sagate/sagate/keystore"
)

// keyGetCmd: sagate key get SA KEY, one key with whether it can pass now.
func (a *app) keyGetCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "get SA KEY",
		Short: "Show one key (never its secret): its state and whether it can pass now",
		Args:  nArgs(2, "SA KEY"),
		RunE: a.withSA(0, func(ctx context.Context, c *admin.Client, ws string, args []string) error {
			k, err := c.GetKey(ctx, ws, args[0], args[1])
			if err != nil {
				return err
			}
			return a.show(k, func() error {
				if err := a.table(keyHeader, [][]string{keyRow(k)}); err != nil {
					return err
				}
				_, err := fmt.Fprintln(a.stdout, usableLine(k))
				return err
			})
		}),
	}
}

// keyFindCmd: sagate key find LAST6, every key of the workspace that ends so.
func (a *app) keyFindCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "find LAST6",
		Short: "Find the keys of every account of the workspace by their last six characters",
		Args:  nArgs(1, "LAST6"),
		RunE: a.withWS(func(ctx context.Context, c *admin.Client, ws string, args []string) error {
			items, err := c.FindKeys(ctx, ws, args[0])
			if err != nil {
				return err
			}
			return showList(a, items, append([]string{"SERVICE ACCOUNT"}, keyHeader...), func(k keystore.FoundKey) []string {
				return append([]string{k.ServiceAccount}, keyRow(k.APIKey)...)
			})
		}),
	}
}

// usableLine says whether a key can pass now and, if not, why.
func usableLine(k keystore.APIKey) string {
	switch k.Reason {
	case "":
		return "Usable: yes."
	case keystore.ReasonRevoked:
		return "Usable: no, the key is revoked."
	case keystore.ReasonExpired:
		return "Usable: no, the key has expired."
	case keystore.ReasonAccountDeactivated:
		return "Usable: no, its service account is deactivated (sagate sa reactivate issues a new key)."
	}
	return "Usable: no, the key is deactivated (sagate key activate makes it usable again)."
}
