package keystore

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"
)

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
	// Owner, when set, is the principal responsible for the account: "sa:<id, name or
	// name@ws>" of the same workspace or "person:<name>".
	Owner string
}

// CreateKeyInput is the input of Service.CreateKey.
type CreateKeyInput struct {
	Name      string        // "" means "default"
	ExpiresIn time.Duration // 0: never expires
}

// DefaultKeyName is the name of a key created without one.
const DefaultKeyName = "default"

// syncTimeout bounds the Syncer call after a commit; the reconcile repairs what it misses.
const syncTimeout = 10 * time.Second

// Service holds every rule of the domain. It is safe for concurrent use.
//
// Each mutation is one Store.Update: the rule checks, the row changes and the audit
// row commit together. After the commit the Service hands the Syncer the hashes of
// every key whose Redis record changed; a Syncer error is logged and left to the
// reconcile, never undone in the store, and reported to the caller through
// WithSyncReport.
type Service struct {
	store   Store
	opts    ServiceOptions
	log     *zap.Logger
	issued  prometheus.Counter
	revoked prometheus.Counter
}

// NewService returns a Service over store.
func NewService(store Store, opts ServiceOptions) (*Service, error) {
	if store == nil {
		return nil, errors.New("creating service: nil store")
	}
	s := &Service{store: store, opts: opts, log: opts.Logger}
	if s.log == nil {
		s.log = zap.NewNop()
	}
	if s.opts.Now == nil {
		s.opts.Now = time.Now
	}
	s.issued = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "sagate_admin_keys_issued_total",
		Help: "API keys issued by the admin (created, rotated in, or issued on reactivation).",
	})
	s.revoked = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "sagate_admin_keys_revoked_total",
		Help: "API keys revoked by the admin (one by one, all at once, on reactivation, rotation or deletion).",
	})
	if opts.Registerer != nil {
		var err error
		if s.issued, err = registerCounter(opts.Registerer, s.issued); err != nil {
			return nil, err
		}
		if s.revoked, err = registerCounter(opts.Registerer, s.revoked); err != nil {
			return nil, err
		}
	}
	return s, nil
}

// registerCounter registers c, or returns the counter already registered under its name.
func registerCounter(reg prometheus.Registerer, c prometheus.Counter) (prometheus.Counter, error) {
	err := reg.Register(c)
	if err == nil {
		return c, nil
	}
	var are prometheus.AlreadyRegisteredError
	if errors.As(err, &are) {
		if existing, ok := are.ExistingCollector.(prometheus.Counter); ok {
			return existing, nil
		}
	}
	return nil, fmt.Errorf("registering admin metrics: %w", err)
}

// Store returns the store the Service writes to.
func (s *Service) Store() Store { return s.store }

// Ping checks that the store answers.
func (s *Service) Ping(ctx context.Context) error { return s.store.Ping(ctx) }

// now is the clock at the store's precision (microseconds, UTC).
func (s *Service) now() time.Time { return s.opts.Now().UTC().Truncate(time.Microsecond) }

// mutation collects, inside one write transaction, what the commit changes.
type mutation struct {
	ctx       context.Context
	principal Principal // the caller, as authorize read it
	action    string
	now       time.Time
	hashes    []KeyHash
	issued    int
	revoked   int
}

// audit writes the audit row of the mutation.
func (m *mutation) audit(tx Tx, ws, target string, details map[string]string) error {
	p := m.principal
	return tx.InsertAudit(m.ctx, AuditEvent{
		At: m.now, Actor: p.Ref(), Principal: p.audit(), Action: m.action, Workspace: ws, Target: target, Details: details,
	})
}

// touch records keys whose Redis records change.
func (m *mutation) touch(keys ...StoredKey) {
	for _, k := range keys {
		m.hashes = append(m.hashes, k.Hash)
	}
}

// update runs fn as one mutation: one write transaction that first checks that the
// caller may do action on sc (authorize), then metrics and the Syncer. A refusal writes
// nothing. fn may run more than once if the store retries, so it must only change m and tx.
func (s *Service) update(ctx context.Context, action string, sc scope, fn func(tx Tx, m *mutation) error) error {
	var m *mutation
	rev, err := s.store.Update(ctx, func(tx Tx) error {
		m = &mutation{ctx: ctx, action: action, now: s.now()}
		p, err := s.authorize(ctx, tx, action, sc, m.now)
		if err != nil {
			return err
		}
		m.principal = p
		if err := fn(tx, m); err != nil {
			return err
		}
		return s.recordPending(ctx, tx, m)
	})
	if err != nil {
		return wrap(action, err)
	}
	s.issued.Add(float64(m.issued))
	s.revoked.Add(float64(m.revoked))
	s.log.Info("admin change committed", zap.String("action", action), zap.Int64("rev", rev),
		zap.String("actor", m.principal.Ref()), zap.Int("keys", len(m.hashes)))
	if s.opts.Syncer == nil {
		return nil
	}
	if n, ok := s.opts.Syncer.(RevisionNoter); ok && len(m.hashes) == 0 {
		sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), syncTimeout)
		defer cancel()
		n.NoteRevision(sctx, rev)
	}
	var syncErr error
	if len(m.hashes) > 0 {
		// The commit stands whatever the caller does next: sync even if ctx was canceled.
		sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), syncTimeout)
		defer cancel()
		if syncErr = s.opts.Syncer.Apply(sctx, Change{Rev: rev, Action: action, Hashes: m.hashes}); syncErr != nil {
			s.log.Warn("syncing a committed change to redis failed; the next reconcile repairs it",
				zap.String("action", action), zap.Int64("rev", rev), zap.Error(syncErr))
		}
	}
	recordSync(ctx, syncErr) // tells the caller (WithSyncReport)
	return nil
}

