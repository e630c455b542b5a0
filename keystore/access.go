package keystore

import (
	"context"
	"fmt"
	"maps"
	"strings"
	"time"
)

// Level is the standing a caller needs for an action, lowest first. An operator
// stands above every level; see AccessRules for which action needs which.
type Level int

// The levels, lowest first.
const (
	// LevelAnyone: any authenticated principal (whoami).
	LevelAnyone Level = iota
	// LevelSelf: the service account the call is about, or an admin of its workspace.
	LevelSelf
	// LevelProjectOwner: an owner of the project (a service account's grant or a person's
	// role, on the project or on "*"), or an admin of its workspace. Acting on "*" itself
	// needs workspace admin.
	LevelProjectOwner
	// LevelWorkspaceAdmin: an admin of the workspace (a service account or a person).
	LevelWorkspaceAdmin
	// LevelOperator: an operator token.
	LevelOperator
)

// String names the level as the docs do.
func (l Level) String() string {
	switch l {
	case LevelAnyone:
		return "anyone"
	case LevelSelf:
		return "the account itself"
	case LevelProjectOwner:
		return "project owner"
	case LevelWorkspaceAdmin:
		return "workspace admin"
	}
	return "operator"
}

// AccessRule is the standing one action needs.
type AccessRule struct {
	Level Level
	// NotOnSelf, when set, is what a service account may not do to itself, as the
	// refusal says it ("give itself a role", "deactivate itself"), nor to a group it
	// belongs to: not even as a workspace admin, so that no account raises its own rights
	// or locks itself out.
	NotOnSelf string
	// NotByAccount: a service account may not do this to any service account (make it a
	// workspace admin); operators and people may. Otherwise an admin account could make a
	// helper account it holds a key of an admin, and that one give the first what it
	// cannot give itself.
	NotByAccount bool
}

// accessRules is the one table of who may do what: every Service method names its
// action here, and authorize consults it inside the method's transaction. An action
// missing from the table is refused. AccessRules returns a copy.
var accessRules = map[string]AccessRule{
	"whoami":                     {Level: LevelAnyone},
	"workspace.create":           {Level: LevelOperator},
	"workspace.set_limit":        {Level: LevelOperator},
	"workspace.list":             {Level: LevelOperator},
	"workspace.read":             {Level: LevelWorkspaceAdmin},
	"workspace_admin.list":       {Level: LevelWorkspaceAdmin},
	"workspace_admin.set":        {Level: LevelWorkspaceAdmin, NotOnSelf: giveRole, NotByAccount: true},
	"workspace_admin.remove":     {Level: LevelWorkspaceAdmin},
	"audit.list":                 {Level: LevelWorkspaceAdmin},
	"service_account.create":     {Level: LevelWorkspaceAdmin},
	"service_account.list":       {Level: LevelWorkspaceAdmin},
	"service_account.read":       {Level: LevelSelf},
	"service_account.update":     {Level: LevelWorkspaceAdmin},
	"service_account.delete":     {Level: LevelWorkspaceAdmin, NotOnSelf: "delete itself"},
	"service_account.deactivate": {Level: LevelWorkspaceAdmin, NotOnSelf: "deactivate itself"},
	"service_account.reactivate": {Level: LevelWorkspaceAdmin},
	"key.list":                   {Level: LevelSelf},
	"key.create":                 {Level: LevelWorkspaceAdmin},
	"key.read":                   {Level: LevelSelf},
	"key.find":                   {Level: LevelWorkspaceAdmin},
	"key.rotate":                 {Level: LevelSelf},
	"key.deactivate":             {Level: LevelWorkspaceAdmin},
	"key.activate":               {Level: LevelWorkspaceAdmin},
	"key.revoke":                 {Level: LevelSelf},
	"key.revoke_all":             {Level: LevelWorkspaceAdmin},
	"grant.list":                 {Level: LevelProjectOwner},
	"grant.set":                  {Level: LevelProjectOwner, NotOnSelf: giveRole},
	"grant.remove":               {Level: LevelProjectOwner},
	"person_role.set":            {Level: LevelProjectOwner},
	"person_role.remove":         {Level: LevelProjectOwner},
	"group.create":               {Level: LevelWorkspaceAdmin},
	"group.list":                 {Level: LevelWorkspaceAdmin},
	"group.read":                 {Level: LevelWorkspaceAdmin},
	"group.update":               {Level: LevelWorkspaceAdmin},
	"group.delete":               {Level: LevelWorkspaceAdmin},
	"group_member.add":           {Level: LevelWorkspaceAdmin, NotOnSelf: giveRole},
	"group_member.remove":        {Level: LevelWorkspaceAdmin},
	"group_grant.set":            {Level: LevelProjectOwner, NotOnSelf: giveRole},
	"group_grant.remove":         {Level: LevelProjectOwner},
	"project.list":               {Level: LevelWorkspaceAdmin},

	// An account must not raise its own limit: it gets what an admin gives it.
	"service_account.set_rate_limit": {Level: LevelWorkspaceAdmin, NotOnSelf: "change its own rate limit"},
}

