package main

import (
	"fmt"
	"io"

	"github.com/spf13/cobra"

	"github.com/sagate/sagate/admin"
)

// Defaults and environment variables of the CLI.
const (
	defaultAdminURL = "http://127.0.0.1:8081"
	envAdminURL     = "SAGATE_ADMIN_URL"
	envAdminToken   = "SAGATE_ADMIN_TOKEN"
	envWorkspace    = "SAGATE_WORKSPACE"
)

// app is the state shared by every subcommand: where to write, the environment, and the global flags.
type app struct {
	getenv         func(string) string
	stdout, stderr io.Writer

	output    string // -o: table or json
	workspace string // -w
	adminURL  string // --admin-url
}

// newRoot builds the sagate command tree.
func newRoot(a *app) *cobra.Command {
	root := &cobra.Command{
		Use:           "sagate",
		Short:         "Service-account API keys in front of existing HTTP APIs",
		Long:          "sagate serve runs the admin endpoint; every other subcommand is a client of it.\n\nEnvironment: " + envAdminURL + " (default " + defaultAdminURL + "), " + envAdminToken + " (an operator token, or a service account's sak_ key: it then acts with that account's rights; sagate whoami says which), " + envWorkspace + " (or -w).",
		Version:       version,
		SilenceUsage:  true,
		SilenceErrors: true,
		PersistentPreRunE: func(cmd *cobra.Command, args []string) error {
			if a.output != "table" && a.output != "json" {
				return usagef("-o must be table or json, not %q", a.output)
			}
			return nil
		},
	}
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return usagef("%v", err) })
	pf := root.PersistentFlags()
	pf.StringVarP(&a.output, "output", "o", "table", "output format: table or json")
	pf.StringVarP(&a.workspace, "workspace", "w", "", "workspace (default $"+envWorkspace+")")
	pf.StringVar(&a.adminURL, "admin-url", "", "admin endpoint URL (default $"+envAdminURL+" or "+defaultAdminURL+")")
	root.AddCommand(
		a.serveCmd(),
		a.workspaceCmd(),
		a.saCmd(),
		a.keyCmd(),
		a.projectCmd(),
		a.auditCmd(),
		a.whoamiCmd(),
	)
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

// client returns an admin client from the environment and flags.
func (a *app) client() (*admin.Client, error) {
	u := a.adminURL
	if u == "" {
		u = a.getenv(envAdminURL)
	}
	if u == "" {
		u = defaultAdminURL
	}
	token := a.getenv(envAdminToken)
	if token == "" {
		return nil, fmt.Errorf("no credential: set %s to an operator token or a service account's sak_ key", envAdminToken)
	}
	return admin.NewClient(u, token, admin.WithUserAgent("sagate-cli/"+version))
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
