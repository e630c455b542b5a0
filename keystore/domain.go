package keystore

import (
	"fmt"
	"time"
)

// Role is a service account's role in a project. Roles are ordered viewer < contributor < owner.
type Role string

// The roles, lowest first.
const (
	RoleViewer      Role = "viewer"
	RoleContributor Role = "contributor"
	RoleOwner       Role = "owner"
)

// AllProjects is the project name of a grant that covers every project of a workspace,
// present and future. Grants add up: an account's role in a project is the higher of its
// grant on the project and its grant on "*".
const AllProjects = "*"

// ParseRole parses a role name; it accepts exactly the three lower-case names.
func ParseRole(s string) (Role, error) {
	switch r := Role(s); r {
	case RoleViewer, RoleContributor, RoleOwner:
		return r, nil
	}
	return "", Invalid("role", "must be one of viewer, contributor, owner")
}

// Rank orders roles: 1 viewer, 2 contributor, 3 owner, 0 for anything else.
func (r Role) Rank() int {
	switch r {
	case RoleViewer:
		return 1
	case RoleContributor:
		return 2
	case RoleOwner:
		return 3
	}
	return 0
}

// AtLeast reports whether r is a known role at or above min.
func (r Role) AtLeast(min Role) bool { return r.Rank() > 0 && r.Rank() >= min.Rank() }

// AccountState is the lifecycle state of a service account.
type AccountState string

// Service account states.
const (
	AccountActive      AccountState = "active"
	AccountDeactivated AccountState = "deactivated"
)

// KeyState is the lifecycle state of an API key. Expiry is not a state: a key
// whose ExpiresAt has passed is refused whatever its state.
type KeyState string

// API key states.
const (
	KeyActive      KeyState = "active"
	KeyDeactivated KeyState = "deactivated"
	KeyRevoked     KeyState = "revoked"
)

// DefaultMaxServiceAccounts is a workspace's limit when none is given.
const DefaultMaxServiceAccounts = 50

// Workspace is a tenant, named by a slug.
type Workspace struct {
	Name               string    `json:"name"`
	MaxServiceAccounts int       `json:"max_service_accounts"`
	CreatedAt          time.Time `json:"created_at"`
}

// ServiceAccount is a non-human identity that belongs to a workspace.
type ServiceAccount struct {
	ID          string       `json:"id"`
	Name        string       `json:"name"`
	Workspace   string       `json:"workspace"`
	FullName    string       `json:"full_name"` // name@workspace
	Description string       `json:"description"`
	State       AccountState `json:"state"`
	CreatedAt   time.Time    `json:"created_at"`
	UpdatedAt   time.Time    `json:"updated_at"`
}

// FullName returns name@workspace.
func FullName(name, workspace string) string { return fmt.Sprintf("%s@%s", name, workspace) }

// APIKey describes a key. It never carries the secret or its hash.
type APIKey struct {
	ID               string     `json:"id"`
	ServiceAccountID string     `json:"service_account_id"`
	Name             string     `json:"name"`
	Last6            string     `json:"last6"`
	State            KeyState   `json:"state"`
	Expired          bool       `json:"expired"` // ExpiresAt is in the past
	CreatedAt        time.Time  `json:"created_at"`
	ExpiresAt        *time.Time `json:"expires_at"`
	LastUsedAt       *time.Time `json:"last_used_at"`
	RevokedAt        *time.Time `json:"revoked_at,omitempty"`
	// SuccessorID is the key that rotating this one issued; "" if it was never rotated.
	SuccessorID string `json:"successor_id,omitempty"`
	// Usable reports whether the key passes now (KeyBlock); Reason says why not.
	Usable bool      `json:"usable"`
	Reason KeyReason `json:"reason,omitempty"`
}

// IssuedKey is the answer to creating a key: the only place the secret ever appears.
type IssuedKey struct {
	ID        string     `json:"id"`
	Name      string     `json:"name"`
	Key       string     `json:"key"`
	Last6     string     `json:"last6"`
	CreatedAt time.Time  `json:"created_at"`
	ExpiresAt *time.Time `json:"expires_at"`
}

// Grant gives a service account a role in one project of its workspace (or in every project, "*").
type Grant struct {
	Workspace        string    `json:"workspace"`
	Project          string    `json:"project"`
	ServiceAccountID string    `json:"service_account_id"`
	ServiceAccount   string    `json:"service_account"` // full name
	Role             Role      `json:"role"`
	CreatedAt        time.Time `json:"created_at"`
	UpdatedAt        time.Time `json:"updated_at"`
}

// AuditEvent records one admin mutation: who, what, when. It never holds a secret or a hash.
type AuditEvent struct {
	ID    int64     `json:"id"`
	At    time.Time `json:"at"`
	Actor string    `json:"actor"` // Principal.Ref of the caller: operator:NAME, sa:ID or person:NAME
	// Principal describes the caller; nil on events written before principals existed.
	Principal *AuditPrincipal   `json:"principal,omitempty"`
	Action    string            `json:"action"` // e.g. "service_account.create", "key.revoke"
	Workspace string            `json:"workspace,omitempty"`
	Target    string            `json:"target,omitempty"` // the id of what was changed
	Details   map[string]string `json:"details,omitempty"`
}

// Page asks for one page of a list.
type Page struct {
	Size  int    // 0 means DefaultPageSize; at most MaxPageSize
	Token string // opaque, from a previous answer; empty for the first page
}

// Page size bounds for every list.
const (
	DefaultPageSize = 50
	MaxPageSize     = 1000
)
