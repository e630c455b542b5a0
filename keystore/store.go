package keystore

import (
	"context"
	"errors"
	"time"
)

// Store is the durable source of truth. It offers transactional primitives; every
// rule of the domain lives in Service, so that each Store implementation (SQLite now,
// PostgreSQL next) only has to store and read rows. The conformance suite in
// keystore/storetest checks an implementation through Service.
//
// A Store is safe for concurrent use.
type Store interface {
	RecordSource

	// Update runs fn in one write transaction. The transaction increments the store's
	// global revision counter before fn runs; Update returns the new revision once the
	// transaction has committed. If fn returns an error, nothing is written and Update
	// returns that error unchanged (so a *Error reaches the caller as it was).
	Update(ctx context.Context, fn func(Tx) error) (rev int64, err error)
	// View runs fn in one read-only transaction that sees one consistent snapshot.
	View(ctx context.Context, fn func(Tx) error) error
	// Ping checks that the store answers.
	Ping(ctx context.Context) error
	// Close releases the store. It is not safe to use the Store afterwards.
	Close() error
}

// ErrConflict is returned (wrapped) by Tx inserts that would break a uniqueness rule:
// a workspace name, a service-account name within its workspace, a key id or hash.
// Service turns it into a KindNameTaken error.
var ErrConflict = errors.New("unique constraint violated")

// StoredKey is a key as the store holds it: the public description and the hash.
// The hash never leaves keystore: Service strips it before answering.
type StoredKey struct {
	APIKey
	Hash KeyHash
}

// GrantRow is a grant as ListGrants reads it, with the account's name for ordering.
type GrantRow struct {
	Grant
	AccountName string
}

// Tx is one transaction of a Store. Reads answer found=false for a missing row;
// errors are technical failures, except ErrConflict from inserts. A Tx must not be
// used after the function it was given to returns. Write methods fail in a View.
//
// Times are stored with microsecond precision; Service truncates them before writing.
type Tx interface {
	// InsertWorkspace adds a workspace (ErrConflict if the name is taken).
	InsertWorkspace(ctx context.Context, w Workspace) error
	// GetWorkspace reads one workspace.
	GetWorkspace(ctx context.Context, name string) (w Workspace, found bool, err error)
	// ListWorkspaces returns up to limit workspaces whose name sorts after after, by name.
	ListWorkspaces(ctx context.Context, after string, limit int) ([]Workspace, error)
	// LockWorkspace takes a write lock on the workspace row until the transaction ends,
	// so that a count of its accounts followed by an insert is atomic. Under SQLite's
	// single writer it is a no-op; a PostgreSQL store uses SELECT … FOR UPDATE.
	LockWorkspace(ctx context.Context, name string) error
	// CountServiceAccounts counts the accounts of a workspace.
	CountServiceAccounts(ctx context.Context, ws string) (int, error)
	// UpdateWorkspace writes a workspace's max_service_accounts.
	UpdateWorkspace(ctx context.Context, w Workspace) error

	// InsertServiceAccount adds an account (ErrConflict if its name is taken in its workspace).
	InsertServiceAccount(ctx context.Context, sa ServiceAccount) error
	// GetServiceAccountByID reads an account of workspace ws by id.
	GetServiceAccountByID(ctx context.Context, ws, id string) (ServiceAccount, bool, error)
	// GetServiceAccountByName reads an account of workspace ws by name.
	GetServiceAccountByName(ctx context.Context, ws, name string) (ServiceAccount, bool, error)
	// ListServiceAccounts returns up to limit accounts of ws whose name sorts after after, by name.
	ListServiceAccounts(ctx context.Context, ws, after string, limit int) ([]ServiceAccount, error)
	// UpdateServiceAccount writes an account's description, state and updated_at.
	UpdateServiceAccount(ctx context.Context, sa ServiceAccount) error
	// DeleteServiceAccount removes an account with its keys and grants.
	DeleteServiceAccount(ctx context.Context, id string) error

	// InsertKey adds a key (ErrConflict if its id or hash exists).
	InsertKey(ctx context.Context, k StoredKey) error
	// GetKey reads a key of account saID by id.
	GetKey(ctx context.Context, saID, id string) (StoredKey, bool, error)
	// FindKeysByLast6 returns the keys of account saID whose last6 is last6.
	FindKeysByLast6(ctx context.Context, saID, last6 string) ([]StoredKey, error)
	// FindWorkspaceKeysByLast6 returns up to limit keys of any account of workspace ws
	// whose last6 is last6, oldest first.
	FindWorkspaceKeysByLast6(ctx context.Context, ws, last6 string, limit int) ([]StoredKey, error)
	// ListKeys returns up to limit keys of saID after the cursor (createdAt, id), ordered by
	// created_at then id. A zero afterCreated and empty afterID start at the beginning.
	ListKeys(ctx context.Context, saID string, afterCreated time.Time, afterID string, limit int) ([]StoredKey, error)
	// UnrevokedKeys returns every key of saID that is not revoked (expired ones included).
	UnrevokedKeys(ctx context.Context, saID string) ([]StoredKey, error)
	// UpdateKey writes a key's name, state, expires_at and revoked_at.
	UpdateKey(ctx context.Context, k StoredKey) error

	// PutGrant inserts or replaces the grant (sa, project).
	PutGrant(ctx context.Context, g Grant) error
	// GetGrant reads the grant of account saID on project.
	GetGrant(ctx context.Context, saID, project string) (Grant, bool, error)
	// DeleteGrant removes the grant of account saID on project; found reports whether there was one.
	DeleteGrant(ctx context.Context, saID, project string) (found bool, err error)
	// ListGrants returns up to limit grants of ws on project and on "*", ordered by account name
	// then project, after the cursor (afterName, afterProject).
	ListGrants(ctx context.Context, ws, project, afterName, afterProject string, limit int) ([]GrantRow, error)
	// ListAccountGrants returns up to limit grants of account saID whose project sorts after
	// afterProject, ordered by project ("*" first).
	ListAccountGrants(ctx context.Context, saID, afterProject string, limit int) ([]Grant, error)

	// InsertSyncPending records, in the outbox, this transaction's revision and the
	// hashes of the keys whose Redis records it changes (outbox.go).
	InsertSyncPending(ctx context.Context, hashes []KeyHash) error

	// InsertAudit appends an audit event (its ID is assigned by the store).
	InsertAudit(ctx context.Context, e AuditEvent) error
	// ListAudit returns up to limit events that f matches with an ID below beforeID (0: from
	// the newest), newest first.
	ListAudit(ctx context.Context, f AuditFilter, beforeID int64, limit int) ([]AuditEvent, error)
	// AuditActors returns up to limit distinct actors of the audit events of ws (of every
	// workspace when ws is "") that begin with prefix ("person:", "operator:"), sorted.
	AuditActors(ctx context.Context, ws, prefix string, limit int) ([]string, error)

	AccessTx
	GroupTx
	ProjectTx
}

