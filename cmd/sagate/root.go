package main

import (
	"io"
	"strings"

	"github.com/spf13/cobra"

	"github.com/sagate/sagate/admin"
)

// Defaults and environment variables of the CLI.
const (
	defaultListen   = "127.0.0.1:8081" // sagate serve --listen: loopback only unless asked
	defaultAdminURL = "http://" + defaultListen
	envAdminURL     = "SAGATE_ADMIN_URL"
	envAdminToken   = "SAGATE_ADMIN_TOKEN"
	envAdminCA      = "SAGATE_ADMIN_CA"
	envWorkspace    = "SAGATE_WORKSPACE"
)

// app is the state shared by every subcommand: where to write, the environment, and the global flags.
type app struct {
	getenv         func(string) string
	stdout, stderr io.Writer

	output    string // -o: table or json
	workspace string // -w
	adminURL  string // --admin-url
	caFile    string // --ca-file

	// sync is what the admin said about the command's change reaching Redis (admin.TrackSync).
	sync *admin.SyncStatus
}

// newRoot builds the sagate command tree.
func newRoot(a *app) *cobra.Command {
	root := &cobra.Command{
		Use:   "sagate",
		Short: "Service-account API keys in front of existing HTTP APIs",
		Long: "sagate serve runs the admin endpoint; every other subcommand is a client of it.\n\n" +
			"Environment: " + envAdminURL + " (default " + defaultAdminURL + "), " + envAdminToken + " (an operator token, or a service account's sak_ key: it then acts with that account's rights; sagate whoami says which), " + envAdminCA + ", " + envWorkspace + " (or -w).\n" +
			"Accounts are named by name, full name (NAME@WORKSPACE, which also gives the workspace) or id.\n" +
			"Exit status: 0 done, 1 the admin refused, failed or could not be reached, 2 a usage mistake (nothing was sent).\n" +
			"With -o json, errors are {\"error\": {\"code\", \"message\"}} on stderr.",
		Version:       buildVersion(),
		SilenceUsage:  true,
		SilenceErrors: true,
		Args:          subcommandArgs,
		RunE:          func(cmd *cobra.Command, _ []string) error { return cmd.Help() },
		PersistentPreRunE: func(cmd *cobra.Command, args []string) error {
			if a.output != "table" && a.output != "json" {
				return usagef("-o must be table or json, not %q", a.output)
			}
			ctx, st := admin.TrackSync(cmd.Context())
			cmd.SetContext(ctx)
			a.sync = st
			return nil
		},
	}
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return usagef("%v", err) })
	pf := root.PersistentFlags()
	pf.StringVarP(&a.output, "output", "o", "table", "output format: table or json")
	pf.StringVarP(&a.workspace, "workspace", "w", "", "workspace (default $"+envWorkspace+")")
	pf.StringVar(&a.adminURL, "admin-url", "", "admin endpoint URL, http:// or https:// (default $"+envAdminURL+" or "+defaultAdminURL+")")
	pf.StringVar(&a.caFile, "ca-file", "", "PEM file of the CA that signed the admin's https certificate, instead of the system's roots (default $"+envAdminCA+")")
	root.AddCommand(
		a.serveCmd(),
		a.signingKeyCmd(),
		a.assertionKeyCmd(),
		a.workspaceCmd(),
		a.saCmd(),
		a.keyCmd(),
		a.projectCmd(),
		a.groupCmd(),
		a.auditCmd(),
		a.redisACLCmd(),
		a.doctorCmd(),
		a.versionCmd(),
		a.whoamiCmd(),
	)
	addShortAliases(root)
	return root
}

// nArgs wraps a cobra.PositionalArgs so that its complaint is a usage error.
func nArgs(n int, names string) cobra.PositionalArgs {
	return func(cmd *cobra.Command, got []string) error {
		if len(got) != n {
			return usagef("%s takes %d argument(s): %s (got %d)", cmd.CommandPath(), n, names, len(got))
		}
		return nil
	}
}

// adminBase is the admin's URL: --admin-url, $SAGATE_ADMIN_URL, or the default.
func (a *app) adminBase() string {
	if a.adminURL != "" {
		return a.adminURL
	}
	if u := a.getenv(envAdminURL); u != "" {
		return u
	}
	return defaultAdminURL
}

// client returns an admin client from the environment and flags.
func (a *app) client() (*admin.Client, error) {
	token := a.getenv(envAdminToken)
	if token == "" {
		return nil, configf("no credential: set %s to an operator token or a service account's sak_ key", envAdminToken)
	}
	opts := []admin.ClientOption{admin.WithUserAgent("sagate-cli/" + buildVersion())}
	ca := a.caFile
	if ca == "" {
		ca = a.getenv(envAdminCA)
	}
	if ca != "" {
		pool, err := admin.LoadCAFile(ca)
		if err != nil {
			return nil, configf("%v (set by --ca-file or %s)", err, envAdminCA)
		}
		opts = append(opts, admin.WithRootCAs(pool))
	}
	c, err := admin.NewClient(a.adminBase(), token, opts...)
	if err != nil {
		return nil, configf("%v: set --admin-url or %s", err, envAdminURL)
	}
	return c, nil
}

// ws returns the workspace from -w or $SAGATE_WORKSPACE.
func (a *app) ws() (string, error) {
	if a.workspace != "" {
		return a.workspace, nil
	}
	if w := a.getenv(envWorkspace); w != "" {
		return w, nil
	}
	return "", usagef("no workspace: pass -w WORKSPACE or set %s", envWorkspace)
}

// wsFor returns the workspace of a command naming account ref: -w or $SAGATE_WORKSPACE,
// else the workspace of a full name "name@workspace".
func (a *app) wsFor(ref string) (string, error) {
	ws, err := a.ws()
	if err == nil {
		return ws, nil
	}
	if _, w, ok := strings.Cut(ref, "@"); ok && w != "" {
		return w, nil
	}
	return "", usagef("no workspace: pass -w WORKSPACE, set %s, or name the account in full (NAME@WORKSPACE)", envWorkspace)
}
