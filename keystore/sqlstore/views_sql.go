package sqlstore

import (
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/sagate/sagate/keystore"
)

// parseProjects decodes the "project:role,project:role" aggregate the stores return,
// sorted by project. Project names and roles never hold ':' or ','.
func parseProjects(agg string) []keystore.ProjectRole {
	if agg == "" {
		return nil
	}
	var out []keystore.ProjectRole
	for _, pr := range strings.Split(agg, ",") {
		p, r, _ := strings.Cut(pr, ":")
		out = append(out, keystore.ProjectRole{Project: p, Role: keystore.Role(r)})
	}
	slices.SortFunc(out, func(a, b keystore.ProjectRole) int { return strings.Compare(a.Project, b.Project) })
	return out
}

// auditWhere builds the WHERE clause of a filtered audit query; ph returns the
// placeholder of the n-th argument (1-based) in the store's dialect.
func auditWhere(f keystore.AuditFilter, beforeID int64, ph func(n int) string, t func(time.Time) any) (string, []any) {
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

// auditActorsQuery selects the distinct actors of the audit table that begin with the
// first argument, in the workspace of the second and third (the same; "" for all), up to
// the fourth; ph returns the placeholder of the n-th argument in the store's dialect.
func auditActorsQuery(prefixLen int, ph func(n int) string) string {
	return "SELECT DISTINCT actor FROM audit WHERE substr(actor, 1, " + strconv.Itoa(prefixLen) + ") = " + ph(1) +
		" AND (" + ph(2) + " = '' OR workspace = " + ph(3) + ") ORDER BY actor LIMIT " + ph(4)
}

func scanActor(r rowScanner) (string, error) {
	var a string
	return a, r.Scan(&a)
}