// view runs fn in one read transaction, after checking there that the caller may do
// action on sc (authorize).
func (s *Service) view(ctx context.Context, action string, sc scope, fn func(tx Tx) error) error {
	return wrap(action, s.store.View(ctx, func(tx Tx) error {
		if _, err := s.authorize(ctx, tx, action, sc, s.now()); err != nil {
			return err
		}
		return fn(tx)
	}))
}

// wrap adds context to technical errors and leaves rule errors (*Error) as they are,
// so their message reaches the client unchanged.
func wrap(doing string, err error) error {
	if err == nil || KindOf(err) != "" {
		return err
	}
	return fmt.Errorf("%s: %w", doing, err)
}

// CreateWorkspace creates a workspace; maxServiceAccounts 0 means DefaultMaxServiceAccounts.
func (s *Service) CreateWorkspace(ctx context.Context, name string, maxServiceAccounts int) (Workspace, error) {
	if err := ValidateSlug("name", name); err != nil {
		return Workspace{}, err
	}
	if maxServiceAccounts == 0 {
		maxServiceAccounts = DefaultMaxServiceAccounts
	}
	if maxServiceAccounts < 0 || maxServiceAccounts > MaxServiceAccountsLimit {
		return Workspace{}, Invalid("max_service_accounts", "must be between 1 and %d", MaxServiceAccountsLimit)
	}
	var w Workspace
	err := s.update(ctx, "workspace.create", scope{}, func(tx Tx, m *mutation) error {
		w = Workspace{Name: name, MaxServiceAccounts: maxServiceAccounts, CreatedAt: m.now}
		if err := tx.InsertWorkspace(ctx, w); err != nil {
			if errors.Is(err, ErrConflict) {
				return Errorf(KindNameTaken, "workspace %q already exists", name)
			}
			return err
		}
		return m.audit(tx, name, name, map[string]string{"max_service_accounts": fmt.Sprint(maxServiceAccounts)})
	})
	return w, err
}

// UpdateWorkspace changes a workspace's max_service_accounts (nil: unchanged), from 1 to
// MaxServiceAccountsLimit. A limit below the number of accounts the workspace has is
// allowed: the accounts stay, and new ones are refused until there are fewer.
func (s *Service) UpdateWorkspace(ctx context.Context, name string, maxServiceAccounts *int) (Workspace, error) {
	if maxServiceAccounts == nil {
		return s.GetWorkspace(ctx, name)
	}
	if n := *maxServiceAccounts; n < 1 || n > MaxServiceAccountsLimit {
		return Workspace{}, Invalid("max_service_accounts", "must be between 1 and %d", MaxServiceAccountsLimit)
	}
	var w Workspace
	err := s.update(ctx, "workspace.set_limit", scope{ws: name}, func(tx Tx, m *mutation) error {
		var err error
		if w, err = getWorkspace(ctx, tx, name); err != nil {
			return err
		}
		if err := tx.LockWorkspace(ctx, name); err != nil {
			return err
		}
		previous := w.MaxServiceAccounts
		w.MaxServiceAccounts = *maxServiceAccounts
		if err := tx.UpdateWorkspace(ctx, w); err != nil {
			return err
		}
		return m.audit(tx, name, name, map[string]string{
			"max_service_accounts": fmt.Sprint(w.MaxServiceAccounts), "previous_max_service_accounts": fmt.Sprint(previous),
		})
	})
	return w, err
}

// GetWorkspace reads a workspace.
func (s *Service) GetWorkspace(ctx context.Context, name string) (Workspace, error) {
	var w Workspace
	err := s.view(ctx, "workspace.read", scope{ws: name}, func(tx Tx) error {
		var err error
		w, err = getWorkspace(ctx, tx, name)
		return err
	})
	return w, err
}

// ListWorkspaces lists workspaces by name.
func (s *Service) ListWorkspaces(ctx context.Context, p Page) ([]Workspace, string, error) {
	size, after, err := parsePage(p, 1)
	if err != nil {
		return nil, "", err
	}
	var ws []Workspace
	err = s.view(ctx, "workspace.list", scope{}, func(tx Tx) error {
		ws, err = tx.ListWorkspaces(ctx, after[0], size+1)
		return err
	})
	if err != nil {
		return nil, "", err
	}
	ws, next := nextPage(ws, size, func(w Workspace) []string { return []string{w.Name} })
	return ws, next, nil
}

// getWorkspace reads workspace name or answers KindInvalid / KindNotFound.
func getWorkspace(ctx context.Context, tx Tx, name string) (Workspace, error) {
	if err := ValidateSlug("workspace", name); err != nil {
		return Workspace{}, err
	}
	w, ok, err := tx.GetWorkspace(ctx, name)
	if err != nil {
		return Workspace{}, err
	}
	if !ok {
		return Workspace{}, NotFound("workspace", name)
	}
	return w, nil
}
