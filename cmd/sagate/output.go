package main

import (
	"encoding/json"
	"fmt"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/sagate/sagate/admin"
	"github.com/sagate/sagate/keystore"
)

// keyNote is the warning printed with a freshly issued key in table mode.
const keyNote = "Store this key now: it will not be shown again."

// printJSON writes v as indented JSON: the API's own shapes, for scripts.
func (a *app) printJSON(v any) error {
	enc := json.NewEncoder(a.stdout)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return fmt.Errorf("writing JSON: %w", err)
	}
	return nil
}

// table writes a header row and rows, tab-aligned.
func (a *app) table(header []string, rows [][]string) error {
	tw := tabwriter.NewWriter(a.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, strings.Join(header, "\t"))
	for _, r := range rows {
		for i, c := range r {
			r[i] = cell(c)
		}
		fmt.Fprintln(tw, strings.Join(r, "\t"))
	}
	if err := tw.Flush(); err != nil {
		return fmt.Errorf("writing the table: %w", err)
	}
	return nil
}

// cell makes free text safe for one table cell: no tabs, newlines or control characters.
func cell(s string) string {
	if s == "" {
		return "-"
	}
	return strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f {
			return ' '
		}
		return r
	}, s)
}

// show prints v as JSON, or as a table built by tbl. When the command's change has not
// reached Redis, the JSON object gets a "sync" field, and the table a notice on stderr.
func (a *app) show(v any, tbl func() error) error {
	if a.output == "json" {
		if a.pending() {
			return a.printJSON(withSync(v, *a.sync))
		}
		return a.printJSON(v)
	}
	if err := tbl(); err != nil {
		return err
	}
	a.syncNotice()
	return nil
}

// pending reports whether the admin said the command's change has not reached Redis.
func (a *app) pending() bool { return a.sync != nil && a.sync.Pending() }

// syncNotice tells, on stderr, that the command's change is committed but not yet at
// the sidecars ("committed; not yet at the sidecars: Redis unreachable, retrying").
func (a *app) syncNotice() {
	if a.pending() {
		fmt.Fprintf(a.stderr, "committed; %s\n", a.sync.Notice())
	}
}

// withSync returns v's JSON object with a "sync" field holding st; v unchanged when it is not an object.
func withSync(v any, st admin.SyncStatus) any {
	b, err := json.Marshal(v)
	if err != nil || len(b) < 2 || b[0] != '{' {
		return v
	}
	sb, err := json.Marshal(st)
	if err != nil {
		return v
	}
	out := append([]byte(nil), b[:len(b)-1]...)
	if len(b) > 2 {
		out = append(out, ',')
	}
	out = append(out, `"sync":`...)
	out = append(out, sb...)
	return json.RawMessage(append(out, '}'))
}

// showList prints items as the API's list shape ({"items": …, "next_page_token": ""}) or as a table.
func showList[T any](a *app, items []T, header []string, row func(T) []string) error {
	if items == nil {
		items = []T{}
	}
	return a.show(admin.List[T]{Items: items}, func() error {
		rows := make([][]string, 0, len(items))
		for _, it := range items {
			rows = append(rows, row(it))
		}
		return a.table(header, rows)
	})
}

// done prints a line in table mode and nothing in json mode (the audit's "more" pointer).
func (a *app) done(format string, args ...any) {
	if a.output != "json" {
		fmt.Fprintf(a.stdout, format+"\n", args...)
	}
}

// actionResult is the CLI's JSON answer of a command whose API call answers nothing (204):
// what it did ("deleted", "revoked", "already_revoked", "unassigned") and to what.
type actionResult struct {
	Action         string `json:"action"`
	ServiceAccount string `json:"service_account,omitempty"`
	Person         string `json:"person,omitempty"`
	Key            string `json:"key,omitempty"`
	Project        string `json:"project,omitempty"`
	Group          string `json:"group,omitempty"`
	Member         string `json:"member,omitempty"`
	Principal      string `json:"principal,omitempty"`
	Workspace      string `json:"workspace,omitempty"`
}

