package main

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/sagate/sagate/keystore/redisurl"
	"github.com/sagate/sagate/keystore/wire"
)

// Roles sagate doctor checks a host for.
const (
	roleSidecar = "sidecar" // an API host: Caddy with sagate
	roleAdmin   = "admin"   // a host running sagate serve
)

// doctorTimeout bounds each Redis or store call of sagate doctor: a check that cannot
// answer within it fails rather than hangs.
const doctorTimeout = 5 * time.Second

// Statuses of a check.
const (
	statusOK   = "ok"
	statusWarn = "warn" // worth fixing; does not fail the run
	statusFail = "fail"
)

// check is one line of the doctor's checklist: what was checked, what was found,
// and, when it is not ok, what to do.
type check struct {
	Name   string `json:"name"`
	Status string `json:"status"`
	Detail string `json:"detail"`
	Fix    string `json:"fix,omitempty"`
}

// doctorOptions are the flags of sagate doctor.
type doctorOptions struct {
	role           string
	redis          string
	signingKeys    []string
	caddyfile      string
	store          string
	signingKeyFile string
	tokenFile      string
}

// doctorTarget is one Redis and the public keys a host trusts on it.
type doctorTarget struct {
	redis string
	keys  []string
	where string // where it was configured: "flags" or "Caddyfile:LINE"
}

// doctorCmd: sagate doctor checks a host's setup before traffic arrives.
func (a *app) doctorCmd() *cobra.Command {
	var o doctorOptions
	cmd := &cobra.Command{
		Use:   "doctor",
		Short: "Check this host's setup (an API host's sidecar, or an admin) and say how to fix what is wrong",
		Long: `Checks what this host needs and prints a checklist, with the fix for each failure.
It exits 1 when any check fails, 0 when every check passed or only warned.

On an API host (--role sidecar, the default), give the sidecar's Redis URL and public keys
(--redis URL --signing-keys KEY...), or the Caddyfile that holds its sagate block
(--caddyfile FILE; {$VAR} and {env.VAR} are read from the environment; every distinct
redis and signing_keys pair in it is checked).

On an admin host (--role admin), give serve's --redis, --store and --signing-key-file (or
$` + envSigningKeyFile + `) and --admin-token-file (or $` + envAdminToken + `).

Checks: Redis answers, and its version; the Redis user may do what the role needs and, for a
sidecar, may not write records (least-privilege users: sagate redis-acl); the epoch and
revision markers and the newest event verify with the public keys; the clock against Redis
TIME; the events stream keeps up with the revision marker; Redis does not evict keys. For an
admin also: the store opens, the signing key file is private (0600), the admin token is
strong, and a primary with replicas has min-replicas-to-write set.

Nothing is written to Redis or the store: permissions are probed with commands that
change nothing (a DEL of a key that does not exist).`,
		Args: nArgs(0, "none"),
		RunE: func(cmd *cobra.Command, _ []string) error { return a.doctor(cmd.Context(), o) },
	}
	f := cmd.Flags()
	f.StringVar(&o.role, "role", roleSidecar, "what this host runs: sidecar (an API host) or admin (sagate serve)")
	f.StringVar(&o.redis, "redis", "", "the Redis URL this host uses (sidecar: the Caddyfile's redis; admin: serve's --redis)")
	f.StringSliceVar(&o.signingKeys, "signing-keys", nil, "sidecar: the public keys of its signing_keys (comma-separated or repeated)")
	f.StringVar(&o.caddyfile, "caddyfile", "", "sidecar: read redis and signing_keys from the sagate blocks of this Caddyfile")
	f.StringVar(&o.store, "store", "", "admin: the store URL of serve's --store")
	f.StringVar(&o.signingKeyFile, "signing-key-file", "", "admin: the signing key file (default $"+envSigningKeyFile+")")
	f.StringVar(&o.tokenFile, "admin-token-file", "", "admin: the file holding the admin token (default $"+envAdminToken+")")
	return cmd
}