// giveRole is what NotOnSelf says of the actions that would give an account a role.
const giveRole = "give itself a role"

// AccessRules returns a copy of the table of who may do what: action → the standing it needs.
func AccessRules() map[string]AccessRule { return maps.Clone(accessRules) }

// scope is what a call is about: the workspace, the project, the service account (an
// id or a name) and the group (a name), each empty when it does not apply.
type scope struct {
	ws, project, sa, group string
}

// errNoPrincipal refuses a call whose context carries no principal.
var errNoPrincipal = &Error{Kind: KindUnauthenticated, Message: "no authenticated caller"}

// denied builds the refusal that names the missing right.
func denied(format string, args ...any) error {
	return &Error{Kind: KindPermissionDenied, Message: "permission denied: " + fmt.Sprintf(format, args...)}
}

// authorize checks, in tx, that the caller of ctx may do action on sc. It reads the
// caller's rights afresh: a service account's key and account must still be live, and
// its admin rows and grants are read in the same transaction as the change they allow.
//
// It returns the caller as checked: for a service account, read from the store.
func authorize(ctx context.Context, tx Tx, action string, sc scope, now time.Time) (Principal, error) {
	p, ok := PrincipalFrom(ctx)
	if !ok {
		return Principal{}, errNoPrincipal
	}
	if p.Kind == PrincipalServiceAccount {
		live, err := liveKey(ctx, tx, p.hash, now)
		if err != nil {
			return Principal{}, err
		}
		p = live
	}
	return p, allowed(ctx, tx, p, action, sc)
}

// allowed checks that p, as read in tx, may do action on sc.
func allowed(ctx context.Context, tx Tx, p Principal, action string, sc scope) error {
	rule, ok := accessRules[action]
	if !ok {
		return fmt.Errorf("authorizing %s: no access rule", action)
	}
	switch {
	case p.Kind == PrincipalOperator:
		return nil
	case rule.Level == LevelAnyone:
		return nil
	case rule.Level == LevelOperator:
		return denied("%s needs an operator token", action)
	case sc.ws == "":
		return denied("%s across every workspace needs an operator token; name the workspace", action)
	}
	ws := truncate(sc.ws, 64)
	sa := strings.TrimSuffix(sc.sa, "@"+sc.ws) // a full name, name@workspace
	self := p.Kind == PrincipalServiceAccount && p.Workspace == sc.ws && sa != "" && (sa == p.ID || sa == p.Name)
	if self && rule.NotOnSelf != "" {
		return denied("a service account cannot %s; ask a workspace admin or an operator", rule.NotOnSelf)
	}
	if rule.NotOnSelf != "" && sc.group != "" && p.Kind == PrincipalServiceAccount && p.Workspace == sc.ws {
		member, err := tx.IsGroupMember(ctx, sc.ws, sc.group, adminRef(p))
		if err != nil {
			return err
		}
		if member {
			return denied("a service account cannot give itself a role, nor through a group it belongs to")
		}
	}
	if rule.NotByAccount && p.Kind == PrincipalServiceAccount && sa != "" {
		return denied("%s of a service account needs an operator or a person; a service account cannot do it", action)
	}
	if self && rule.Level == LevelSelf {
		return nil
	}
	if p.Kind == PrincipalServiceAccount && p.Workspace != sc.ws {
		return denied("needs workspace admin on %s", ws)
	}
	admin, err := tx.IsWorkspaceAdmin(ctx, sc.ws, adminRef(p))
	if err != nil {
		return err
	}
	if admin {
		return nil
	}
	if rule.Level == LevelProjectOwner && sc.project != AllProjects {
		owner, err := isProjectOwner(ctx, tx, p, sc.ws, sc.project)
		if err != nil {
			return err
		}
		if owner {
			return nil
		}
		return denied("needs owner of project %s or workspace admin on %s", truncate(sc.project, 128), ws)
	}
	return denied("needs workspace admin on %s", ws)
}

