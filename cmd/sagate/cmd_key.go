package main

import (
	"context"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/sagate/sagate/admin"
	"github.com/sagate/sagate/keystore"
)

// keyCmd: sagate key create|list|rotate|revoke|deactivate|activate. KEY is a key id or its last6.
func (a *app) keyCmd() *cobra.Command {
	cmd := group("key", "Manage a service account's API keys (KEY is a key id or its last6)")

	var cin admin.CreateKeyRequest
	create := &cobra.Command{
		Use:   "create SA",
		Short: "Issue a key to a service account",
		Args:  nArgs(1, "SA"),
		RunE: a.withWS(func(ctx context.Context, c *admin.Client, ws string, args []string) error {
			k, err := c.CreateKey(ctx, ws, args[0], cin)
			if err != nil {
				return err
			}
			return a.show(k, func() error { return a.issued(k) })
		}),
	}
	create.Flags().StringVar(&cin.Name, "name", "", "the key's name (default \"default\")")
	create.Flags().StringVar(&cin.ExpiresIn, "expires-in", "", "the key expires after this long (e.g. 30d); default never")

	list := &cobra.Command{
		Use:   "list SA",
		Short: "List a service account's keys (never a secret)",
		Args:  nArgs(1, "SA"),
		RunE: a.withWS(func(ctx context.Context, c *admin.Client, ws string, args []string) error {
			items, err := c.AllKeys(ctx, ws, args[0])
			if err != nil {
				return err
			}
			return showList(a, items, keyHeader, keyRow)
		}),
	}

	var rin admin.RotateKeyRequest
	rotate := &cobra.Command{
		Use:   "rotate SA KEY",
		Short: "Issue a key's successor; the old key stays valid for --retain",
		Args:  nArgs(2, "SA KEY"),
		RunE: a.withWS(func(ctx context.Context, c *admin.Client, ws string, args []string) error {
			k, err := c.RotateKey(ctx, ws, args[0], args[1], rin)
			if err != nil {
				return err
			}
			return a.show(k, func() error { return a.issued(k) })
		}),
	}
	rotate.Flags().StringVar(&rin.Retain, "retain", "", "keep the old key valid this long (e.g. 60m); default 0: revoke it now")
	rotate.Flags().StringVar(&rin.ExpiresIn, "expires-in", "", "the new key expires after this long; default never")

	var revokeAll bool
	revoke := &cobra.Command{
		Use:   "revoke SA KEY | revoke SA --all",
		Short: "Revoke one key, or every key of the account with --all",
		Args: func(cmd *cobra.Command, args []string) error {
			switch {
			case revokeAll && len(args) != 1:
				return usagef("key revoke SA --all takes only the service account")
			case !revokeAll && len(args) != 2:
				return usagef("key revoke takes SA KEY, or SA --all")
			}
			return nil
		},
		RunE: a.withWS(func(ctx context.Context, c *admin.Client, ws string, args []string) error {
			if revokeAll {
				out, err := c.RevokeAllKeys(ctx, ws, args[0])
				if err != nil {
					return err
				}
				return a.show(out, func() error {
					_, err := fmt.Fprintf(a.stdout, "revoked %d key(s) of %s\n", out.Revoked, out.FullName)
					return err
				})
			}
			if err := c.RevokeKey(ctx, ws, args[0], args[1]); err != nil {
				return err
			}
			a.done("revoked key %s of %s@%s", args[1], args[0], ws)
			return nil
		}),
	}
	revoke.Flags().BoolVar(&revokeAll, "all", false, "revoke every key of the account")

	cmd.AddCommand(create, list, rotate, revoke,
		a.keyVerb("deactivate", "Pause one key", (*admin.Client).DeactivateKey),
		a.keyVerb("activate", "Resume one paused key", (*admin.Client).ActivateKey),
	)
	return cmd
}

// keyVerb builds "key VERB SA KEY" for a call that answers the key.
func (a *app) keyVerb(verb, short string, call func(*admin.Client, context.Context, string, string, string) (keystore.APIKey, error)) *cobra.Command {
	return &cobra.Command{
		Use:   verb + " SA KEY",
		Short: short,
		Args:  nArgs(2, "SA KEY"),
		RunE: a.withWS(func(ctx context.Context, c *admin.Client, ws string, args []string) error {
			k, err := call(c, ctx, ws, args[0], args[1])
			if err != nil {
				return err
			}
			return a.show(k, func() error { return a.table(keyHeader, [][]string{keyRow(k)}) })
		}),
	}
}
