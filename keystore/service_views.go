package keystore

import (
	"context"
	"errors"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// The read views of this file serve screens that show many accounts at once (the web
// console): one query per page instead of one per account. They are implemented by
// the SQLite and PostgreSQL transactions through viewTx, outside the Tx interface, so
// that a Store needs them only if it serves such screens.

// ProjectRole is one grant of an account as a summary shows it.
type ProjectRole struct {
	Project string `json:"project"`
	Role    Role   `json:"role"`
}

// AccountSummary is an account with what a list shows about it: its grants, how many
// of its keys are live (active, not expired, of an active account: the keys a sidecar
// accepts) and when any of its keys was last used.
type AccountSummary struct {
	ServiceAccount
	Projects   []ProjectRole `json:"projects"`
	LiveKeys   int           `json:"live_keys"`
	LastUsedAt *time.Time    `json:"last_used_at"`
}

// AuditFilter narrows ListAuditFiltered. Zero fields do not filter.
type AuditFilter struct {
	Workspace string
	Action    string // exact, or a prefix when it ends with "." ("key.")
	Actor     string
	Since     time.Time // events at or after
	Until     time.Time // events before
}

// MaxFilterLen bounds a free-text filter (a name fragment, an actor), in characters.
const MaxFilterLen = 64

// viewTx is the part of a transaction that reads the views; both stores implement it.
type viewTx interface {
	// ListAccountSummaries returns up to limit accounts of ws whose name contains
	// contains and sorts after after, by name; live keys are counted at now.
	ListAccountSummaries(ctx context.Context, ws, contains, after string, now time.Time, limit int) ([]AccountSummary, error)
	// ListGrantsOfAccount returns every grant of account saID, by project.
	ListGrantsOfAccount(ctx context.Context, saID string) ([]Grant, error)
	// ListAuditFiltered is ListAudit restricted to the events f matches.
	ListAuditFiltered(ctx context.Context, f AuditFilter, beforeID int64, limit int) ([]AuditEvent, error)
}

// errNoViews is returned when the store's transactions do not implement the views.
var errNoViews = errors.New("the store does not implement the summary views")

func asViewTx(tx Tx) (viewTx, error) {
	if v, ok := tx.(viewTx); ok {
		return v, nil
	}
	return nil, errNoViews
}

// checkFilter accepts "" or at most MaxFilterLen printable characters.
func checkFilter(field, s string) error {
	if !utf8.ValidString(s) || utf8.RuneCountInString(s) > MaxFilterLen {
		return Invalid(field, "must be at most %d printable characters", MaxFilterLen)
	}
	for _, c := range s {
		if !unicode.IsPrint(c) {
			return Invalid(field, "must be at most %d printable characters", MaxFilterLen)
		}
	}
	return nil
}

// ListAccountSummaries lists a workspace's accounts by name with their grants, live key
// count and last use. contains ("" for all) keeps the accounts whose name contains it.
func (s *Service) ListAccountSummaries(ctx context.Context, ws, contains string, p Page) ([]AccountSummary, string, error) {
	if err := checkFilter("filter", contains); err != nil {
		return nil, "", err
	}
	size, after, err := parsePage(p, 1)
	if err != nil {
		return nil, "", err
	}
	now := s.now()
	var out []AccountSummary
	err = s.view(ctx, "listing account summaries", func(tx Tx) error {
		if _, err := getWorkspace(ctx, tx, ws); err != nil {
			return err
		}
		v, err := asViewTx(tx)
		if err != nil {
			return err
		}
		out, err = v.ListAccountSummaries(ctx, ws, strings.ToLower(contains), after[0], now, size+1)
		return err
	})
	for i := range out {
		if out[i].State != AccountActive {
			out[i].LiveKeys = 0 // a deactivated account's keys are all refused
		}
	}
	if err != nil {
		return nil, "", err
	}
	out, next := nextPage(out, size, func(a AccountSummary) []string { return []string{a.Name} })
	return out, next, nil
}

// GrantsOfAccount lists every grant of one account (by id or name), by project, in one answer.
func (s *Service) GrantsOfAccount(ctx context.Context, ws, saRef string) ([]Grant, error) {
	var out []Grant
	err := s.view(ctx, "listing an account's grants", func(tx Tx) error {
		sa, err := getAccount(ctx, tx, ws, saRef)
		if err != nil {
			return err
		}
		v, err := asViewTx(tx)
		if err != nil {
			return err
		}
		out, err = v.ListGrantsOfAccount(ctx, sa.ID)
		for i := range out {
			out[i].ServiceAccount = sa.FullName
		}
		return err
	})
	return out, err
}

// ListAuditFiltered lists the admin actions f matches, newest first.
func (s *Service) ListAuditFiltered(ctx context.Context, f AuditFilter, p Page) ([]AuditEvent, string, error) {
	if f.Workspace != "" {
		if err := ValidateSlug("workspace", f.Workspace); err != nil {
			return nil, "", err
		}
	}
	if err := checkFilter("action", f.Action); err != nil {
		return nil, "", err
	}
	if err := checkFilter("actor", f.Actor); err != nil {
		return nil, "", err
	}
	if !f.Since.IsZero() && !f.Until.IsZero() && !f.Until.After(f.Since) {
		return nil, "", Invalid("until", "must be after since")
	}
	size, after, err := parsePage(p, 1)
	if err != nil {
		return nil, "", err
	}
	var before int64
	if after[0] != "" {
		if before, err = strconv.ParseInt(after[0], 10, 64); err != nil || before <= 0 {
			return nil, "", Invalid("page_token", "is not a token from a previous page of this list")
		}
	}
	var evs []AuditEvent
	err = s.view(ctx, "listing audit events", func(tx Tx) error {
		v, err := asViewTx(tx)
		if err != nil {
			return err
		}
		evs, err = v.ListAuditFiltered(ctx, f, before, size+1)
		return err
	})
	if err != nil {
		return nil, "", err
	}
	evs, next := nextPage(evs, size, func(e AuditEvent) []string { return []string{strconv.FormatInt(e.ID, 10)} })
	return evs, next, nil
}

// parseProjects decodes the "project:role,project:role" aggregate the stores return,
// sorted by project. Project names and roles never hold ':' or ','.
func parseProjects(agg string) []ProjectRole {
	if agg == "" {
		return nil
	}
	var out []ProjectRole
	for _, pr := range strings.Split(agg, ",") {
		p, r, _ := strings.Cut(pr, ":")
		out = append(out, ProjectRole{Project: p, Role: Role(r)})
	}
	slices.SortFunc(out, func(a, b ProjectRole) int { return strings.Compare(a.Project, b.Project) })
	return out
}

// auditWhere builds the WHERE clause of a filtered audit query; ph returns the
// placeholder of the n-th argument (1-based) in the store's dialect.
func auditWhere(f AuditFilter, beforeID int64, ph func(n int) string, t func(time.Time) any) (string, []any) {
	if beforeID <= 0 {
		beforeID = 1<<63 - 1
	}
	args := []any{beforeID}
	conds := []string{"id < " + ph(1)}
	add := func(cond string, v any) {
		args = append(args, v)
		conds = append(conds, strings.ReplaceAll(cond, "?", ph(len(args))))
	}
	if f.Workspace != "" {
		add("workspace = ?", f.Workspace)
	}
	if strings.HasSuffix(f.Action, ".") {
		add("substr(action, 1, "+strconv.Itoa(len(f.Action))+") = ?", f.Action)
	} else if f.Action != "" {
		add("action = ?", f.Action)
	}
	if f.Actor != "" {
		add("actor = ?", f.Actor)
	}
	if !f.Since.IsZero() {
		add("at >= ?", t(f.Since))
	}
	if !f.Until.IsZero() {
		add("at < ?", t(f.Until))
	}
	return strings.Join(conds, " AND "), args
}
