package main

import (
	"context"
	"fmt"
	"strconv"
	"strings"

	"github.com/spf13/cobra"

	"github.com/sagate/sagate/admin"
	"github.com/sagate/sagate/keystore"
)

// saCmd: sagate sa create|list|get|show|update|deactivate|reactivate|delete. NAME is an
// account's name, full name (NAME@WORKSPACE, which also gives the workspace) or id.
func (a *app) saCmd() *cobra.Command {
	cmd := group("sa", "Manage service accounts")
	cmd.Aliases = []string{"service-account"}

	var in admin.CreateServiceAccountRequest
	var noKey bool
	create := &cobra.Command{
		Use:   "create NAME",
		Short: "Create a service account and, unless --no-key, its first key",
		Args:  nArgs(1, "NAME"),
		RunE: a.withSA(0, func(ctx context.Context, c *admin.Client, ws string, args []string) error {
			name, inWS, full := strings.Cut(args[0], "@")
			if full && inWS != ws {
				return usagef("%s is in workspace %q, not in %q (set by -w or %s)", args[0], inWS, ws, envWorkspace)
			}
			in.Name = name
			if in.AllProjectsRole != "" {
				if err := checkRole("--all-projects-role", in.AllProjectsRole); err != nil {
					return err
				}
			}
			if noKey {
				if in.KeyExpiresIn != "" {
					return usagef("--key-expires-in cannot be used with --no-key")
				}
				f := false
				in.CreateKey = &f
			}
			out, err := c.CreateServiceAccount(ctx, ws, in)
			if err != nil {
				return err
			}
			return a.showAccountWithKey(out)
		}),
	}
	f := create.Flags()
	f.StringVar(&in.Description, "description", "", "what the account is for")
	f.StringVar(&in.AllProjectsRole, "all-projects-role", "", "grant this role (viewer, contributor, owner) on every project")
	f.StringVar(&in.Owner, "owner", "", "the principal responsible for the account: sa:NAME or person:NAME")
	f.BoolVar(&noKey, "no-key", false, "do not issue a first key")
	f.StringVar(&in.KeyExpiresIn, "key-expires-in", "", "the first key expires after this long (e.g. 90d); default never")

	var lf keystore.AccountFilter
	var state string
	list := &cobra.Command{
		Use:   "list [--owner PRINCIPAL] [--state active|deactivated]",
		Short: "List the workspace's service accounts",
		Args:  nArgs(0, "none"),
		RunE: a.withWS(func(ctx context.Context, c *admin.Client, ws string, _ []string) error {
			lf.State = keystore.AccountState(state)
			items, err := c.AllServiceAccounts(ctx, ws, lf)
			if err != nil {
				return err
			}
			return showList(a, items, saHeader, saRow)
		}),
	}
	list.Flags().StringVar(&lf.Owner, "owner", "", "only the accounts this principal owns: sa:NAME or person:NAME")
	list.Flags().StringVar(&state, "state", "", "only the accounts in this state: active or deactivated")

	var (
		desc, newOwner, rateLimit string
		update                    *cobra.Command
	)
	update = &cobra.Command{
		Use:   "update NAME [--description D] [--owner PRINCIPAL] [--rate-limit RPS[/BURST]|none]",
		Short: "Change a service account's description, owner (--owner \"\": none) or rate limit (--rate-limit none: none)",
		Args:  nArgs(1, "NAME"),
		RunE: a.withSA(0, func(ctx context.Context, c *admin.Client, ws string, args []string) error {
			var in admin.UpdateServiceAccountRequest
			if update.Flags().Changed("description") {
				in.Description = &desc
			}
			if update.Flags().Changed("owner") {
				in.Owner = &newOwner
			}
			if update.Flags().Changed("rate-limit") {
				rl, err := parseRateLimit(rateLimit)
				if err != nil {
					return err
				}
				in.RateLimit = admin.SetRateLimit(rl)
			}
			if in.Description == nil && in.Owner == nil && !in.RateLimit.Set {
				return usagef("sa update needs --description, --owner or --rate-limit")
			}
			sa, err := c.UpdateServiceAccount(ctx, ws, args[0], in)
			if err != nil {
				return err
			}
			return a.show(sa, func() error { return a.table(saHeader, [][]string{saRow(sa)}) })
		}),
	}
	update.Flags().StringVar(&desc, "description", "", "the new description")
	update.Flags().StringVar(&newOwner, "owner", "", "the principal responsible for the account: sa:NAME, person:NAME, or \"\" for none")
	update.Flags().StringVar(&rateLimit, "rate-limit", "",
		"requests per second all the account's keys share, enforced by each sidecar on its own: RPS or RPS/BURST (burst by default: RPS rounded up), or none")

	cmd.AddCommand(create, list, update,
		a.saVerb("get", "Show a service account (sa show: with its roles and keys)", (*admin.Client).GetServiceAccount),
		a.saShowCmd(),
		a.saVerb("deactivate", "Stop every key of a service account at once", (*admin.Client).DeactivateServiceAccount),
		&cobra.Command{
			Use:   "reactivate NAME",
			Short: "Reactivate a service account: revokes every old key and issues one fresh key",
			Args:  nArgs(1, "NAME"),
			RunE: a.withSA(0, func(ctx context.Context, c *admin.Client, ws string, args []string) error {
				out, err := c.ReactivateServiceAccount(ctx, ws, args[0])
				if err != nil {
					return err
				}
				return a.showAccountWithKey(out)
			}),
		},
		&cobra.Command{
			Use:   "delete NAME",
			Short: "Delete a service account: revokes its keys, removes its grants, frees its name",
			Args:  nArgs(1, "NAME"),
			RunE: a.withSA(0, func(ctx context.Context, c *admin.Client, ws string, args []string) error {
				if err := c.DeleteServiceAccount(ctx, ws, args[0]); err != nil {
					return err
				}
				sa := saName(args[0], ws)
				return a.acted(actionResult{Action: "deleted", ServiceAccount: sa}, "deleted service account "+sa)
			}),
		},
	)
	return cmd
}