// AccessTx holds the rows of who may manage what: the key a caller
// authenticates with, the admins of each workspace and people's roles in projects.
type AccessTx interface {
	// GetKeyByHash reads the key whose hash is h together with its account: one indexed read.
	GetKeyByHash(ctx context.Context, h KeyHash) (k StoredKey, sa ServiceAccount, found bool, err error)

	// IsWorkspaceAdmin reports whether principal ("sa:ID" or "person:NAME") administers ws.
	IsWorkspaceAdmin(ctx context.Context, ws, principal string) (bool, error)
	// WorkspaceAdminSince reads when principal became an admin of ws; found is false if it is none.
	WorkspaceAdminSince(ctx context.Context, ws, principal string) (at time.Time, found bool, err error)
	// PutWorkspaceAdmin makes a.Principal an admin of a.Workspace; created is false if it was already.
	PutWorkspaceAdmin(ctx context.Context, a WorkspaceAdmin) (created bool, err error)
	// DeleteWorkspaceAdmin removes an admin of ws; found reports whether there was one.
	DeleteWorkspaceAdmin(ctx context.Context, ws, principal string) (found bool, err error)
	// ListWorkspaceAdmins returns up to limit admins of ws whose principal sorts after after,
	// by principal; an account's Name is its name@workspace.
	ListWorkspaceAdmins(ctx context.Context, ws, after string, limit int) ([]WorkspaceAdmin, error)

	// PutPersonRole inserts or replaces the role of r.Person in r.Project of r.Workspace.
	PutPersonRole(ctx context.Context, r PersonRole) error
	// GetPersonRole reads a person's role in a project of ws.
	GetPersonRole(ctx context.Context, ws, project, person string) (PersonRole, bool, error)
	// DeletePersonRole removes a person's role in a project; found reports whether there was one.
	DeletePersonRole(ctx context.Context, ws, project, person string) (found bool, err error)
	// ListPersonRoles returns up to limit roles of people in project and in "*" of ws, by person then project.
	ListPersonRoles(ctx context.Context, ws, project string, limit int) ([]PersonRole, error)
}
