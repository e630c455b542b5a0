package keystore

// CONTRACT STUB: the method set below is the public API that admin/ builds on.
// The bodies are being implemented; signatures are fixed.

import (
	"context"
	"errors"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"
)

var errNotImplemented = errors.New("not implemented")

// ServiceOptions configures a Service.
type ServiceOptions struct {
	// Syncer receives every committed change. nil: no Redis (tests, offline tools).
	Syncer Syncer
	// Logger for mutations; never given a secret or a hash. nil: zap.NewNop().
	Logger *zap.Logger
	// Registerer for sagate_admin_keys_issued_total and sagate_admin_keys_revoked_total. nil: not registered.
	Registerer prometheus.Registerer
	// Now is the clock; nil: time.Now. For tests.
	Now func() time.Time
}

// CreateServiceAccountInput is the input of Service.CreateServiceAccount.
type CreateServiceAccountInput struct {
	Name            string
	Description     string
	AllProjectsRole Role          // "" for none; otherwise a grant on project "*"
	CreateKey       bool          // issue a first key
	KeyExpiresIn    time.Duration // 0: the key never expires
}

// CreateKeyInput is the input of Service.CreateKey.
type CreateKeyInput struct {
	Name      string        // "" means "default"
	ExpiresIn time.Duration // 0: never expires
}

// Service holds every rule of the domain. It is safe for concurrent use.
type Service struct {
	store Store
	opts  ServiceOptions
}

// Store is the durable store (placeholder in the stub).
type Store interface {
	RecordSource
	Close() error
}

// NewService returns a Service over store.
func NewService(store Store, opts ServiceOptions) (*Service, error) {
	return &Service{store: store, opts: opts}, nil
}

// WithActor returns a context that records actor as the author of mutations in the audit trail.
func WithActor(ctx context.Context, actor string) context.Context { return ctx }

// Ping checks that the store answers.
func (s *Service) Ping(ctx context.Context) error { return errNotImplemented }

// CreateWorkspace creates a workspace; maxServiceAccounts 0 means DefaultMaxServiceAccounts.
func (s *Service) CreateWorkspace(ctx context.Context, name string, maxServiceAccounts int) (Workspace, error) {
	return Workspace{}, errNotImplemented
}

// GetWorkspace reads a workspace.
func (s *Service) GetWorkspace(ctx context.Context, name string) (Workspace, error) {
	return Workspace{}, errNotImplemented
}

// ListWorkspaces lists workspaces by name.
func (s *Service) ListWorkspaces(ctx context.Context, p Page) ([]Workspace, string, error) {
	return nil, "", errNotImplemented
}

// CreateServiceAccount creates an account and, if asked, its first key.
func (s *Service) CreateServiceAccount(ctx context.Context, ws string, in CreateServiceAccountInput) (ServiceAccount, *IssuedKey, error) {
	return ServiceAccount{}, nil, errNotImplemented
}

// ListServiceAccounts lists a workspace's accounts by name.
func (s *Service) ListServiceAccounts(ctx context.Context, ws string, p Page) ([]ServiceAccount, string, error) {
	return nil, "", errNotImplemented
}

// GetServiceAccount reads an account by id or name.
func (s *Service) GetServiceAccount(ctx context.Context, ws, ref string) (ServiceAccount, error) {
	return ServiceAccount{}, errNotImplemented
}

// UpdateServiceAccount changes the description (nil: unchanged).
func (s *Service) UpdateServiceAccount(ctx context.Context, ws, ref string, description *string) (ServiceAccount, error) {
	return ServiceAccount{}, errNotImplemented
}

// DeleteServiceAccount revokes every key, removes grants and frees the name.
func (s *Service) DeleteServiceAccount(ctx context.Context, ws, ref string) error {
	return errNotImplemented
}

// DeactivateServiceAccount stops every key of the account at once.
func (s *Service) DeactivateServiceAccount(ctx context.Context, ws, ref string) (ServiceAccount, error) {
	return ServiceAccount{}, errNotImplemented
}

// ReactivateServiceAccount revokes every old key and issues one fresh key.
func (s *Service) ReactivateServiceAccount(ctx context.Context, ws, ref string) (ServiceAccount, IssuedKey, error) {
	return ServiceAccount{}, IssuedKey{}, errNotImplemented
}

// CreateKey issues a key to an active account.
func (s *Service) CreateKey(ctx context.Context, ws, saRef string, in CreateKeyInput) (IssuedKey, error) {
	return IssuedKey{}, errNotImplemented
}

// ListKeys lists an account's keys, oldest first; never a secret or a hash.
func (s *Service) ListKeys(ctx context.Context, ws, saRef string, p Page) ([]APIKey, string, error) {
	return nil, "", errNotImplemented
}

// RotateKey issues a successor (same name) and keeps the old key for retain (0: revoked now).
// expiresIn 0: the successor never expires.
func (s *Service) RotateKey(ctx context.Context, ws, saRef, keyRef string, retain, expiresIn time.Duration) (IssuedKey, error) {
	return IssuedKey{}, errNotImplemented
}

// DeactivateKey pauses one key.
func (s *Service) DeactivateKey(ctx context.Context, ws, saRef, keyRef string) (APIKey, error) {
	return APIKey{}, errNotImplemented
}

// ActivateKey resumes one paused key.
func (s *Service) ActivateKey(ctx context.Context, ws, saRef, keyRef string) (APIKey, error) {
	return APIKey{}, errNotImplemented
}

// RevokeKey revokes one key for good.
func (s *Service) RevokeKey(ctx context.Context, ws, saRef, keyRef string) error {
	return errNotImplemented
}

// RevokeAllKeys revokes every key of the account and returns the account and how many keys it revoked.
func (s *Service) RevokeAllKeys(ctx context.Context, ws, saRef string) (ServiceAccount, int, error) {
	return ServiceAccount{}, 0, errNotImplemented
}

// SetGrant grants or changes the account's role in project ("*": every project).
func (s *Service) SetGrant(ctx context.Context, ws, project, saRef string, role Role) (Grant, error) {
	return Grant{}, errNotImplemented
}

// RemoveGrant removes the account's grant on project.
func (s *Service) RemoveGrant(ctx context.Context, ws, project, saRef string) error {
	return errNotImplemented
}

// ListGrants lists who has which role in project: explicit grants and "*" grants.
func (s *Service) ListGrants(ctx context.Context, ws, project string, p Page) ([]Grant, string, error) {
	return nil, "", errNotImplemented
}

// ListAudit lists admin actions, newest first.
func (s *Service) ListAudit(ctx context.Context, p Page) ([]AuditEvent, string, error) {
	return nil, "", errNotImplemented
}
