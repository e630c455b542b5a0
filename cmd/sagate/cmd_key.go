package main

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

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
		RunE: a.withSA(0, func(ctx context.Context, c *admin.Client, ws string, args []string) error {
			k, err := c.CreateKey(ctx, ws, args[0], cin)
			if err != nil {
				return err
			}
			return a.show(newKey{APIKey: k}, func() error { return a.issued(k) })
		}),
	}
	create.Flags().StringVar(&cin.Name, "name", "", "the key's name (default \"default\")")
	create.Flags().StringVar(&cin.ExpiresIn, "expires-in", "", "the key expires after this long (e.g. 30d); default never")

	var state string
	list := &cobra.Command{
		Use:   "list SA [--state " + strings.Join(keyStates, "|") + "]",
		Short: "List a service account's keys (never a secret)",
		Args:  nArgs(1, "SA"),
		RunE: a.withSA(0, func(ctx context.Context, c *admin.Client, ws string, args []string) error {
			if state != "" && !slices.Contains(keyStates, state) {
				return usagef("--state must be one of %s", strings.Join(keyStates, ", "))
			}
			items, err := c.AllKeys(ctx, ws, args[0])
			if err != nil {
				return err
			}
			if state != "" {
				items = slices.DeleteFunc(items, func(k keystore.APIKey) bool { return keyState(k) != state })
			}
			return showList(a, items, keyHeader, keyRow)
		}),
	}
	list.Flags().StringVar(&state, "state", "", "only the keys in this state: "+strings.Join(keyStates, ", "))

	var rin admin.RotateKeyRequest
	rotate := &cobra.Command{
		Use:   "rotate SA KEY",
		Short: "Issue a key's successor; the old key stays valid for --retain",
		Args:  nArgs(2, "SA KEY"),
		RunE: a.withSA(0, func(ctx context.Context, c *admin.Client, ws string, args []string) error {
			k, err := c.RotateKey(ctx, ws, args[0], args[1], rin)
			if err != nil {
				return err
			}
			// The new key is made: whatever happens next, it must be printed.
			prev, perr := a.findKey(ctx, c, ws, args[0], args[1], k.ID)
			if perr != nil && a.output != "json" { // in JSON, previous_key is left out
				fmt.Fprintf(a.stderr, "sagate: the key is rotated, but reading the old key failed: %v\n", perr)
			}
			return a.show(newKey{APIKey: k, PreviousKey: prev}, func() error {
				if err := a.issued(k); err != nil {
					return err
				}
				if prev != nil {
					_, err := fmt.Fprintln(a.stdout, oldKeyLine(*prev))
					return err
				}
				return nil
			})
		}),
	}
	rotate.Flags().StringVar(&rin.Retain, "retain", "", "keep the old key valid this long (e.g. 60m); default 0: revoke it now")
	rotate.Flags().StringVar(&rin.ExpiresIn, "expires-in", "", "the new key expires after this long; default never")
	rotate.Flags().BoolVar(&rin.Force, "force", false, "rotate even if the key already has a live successor (a retry is refused without it)")

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
		RunE: a.withSA(0, func(ctx context.Context, c *admin.Client, ws string, args []string) error {
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
			sa := saName(args[0], ws)
			err := c.RevokeKey(ctx, ws, args[0], args[1])
			if err != nil && a.alreadyRevoked(ctx, c, ws, args[0], args[1], err) {
				return a.acted(actionResult{Action: "already_revoked", ServiceAccount: sa, Key: args[1]},
					fmt.Sprintf("key %s of %s is already revoked", args[1], sa))
			}
			if err != nil {
				return err
			}
			return a.acted(actionResult{Action: "revoked", ServiceAccount: sa, Key: args[1]},
				fmt.Sprintf("revoked key %s of %s", args[1], sa))
		}),
	}
	revoke.Flags().BoolVar(&revokeAll, "all", false, "revoke every key of the account")

	cmd.AddCommand(create, list, rotate, revoke, a.keyGetCmd(), a.keyFindCmd(),
		a.keyVerb("deactivate", "Deactivate one key: refused everywhere until activated", (*admin.Client).DeactivateKey),
		a.keyVerb("activate", "Activate one deactivated key again", (*admin.Client).ActivateKey),
	)
	return cmd
}

// keyVerb builds "key VERB SA KEY" for a call that answers the key.
func (a *app) keyVerb(verb, short string, call func(*admin.Client, context.Context, string, string, string) (keystore.APIKey, error)) *cobra.Command {
	return &cobra.Command{
		Use:   verb + " SA KEY",
		Short: short,
		Args:  nArgs(2, "SA KEY"),
		RunE: a.withSA(0, func(ctx context.Context, c *admin.Client, ws string, args []string) error {
			k, err := call(c, ctx, ws, args[0], args[1])
			if err != nil {
				return err
			}
			return a.show(k, func() error { return a.table(keyHeader, [][]string{keyRow(k)}) })
		}),
	}
}

// findKey returns the key ref (an id or a last6) of account sa, other than the key
// except; nil when there is none.
func (a *app) findKey(ctx context.Context, c *admin.Client, ws, sa, ref, except string) (*keystore.APIKey, error) {
	keys, err := c.AllKeys(ctx, ws, sa)
	if err != nil {
		return nil, err
	}
	for i, k := range keys {
		if k.ID != except && (k.ID == ref || k.Last6 == ref) {
			return &keys[i], nil
		}
	}
	return nil, nil
}

// alreadyRevoked reports whether err, the failure of revoking key ref, is only that the
// key is revoked already: not an error for a script.
func (a *app) alreadyRevoked(ctx context.Context, c *admin.Client, ws, sa, ref string, err error) bool {
	var ae *admin.APIError
	if !errors.As(err, &ae) || ae.Code != string(keystore.KindState) {
		return false
	}
	k, ferr := a.findKey(ctx, c, ws, sa, ref, "")
	return ferr == nil && k != nil && k.State == keystore.KeyRevoked
}

// oldKeyLine says, after a rotation, what became of the old key.
func oldKeyLine(k keystore.APIKey) string {
	switch {
	case k.State == keystore.KeyRevoked:
		return fmt.Sprintf("The old key %s (%s) is revoked.", k.Last6, k.ID)
	case k.ExpiresAt != nil:
		return fmt.Sprintf("The old key %s (%s) stays valid until %s.", k.Last6, k.ID, ts(*k.ExpiresAt))
	}
	return fmt.Sprintf("The old key %s (%s) stays valid.", k.Last6, k.ID)
}
