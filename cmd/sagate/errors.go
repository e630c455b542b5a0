package main

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strings"

	"github.com/spf13/cobra"

	"github.com/sagate/sagate/admin"
	"github.com/sagate/sagate/keystore"
)

// Exit statuses of the CLI.
const (
	exitOK    = 0
	exitError = 1 // the admin refused or failed the request, or could not be reached
	exitUsage = 2 // the command line or the environment is wrong: nothing was sent
)

// Codes of the CLI's own errors in -o json; API errors keep the admin's code (docs/api.md).
const (
	codeUsage       = "usage"       // a mistake on the command line or in the environment
	codeUnavailable = "unavailable" // the admin could not be reached
	codeError       = "error"       // anything else
)

// usageError is a mistake on the command line or in the environment; nothing was sent.
// help is false for mistakes the command's --help does not explain (a missing token).
type usageError struct {
	msg  string
	help bool
}

func (e *usageError) Error() string { return e.msg }

// usagef is a usage error that points at the command's --help.
func usagef(format string, args ...any) error {
	return &usageError{msg: fmt.Sprintf(format, args...), help: true}
}

// configf is a usage error of the environment (a variable or a file), not of the command line.
func configf(format string, args ...any) error {
	return &usageError{msg: fmt.Sprintf(format, args...)}
}

// suggestionDistance is the largest edit distance of a suggested subcommand ("craete" → create).
const suggestionDistance = 2

// unknownCommand is the usage error of a word that is no subcommand of cmd, with cobra's
// suggestions ("did you mean create?").
func unknownCommand(cmd *cobra.Command, word string) error {
	msg := fmt.Sprintf("unknown command %q for %q", word, cmd.CommandPath())
	if cmd.SuggestionsMinimumDistance <= 0 {
		cmd.SuggestionsMinimumDistance = suggestionDistance // SuggestionsFor takes 0 as 0, not as the default
	}
	if s := cmd.SuggestionsFor(word); len(s) > 0 {
		msg += "; did you mean " + strings.Join(s, " or ") + "?"
	}
	return usagef("%s", msg)
}

// subcommandArgs is the Args of a command that holds subcommands: a word that names none
// of them is an unknown command, with suggestions. (cobra suggests only at the root, and
// only when Args is nil.)
func subcommandArgs(cmd *cobra.Command, args []string) error {
	if len(args) > 0 {
		return unknownCommand(cmd, args[0])
	}
	return nil
}

// cliError is what the CLI reports of a failure: a stable code, a message that says what
// to do, and the exit status.
type cliError struct {
	Code    string `json:"code"`
	Message string `json:"message"`
	Status  int    `json:"status,omitempty"` // the admin's HTTP status, for API errors
	exit    int
	help    string // "sagate key rotate": point at its --help
}

// apiFields names, for an API field in an invalid_argument message ("retain: must be …"),
// the flags or arguments of the CLI that may set it, in order of preference.
var apiFields = map[string][]string{
	"all_projects_role":    {"--all-projects-role"},
	"key_expires_in":       {"--key-expires-in"},
	"expires_in":           {"--expires-in"},
	"retain":               {"--retain"},
	"max_service_accounts": {"--max-service-accounts"},
	"description":          {"--description"},
	"role":                 {"--role"},
	"name":                 {"--name", "NAME"},
	"key":                  {"KEY"},
	"service_account":      {"SA", "NAME"},
	"project":              {"PROJECT"},
	"workspace":            {"-w"}, // NAME under "sagate workspace"
}

// fieldName returns the flag or argument of cmd that sets API field, or "".
func fieldName(cmd *cobra.Command, field string) string {
	for _, name := range apiFields[field] {
		switch {
		case strings.HasPrefix(name, "--"):
			if cmd.Flags().Lookup(name[2:]) != nil {
				return name
			}
		case name == "-w":
			if cmd.HasParent() && cmd.Parent().Name() == "workspace" {
				return "NAME"
			}
			return "-w WORKSPACE (or " + envWorkspace + ")"
		case slices.Contains(strings.Fields(cmd.Use), name):
			return name
		}
	}
	return ""
}

