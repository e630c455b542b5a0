package keystore

import (
	"context"
	"errors"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// The read views of this file serve screens (the web console): the account summaries,
// one query per page instead of one per account; what a principal manages (Reach), for
// navigation; and the one audit query, which GET /v1/audit and the CLI use as well. The
// views beyond Tx are implemented by the SQLite and PostgreSQL transactions through
// ViewTx, so that a Store needs them only if it serves such screens.

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

// AuditFilter narrows ListAudit. Zero fields do not filter.
type AuditFilter struct {
	Workspace string
	Action    string // exact, or a prefix when it ends with "." ("key.")
	// Actor is the principal reference of who acted, as Principal.Ref gives it:
	// "operator:NAME", "sa:ID" or "person:NAME"; ListAudit also takes an account by name,
	// "sa:NAME" (in Workspace) or "sa:NAME@WS", and an unknown one is an error.
	Actor string
	Since time.Time // events at or after
	Until time.Time // events before
}

// MaxFilterLen bounds a free-text filter (a name fragment, an action), in characters.
const MaxFilterLen = 64

// maxActorLen bounds an actor filter: the longest principal reference, a person's.
const maxActorLen = len(PrincipalRefPerson) + MaxPersonNameLen

// checkActor accepts "" or a principal reference: operator:NAME, sa:ID or person:NAME.
func checkActor(s string) error {
	kind, name, ok := strings.Cut(s, ":")
	switch {
	case s == "":
		return nil
	case !ok || name == "" || (kind+":" != PrincipalRefSA && kind+":" != PrincipalRefPerson && kind+":" != PrincipalRefOperator):
		return Invalid("actor", "must be a principal such as operator:NAME, sa:NAME, sa:NAME@WORKSPACE, sa:ID or person:NAME")
	case !utf8.ValidString(s) || utf8.RuneCountInString(s) > maxActorLen || strings.ContainsFunc(s, func(r rune) bool { return !unicode.IsPrint(r) || unicode.IsSpace(r) }):
		return Invalid("actor", "must be at most %d printable characters without spaces", maxActorLen)
	}
	return nil
}

// ViewTx is the part of a transaction that reads the console's summary views; both SQL
// stores implement it.
type ViewTx interface {
	// ListAccountSummaries returns up to limit accounts of ws whose name contains
	// contains and sorts after after, by name; live keys are counted at now.
	ListAccountSummaries(ctx context.Context, ws, contains, after string, now time.Time, limit int) ([]AccountSummary, error)
	// PersonReach returns up to limit workspaces where person is an admin, by name, and up
	// to limit projects where person's role is owner, by workspace then project.
	PersonReach(ctx context.Context, person string, limit int) ([]string, []ProjectRef, error)
}

// errNoViews is returned when the store's transactions do not implement the views.
var errNoViews = errors.New("the store does not implement the summary views")

func asViewTx(tx Tx) (ViewTx, error) {
	if v, ok := tx.(ViewTx); ok {
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
	err = s.view(ctx, "service_account.list", scope{ws: ws}, func(tx Tx) error {
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

// ListAudit lists the admin actions f matches, newest first: every workspace's when
// f.Workspace is "" (operators only), else the actions on that workspace (its admins too).
func (s *Service) ListAudit(ctx context.Context, f AuditFilter, p Page) ([]AuditEvent, string, error) {
	if f.Workspace != "" {
		if err := ValidateSlug("workspace", f.Workspace); err != nil {
			return nil, "", err
		}
	}
	if err := checkFilter("action", f.Action); err != nil {
		return nil, "", err
	}
	if err := checkActor(f.Actor); err != nil {
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
	err = s.view(ctx, "audit.list", scope{ws: f.Workspace}, func(tx Tx) error {
		if f, err = resolveAuditFilter(ctx, tx, f); err != nil {
			return err
		}
		evs, err = tx.ListAudit(ctx, f, before, size+1)
		return err
	})
	if err != nil {
		return nil, "", err
	}
	evs, next := nextPage(evs, size, func(e AuditEvent) []string { return []string{strconv.FormatInt(e.ID, 10)} })
	return evs, next, nil
}

// ProjectRef names a project of a workspace; Project "*" is every project.
type ProjectRef struct {
	Workspace string `json:"workspace"`
	Project   string `json:"project"`
}

// Reach is what a principal manages, as the store says at the time of the call: the
// workspaces it administers and the projects where its own role is owner. It serves
// navigation (which pages to offer); it decides nothing: every Service method still
// checks its own action in its own transaction.
type Reach struct {
	Principal Principal `json:"principal"`
	// Every is true for an operator, who manages every workspace.
	Every bool `json:"every"`
	// Admin lists the workspaces the principal administers, by name.
	Admin []string `json:"admin"`
	// Owner lists the projects where the principal's role is owner (its own grant or
	// role, or a group's; "*": every project of that workspace), by workspace then project.
	Owner []ProjectRef `json:"owner"`
}

// MaxReach bounds each list of a Reach.
const MaxReach = 1000

// Reach returns what the caller manages. Any authenticated principal may ask; a service
// account's key must still be live.
func (s *Service) Reach(ctx context.Context) (Reach, error) {
	var out Reach
	err := s.store.View(ctx, func(tx Tx) error {
		p, err := s.authorize(ctx, tx, "whoami", scope{}, s.now())
		if err != nil {
			return err
		}
		out = Reach{Principal: p}
		switch p.Kind {
		case PrincipalOperator:
			out.Every = true
			return nil
		case PrincipalPerson:
			v, err := asViewTx(tx)
			if err != nil {
				return err
			}
			out.Admin, out.Owner, err = v.PersonReach(ctx, p.Name, MaxReach)
			return err
		}
		admin, err := tx.IsWorkspaceAdmin(ctx, p.Workspace, adminRef(p))
		if err != nil {
			return err
		}
		if admin {
			out.Admin = []string{p.Workspace}
		}
		var roles map[string]Role
		for after := ""; ; {
			gs, err := tx.ListAccountGrants(ctx, p.ID, after, MaxPageSize)
			if err != nil {
				return err
			}
			for _, g := range gs {
				roles = AddRole(roles, g.Project, g.Role)
			}
			if len(gs) < MaxPageSize {
				break
			}
			after = gs[len(gs)-1].Project
		}
		ggs, err := tx.MemberGroupGrants(ctx, p.Workspace, adminRef(p), "")
		if err != nil {
			return err
		}
		for _, g := range ggs {
			roles = AddRole(roles, g.Project, g.Role)
		}
		for _, project := range slices.Sorted(maps.Keys(roles)) {
			if roles[project] == RoleOwner && len(out.Owner) < MaxReach {
				out.Owner = append(out.Owner, ProjectRef{Workspace: p.Workspace, Project: project})
			}
		}
		return nil
	})
	return out, wrap("reading the caller's reach", err)
}