// acted prints r as JSON, or line in table mode.
func (a *app) acted(r actionResult, line string) error {
	return a.show(r, func() error {
		_, err := fmt.Fprintln(a.stdout, line)
		return err
	})
}

// saName names account ref of workspace ws for people: its full name, or its id.
func saName(ref, ws string) string {
	if strings.Contains(ref, "@") || strings.HasPrefix(ref, keystore.ServiceAccountIDPrefix) {
		return ref
	}
	return keystore.FullName(ref, ws)
}

func ts(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return t.UTC().Format(time.RFC3339)
}

func tsPtr(t *time.Time, none string) string {
	if t == nil {
		return none
	}
	return ts(*t)
}

var (
	saHeader    = []string{"NAME", "ID", "STATE", "DESCRIPTION", "OWNER", "CREATED BY", "CREATED"}
	keyHeader   = []string{"ID", "NAME", "LAST6", "STATE", "EXPIRES", "LAST USED", "CREATED"}
	grantHeader = []string{"PROJECT", "SERVICE ACCOUNT", "ROLE", "UPDATED"}
)

func saRow(s keystore.ServiceAccount) []string {
	return []string{s.FullName, s.ID, string(s.State), s.Description, s.Owner, s.CreatedBy, ts(s.CreatedAt)}
}

// keyRow shows a key; its STATE is what decides whether it passes now (usable, reason),
// so that a key of a deactivated account never reads "active".
func keyRow(k keystore.APIKey) []string {
	state := strings.ReplaceAll(keyState(k), "_", " ")
	return []string{k.ID, k.Name, k.Last6, state, tsPtr(k.ExpiresAt, "never"), tsPtr(k.LastUsedAt, "never"), ts(k.CreatedAt)}
}

// keyStates are the states key list --state takes, as keyState names them.
var keyStates = []string{"active", "deactivated", "expired", "revoked", "account_deactivated"}

// keyState is what decides whether k passes now: its own state, unless it has expired
// or its account is deactivated.
func keyState(k keystore.APIKey) string {
	switch k.Reason {
	case keystore.ReasonExpired:
		return "expired"
	case keystore.ReasonAccountDeactivated:
		return "account_deactivated"
	}
	return string(k.State)
}

func grantRow(g keystore.Grant) []string {
	return []string{g.Project, g.ServiceAccount, string(g.Role), ts(g.UpdatedAt)}
}

// newKey is the CLI's JSON answer of every command that makes a key: the key is always
// at .api_key, as in the answer of sa create and sa reactivate.
type newKey struct {
	APIKey keystore.IssuedKey `json:"api_key"`
	// PreviousKey is, after key rotate, the old key: revoked, or valid until its expires_at.
	PreviousKey *keystore.APIKey `json:"previous_key,omitempty"`
}

// issued prints a freshly issued key: its description and the secret on stdout, and the
// "store it now" note on stderr.
func (a *app) issued(k keystore.IssuedKey) error {
	err := a.table([]string{"KEY ID", "NAME", "LAST6", "EXPIRES"},
		[][]string{{k.ID, k.Name, k.Last6, tsPtr(k.ExpiresAt, "never")}})
	if err != nil {
		return err
	}
	fmt.Fprintf(a.stdout, "\n%s\n\n", k.Key)
	fmt.Fprintln(a.stderr, keyNote)
	return nil
}

// showAccountWithKey prints a service account and, when one was issued, its key.
func (a *app) showAccountWithKey(v admin.ServiceAccountWithKey) error {
	return a.show(v, func() error {
		if err := a.table(saHeader, [][]string{saRow(v.ServiceAccount)}); err != nil {
			return err
		}
		if v.APIKey == nil {
			return nil
		}
		fmt.Fprintln(a.stdout)
		return a.issued(*v.APIKey)
	})
}