// classify turns the error of a run of cmd (may be nil) into what the CLI reports.
func (a *app) classify(cmd *cobra.Command, err error) cliError {
	var (
		ue     *usageError
		ae     *admin.APIError
		urlErr *url.Error
	)
	switch {
	case errors.As(err, &ue):
		ce := cliError{Code: codeUsage, Message: ue.msg, exit: exitUsage}
		if ue.help && cmd != nil {
			ce.help = cmd.CommandPath()
		}
		return ce
	case errors.As(err, &ae):
		return cliError{Code: apiCode(ae), Message: a.apiMessage(cmd, ae), Status: ae.Status, exit: exitError}
	case errors.As(err, &urlErr):
		return cliError{Code: codeUnavailable, Message: a.unreachable(err), exit: exitError}
	}
	msg := err.Error()
	// cobra's own complaints about the command line.
	for _, p := range []string{"required flag", "unknown command", "unknown flag", "unknown shorthand flag", "invalid argument", "flag needs an argument"} {
		if strings.HasPrefix(msg, p) {
			ce := cliError{Code: codeUsage, Message: msg, exit: exitUsage}
			if cmd != nil {
				ce.help = cmd.CommandPath()
			}
			return ce
		}
	}
	return cliError{Code: codeError, Message: msg, exit: exitError}
}

// apiCode is the code of an API error; an answer that was not the API's JSON gets "http_<status>".
func apiCode(e *admin.APIError) string {
	if e.Code != "" {
		return e.Code
	}
	return fmt.Sprintf("http_%d", e.Status)
}

// apiMessage says an API error so that it names what fixes it: the environment variable
// of a refused token, the flag or argument of an invalid field, -w of a missing workspace.
func (a *app) apiMessage(cmd *cobra.Command, e *admin.APIError) string {
	switch e.Code {
	case admin.CodeUnauthenticated:
		if strings.HasPrefix(a.getenv(envAdminToken), keystore.KeyPrefix) {
			// The admin says why a key's holder cannot act (e.g. its account is deactivated).
			return "the admin refused the sak_ key in " + envAdminToken + ": " + e.Message
		}
		return "the admin refused the admin token: check " + envAdminToken
	case admin.CodeInvalid:
		field, rest, ok := strings.Cut(e.Message, ": ")
		if ok && cmd != nil {
			if name := fieldName(cmd, field); name != "" {
				return name + ": " + rest
			}
		}
	case admin.CodeNotFound:
		if strings.HasPrefix(e.Message, "workspace ") {
			return e.Message + " (the workspace comes from -w or " + envWorkspace + ")"
		}
	}
	if e.Code == "" {
		return fmt.Sprintf("the admin answered %d %s; is %s (now %s) the admin's URL?", e.Status, e.Message, envAdminURL, a.adminBase())
	}
	return e.Message
}

// unreachable says that the admin could not be reached, and what to check.
func (a *app) unreachable(err error) string {
	var (
		ua  x509.UnknownAuthorityError
		cve *tls.CertificateVerificationError
	)
	if errors.As(err, &ua) || errors.As(err, &cve) {
		return fmt.Sprintf("cannot verify the admin's certificate at %s (%v): set %s or --ca-file to the CA that signed it",
			a.adminBase(), innermost(err), envAdminCA)
	}
	return fmt.Sprintf("cannot reach the admin at %s (%v): is sagate serve running? set %s or --admin-url (now %s)",
		a.adminBase(), innermost(err), envAdminURL, a.adminBase())
}

// innermost is the cause at the end of err's chain ("connection refused"), or err.
func innermost(err error) error {
	for {
		next := errors.Unwrap(err)
		if next == nil {
			return err
		}
		err = next
	}
}

// report prints a failure on stderr: "sagate: message" and a pointer to the command's
// help, or {"error": {"code", "message"}} with -o json. It returns the exit status.
func (a *app) report(ce cliError, jsonOut bool) int {
	if jsonOut {
		body := map[string]any{"error": ce}
		if a.pending() {
			body["sync"] = *a.sync
		}
		b, _ := json.Marshal(body) // strings, ints and a SyncStatus always encode
		fmt.Fprintln(a.stderr, string(b))
		return ce.exit
	}
	fmt.Fprintf(a.stderr, "sagate: %s\n", ce.Message)
	a.syncNotice() // a change committed before the failure
	if ce.help != "" {
		fmt.Fprintf(a.stderr, "Run '%s --help' for usage.\n", ce.help)
	}
	return ce.exit
}

// wantsJSON reports whether the command line asks for -o json, read from the raw args so
// that it holds even when flag parsing failed before reaching -o.
func wantsJSON(args []string) bool {
	for i, s := range args {
		switch {
		case s == "--":
			return false
		case s == "-ojson", s == "-o=json", s == "--output=json":
			return true
		case (s == "-o" || s == "--output") && i+1 < len(args) && args[i+1] == "json":
			return true
		}
	}
	return false
}
