// Command sagate runs the admin endpoint (sagate serve) and drives it: every other
// subcommand is a client of the admin HTTP API (docs/api.md).
//
// Environment: SAGATE_ADMIN_URL (default http://127.0.0.1:8081), SAGATE_ADMIN_TOKEN,
// SAGATE_ADMIN_CA (or --ca-file: a private CA of an https admin), SAGATE_WORKSPACE (or -w).
// Output: tables for people, -o json for scripts. Errors go to stderr ("sagate: …", or
// {"error": {"code", "message"}} with -o json) and exit with status 1 when the admin
// refused, failed or could not be reached, 2 for a usage mistake (nothing was sent).
// A change committed but not yet in Redis is said on stderr (or in the JSON object's
// "sync" field).
package main

import (
	"context"
	"io"
	"os"
)

// version is set at build time: go build -ldflags "-X main.version=v1.2.3".
var version = "dev"

func main() {
	os.Exit(run(context.Background(), os.Args[1:], os.Getenv, os.Stdout, os.Stderr))
}

// run executes the command line args and returns the process exit status (exitOK,
// exitError, exitUsage).
func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) int {
	a := &app{getenv: getenv, stdout: stdout, stderr: stderr}
	root := newRoot(a)
	root.SetArgs(args)
	root.SetOut(stdout)
	root.SetErr(stderr)
	cmd, err := root.ExecuteContextC(ctx)
	if err == nil {
		return exitOK
	}
	return a.report(a.classify(cmd, err), a.output == "json" || wantsJSON(args))
}
