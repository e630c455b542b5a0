package keystore

import (
	"fmt"
	"time"
)

// AccountState is the lifecycle state of a service account.
type AccountState string

// Service account states.
const (
	AccountActive      AccountState = "active"
	AccountDeactivated AccountState = "deactivated"
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
	// CreatedBy is the principal that created the account ("operator:NAME", "sa:ID" or
	// "person:NAME"); "" for an account created before it was recorded.
	CreatedBy string `json:"created_by"`
	// Owner is the principal responsible for the account ("sa:ID" or "person:NAME"), set
	// by whoever may update it; "" for none.
	Owner string `json:"owner"`
	// RateLimit is the account's request rate limit, shared by all its keys and
	// enforced by each sidecar on its own; nil (JSON null): unlimited.
	RateLimit *RateLimit `json:"rate_limit"`
	CreatedAt time.Time  `json:"created_at"`
	UpdatedAt time.Time  `json:"updated_at"`
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