// saVerb builds "sa VERB NAME" for a call that answers the account.
func (a *app) saVerb(verb, short string, call func(*admin.Client, context.Context, string, string) (keystore.ServiceAccount, error)) *cobra.Command {
	return &cobra.Command{
		Use:   verb + " NAME",
		Short: short,
		Args:  nArgs(1, "NAME"),
		RunE: a.withSA(0, func(ctx context.Context, c *admin.Client, ws string, args []string) error {
			sa, err := call(c, ctx, ws, args[0])
			if err != nil {
				return err
			}
			return a.show(sa, func() error { return a.table(saHeader, [][]string{saRow(sa)}) })
		}),
	}
}

// withWS wraps a subcommand that needs the workspace and a client.
func (a *app) withWS(f func(ctx context.Context, c *admin.Client, ws string, args []string) error) func(*cobra.Command, []string) error {
	return a.withSA(-1, f)
}

// withSA wraps a subcommand whose argument saArg (-1: none) names a service account: with
// no -w and no $SAGATE_WORKSPACE, a full name NAME@WORKSPACE gives the workspace.
func (a *app) withSA(saArg int, f func(ctx context.Context, c *admin.Client, ws string, args []string) error) func(*cobra.Command, []string) error {
	return func(cmd *cobra.Command, args []string) error {
		var (
			ws  string
			err error
		)
		if saArg >= 0 && saArg < len(args) {
			ws, err = a.wsFor(args[saArg])
		} else {
			ws, err = a.ws()
		}
		if err != nil {
			return err
		}
		c, err := a.client()
		if err != nil {
			return err
		}
		return f(cmd.Context(), c, ws, args)
	}
}

// parseRateLimit reads --rate-limit: RPS or RPS/BURST, or "none" (nil: no limit). The
// bounds are the admin's to check (keystore.CheckRateLimit).
func parseRateLimit(s string) (*keystore.RateLimit, error) {
	if s == "none" {
		return nil, nil
	}
	rps, burst, hasBurst := strings.Cut(s, "/")
	var rl keystore.RateLimit
	var err error
	if rl.RPS, err = strconv.ParseFloat(rps, 64); err != nil {
		return nil, usagef("--rate-limit must be RPS or RPS/BURST (e.g. 10 or 10/20), or none, not %q", s)
	}
	if hasBurst {
		if rl.Burst, err = strconv.ParseInt(burst, 10, 64); err != nil {
			return nil, usagef("--rate-limit's burst must be a whole number of requests (e.g. 10/20), not %q", burst)
		}
	}
	return &rl, nil
}

// rateLimitText describes an account's rate limit for a table.
func rateLimitText(rl *keystore.RateLimit) string {
	if rl == nil {
		return "none"
	}
	return fmt.Sprintf("%s requests/s, burst %d, per sidecar", strconv.FormatFloat(rl.RPS, 'g', -1, 64), rl.Burst)
}