// doctor runs the checks of o's role and prints them; it fails when one failed.
func (a *app) doctor(ctx context.Context, o doctorOptions) error {
	var checks []check
	switch o.role {
	case roleSidecar:
		targets, err := a.sidecarTargets(o)
		if err != nil {
			return err
		}
		for _, t := range targets {
			checks = append(checks, check{Name: "configuration", Status: statusOK,
				Detail: fmt.Sprintf("%s: redis %s, %d public key(s)", t.where, redisurl.Redacted(t.redis), len(t.keys))})
			checks = append(checks, sidecarChecks(ctx, t)...)
		}
	case roleAdmin:
		if o.redis == "" || o.store == "" {
			return usagef("--role admin needs --redis and --store (as given to sagate serve)")
		}
		checks = a.adminChecks(ctx, o)
	default:
		return usagef("--role must be %s or %s, not %q", roleSidecar, roleAdmin, o.role)
	}
	return a.printChecks(o.role, checks)
}

// sidecarTargets returns what a sidecar's checks run against: the flags, or the
// Caddyfile's sagate blocks.
func (a *app) sidecarTargets(o doctorOptions) ([]doctorTarget, error) {
	if o.store != "" || o.tokenFile != "" || o.signingKeyFile != "" {
		return nil, usagef("--store, --signing-key-file and --admin-token-file are for --role admin")
	}
	if o.caddyfile != "" {
		if o.redis != "" || len(o.signingKeys) > 0 {
			return nil, usagef("give --caddyfile, or --redis and --signing-keys, not both")
		}
		ts, err := caddyfileTargets(o.caddyfile, a.getenv)
		if err != nil {
			return nil, configf("%v", err)
		}
		return ts, nil
	}
	if o.redis == "" || len(o.signingKeys) == 0 {
		return nil, usagef("give --redis URL and --signing-keys KEY (the sidecar's), or --caddyfile FILE")
	}
	return []doctorTarget{{redis: o.redis, keys: o.signingKeys, where: "flags"}}, nil
}

// printChecks writes the checklist (a table, or JSON with -o json) and returns an error
// when a check failed.
func (a *app) printChecks(role string, checks []check) error {
	failed := 0
	for _, c := range checks {
		if c.Status == statusFail {
			failed++
		}
	}
	if a.output == "json" {
		enc := json.NewEncoder(a.stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(struct {
			Role   string  `json:"role"`
			OK     bool    `json:"ok"`
			Checks []check `json:"checks"`
		}{role, failed == 0, checks}); err != nil {
			return err
		}
	} else {
		for _, c := range checks {
			fmt.Fprintf(a.stdout, "%-4s  %-14s %s\n", strings.ToUpper(c.Status), c.Name, c.Detail)
			if c.Fix != "" {
				fmt.Fprintf(a.stdout, "      %-14s fix: %s\n", "", c.Fix)
			}
		}
	}
	if failed > 0 {
		return fmt.Errorf("doctor: %d check(s) failed", failed)
	}
	return nil
}

// trustedKeys are the public keys a host verifies Redis' values with, and their ids
// (for messages).
type trustedKeys struct {
	ver *wire.Verifier
	ids []string
}

// newTrustedKeys trusts pubs.
func newTrustedKeys(pubs ...wire.PublicKey) *trustedKeys {
	tk := &trustedKeys{ver: wire.NewVerifier(pubs...)}
	for _, p := range pubs {
		tk.ids = append(tk.ids, p.ID())
	}
	return tk
}

// parsePublicKeys parses the sidecar's signing_keys (each may hold several, comma-separated).
func parsePublicKeys(keys []string) (*trustedKeys, error) {
	var pubs []wire.PublicKey
	for _, k := range keys {
		for s := range strings.SplitSeq(k, ",") {
			if s = strings.TrimSpace(s); s == "" {
				continue
			}
			p, err := wire.ParsePublicKey(s)
			if err != nil {
				return nil, err
			}
			pubs = append(pubs, p)
		}
	}
	if len(pubs) == 0 {
		return nil, fmt.Errorf("no public key")
	}
	return newTrustedKeys(pubs...), nil
}
