package keystore

import (
	"context"
	"slices"
	"strings"
)

// resolveAuditFilter names f's actor and action as the audit trail records them, in tx,
// or says what exists: an account named sa:NAME or sa:NAME@WS becomes sa:ID (of f's
// workspace, or of WS); an unknown account, workspace or action is an error, never an
// empty list that looks like "nothing happened".
func resolveAuditFilter(ctx context.Context, tx Tx, f AuditFilter) (AuditFilter, error) {
	if f.Workspace != "" {
		if _, err := getWorkspace(ctx, tx, f.Workspace); err != nil {
			return f, err
		}
	}
	if f.Action != "" && !knownAction(f.Action) {
		return f, Invalid("action", "no action %q; actions are %s, or a prefix such as \"key.\"",
			truncate(f.Action, MaxFilterLen), strings.Join(auditActions(), ", "))
	}
	ref, ok := strings.CutPrefix(f.Actor, PrincipalRefSA)
	if !ok || isID(ref, ServiceAccountIDPrefix) {
		return f, nil
	}
	ws := f.Workspace
	if _, inWS, full := strings.Cut(ref, "@"); full {
		ws = inWS
	}
	if ws == "" {
		return f, Invalid("actor", "name the account's workspace: sa:NAME@WORKSPACE, or filter by workspace")
	}
	sa, err := getAccount(ctx, tx, ws, ref)
	if err != nil {
		return f, err
	}
	f.Actor = PrincipalRefSA + sa.ID
	return f, nil
}

// auditActions lists the actions the audit trail records: those of the access rules
// that change something, sorted.
func auditActions() []string {
	var out []string
	for a := range accessRules {
		if !readOnlyAction(a) {
			out = append(out, a)
		}
	}
	slices.Sort(out)
	return out
}

// readOnlyAction reports whether action only reads (and so is never audited).
func readOnlyAction(a string) bool {
	return a == "whoami" || strings.HasSuffix(a, ".list") || strings.HasSuffix(a, ".read") || strings.HasSuffix(a, ".find")
}

// knownAction reports whether an audit filter's action names an audited action, or a
// prefix of one ending in ".".
func knownAction(action string) bool {
	for _, a := range auditActions() {
		if a == action || (strings.HasSuffix(action, ".") && strings.HasPrefix(a, action)) {
			return true
		}
	}
	return false
}