// adminRef is how the workspace_admins table names p.
func adminRef(p Principal) string {
	if p.Kind == PrincipalServiceAccount {
		return PrincipalRefSA + p.ID
	}
	return PrincipalRefPerson + p.Name
}

// isProjectOwner reports whether p's role in project, by the one rule (roleOf), is owner.
func isProjectOwner(ctx context.Context, tx Tx, p Principal, ws, project string) (bool, error) {
	role, _, err := roleOf(ctx, tx, p, ws, project)
	return role == RoleOwner, err
}

// roleOf answers p's role in project of ws as the sidecar would: its own grants and its
// groups' grants on project and on "*", merged by AddRole, read by RoleIn. ok is false when no grant covers the
// project. Operators and workspace admins are not asked here: they stand above roles.
func roleOf(ctx context.Context, tx Tx, p Principal, ws, project string) (role Role, ok bool, err error) {
	var roles map[string]Role
	for _, proj := range []string{project, AllProjects} {
		if p.Kind == PrincipalServiceAccount {
			g, found, err := tx.GetGrant(ctx, p.ID, proj)
			if err != nil {
				return "", false, err
			}
			if found {
				roles = AddRole(roles, proj, g.Role)
			}
			continue
		}
		r, found, err := tx.GetPersonRole(ctx, ws, proj, p.Name)
		if err != nil {
			return "", false, err
		}
		if found {
			roles = AddRole(roles, proj, r.Role)
		}
	}
	gs, err := tx.MemberGroupGrants(ctx, ws, adminRef(p), project)
	if err != nil {
		return "", false, err
	}
	for _, g := range gs {
		roles = AddRole(roles, g.Project, g.Role)
	}
	role, ok = RoleIn(roles, project)
	return role, ok, nil
}

// selfRotation is the rule of an account rotating its own key (key.rotate is
// LevelSelf): it replaces the key and never gains by it. It may not force a rotation
// (that would leave it an extra live key), and the successor lives no longer than the
// old key did: an old key that expires gives its lifetime to a successor asked without
// one, and refuses a longer one. It returns the successor's lifetime; any other caller
// gets in.ExpiresIn unchanged.
func selfRotation(p Principal, sa ServiceAccount, old StoredKey, in RotateKeyInput) (time.Duration, error) {
	if p.Kind != PrincipalServiceAccount || p.ID != sa.ID {
		return in.ExpiresIn, nil
	}
	if in.Force {
		return 0, denied("a service account cannot force the rotation of its own key; ask a workspace admin")
	}
	if old.ExpiresAt == nil {
		return in.ExpiresIn, nil
	}
	life := old.ExpiresAt.Sub(old.CreatedAt)
	switch {
	case in.ExpiresIn == 0:
		return life, nil
	case in.ExpiresIn > life:
		return 0, denied("a service account rotating its own key cannot give the successor a longer life than the old key's (%s)", life)
	}
	return in.ExpiresIn, nil
}
