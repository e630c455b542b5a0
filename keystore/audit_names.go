package keystore

import (
	"context"
	"fmt"
	"slices"
	"strings"
)

// resolveAuditFilter names f's actor and action as the audit trail records them, in tx,
// or says what exists: an account named sa:NAME or sa:NAME@WS becomes sa:ID (of f's
// workspace, or of WS); an unknown account, workspace or action is an error, never an
// empty list that looks like "nothing happened". A person or an operator is known by
// what it did: one with no recorded action in f's workspace (in any, when f names none)
// is an error that names those who acted there.
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
	if kind, _, _ := strings.Cut(f.Actor, ":"); kind+":" == PrincipalRefPerson || kind+":" == PrincipalRefOperator {
		return f, actedIn(ctx, tx, f.Workspace, f.Actor, kind+":")
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

// maxNamedActors bounds the actors an unknown actor's error names.
const maxNamedActors = 20

// actedIn checks that actor (a person or an operator, whose references begin with
// prefix) has a recorded action in ws (in any workspace when ws is ""), or says which
// actors of its kind have.
func actedIn(ctx context.Context, tx Tx, ws, actor, prefix string) error {
	evs, err := tx.ListAudit(ctx, AuditFilter{Workspace: ws, Actor: actor}, 0, 1)
	if err != nil || len(evs) > 0 {
		return err
	}
	known, err := tx.AuditActors(ctx, ws, prefix, maxNamedActors+1)
	if err != nil {
		return err
	}
	where := "in any workspace"
	if ws != "" {
		where = "in workspace " + ws
	}
	who := "none"
	if len(known) > 0 {
		more := ""
		if len(known) > maxNamedActors {
			known, more = known[:maxNamedActors], ", …"
		}
		who = strings.Join(known, ", ") + more
	}
	return &Error{Kind: KindNotFound, Message: fmt.Sprintf("%s has no recorded action %s; those of its kind that acted there: %s",
		truncate(actor, maxActorLen), where, who)}
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
