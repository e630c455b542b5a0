// Package storetest is the conformance suite every keystore.Store runs: it checks the
// domain rules of keystore.Service and the RecordSource through the Store under test,
// so SQLite and PostgreSQL are held to the same behaviour.
//
//	func TestSQLite(t *testing.T) {
//		storetest.Run(t, func(t *testing.T) keystore.Store { … a fresh, empty store … })
//	}
package storetest

import (
	"context"
	"encoding/json"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sagate/sagate/keystore"
	"github.com/sagate/sagate/keystore/wire"
)

// Run runs the whole suite. open must return a fresh, empty store for each call; Run
// closes it when the subtest ends.
func Run(t *testing.T, open func(t *testing.T) keystore.Store) {
	tests := []struct {
		name string
		fn   func(t *testing.T, e *env)
	}{
		{"Workspaces", testWorkspaces},
		{"CreateServiceAccount", testCreateServiceAccount},
		{"ServiceAccountLimitIsAtomic", testLimitConcurrent},
		{"GetAndUpdateServiceAccount", testGetUpdateAccount},
		{"DeactivateServiceAccount", testDeactivate},
		{"ReactivateVoidsOldKeys", testReactivate},
		{"DeleteServiceAccount", testDelete},
		{"CreateAndListKeys", testCreateListKeys},
		{"RotateKey", testRotate},
		{"KeyStateTransitions", testKeyTransitions},
		{"KeyExpiry", testExpiry},
		{"KeyRefByLast6", testLast6},
		{"RevokeAllKeys", testRevokeAll},
		{"Grants", testGrants},
		{"AuthRecords", testAuthRecords},
		{"ScanAuthRecords", testScan},
		{"RecordKeyUse", testKeyUse},
		{"RecordKeyUseIgnoresKeysNotLive", testKeyUseNotLive},
		{"Revision", testRevision},
		{"RecordsMoveTheRevision", testRecordsMoveTheRevision},
		{"KeyIdentities", testKeyIdentities},
		{"Audit", testAudit},
		{"Pagination", testPagination},
		{"SyncerErrorKeepsCommit", testSyncerError},
		{"Authenticate", testAuthenticate},
		{"AccessRules", testAccessRules},
		{"OneRoleRule", testOneRoleRule},
		{"Groups", testGroups},
		{"ListProjects", testListProjects},
		{"Ownership", testOwnership},
		{"FindAccounts", testFindAccounts},
		{"RateLimit", testRateLimit},
		{"SyncPending", testSyncPending},
		{"SyncPendingAgeAndConfirm", testSyncPendingAgeAndConfirm},
		{"NotOnItself", testNotOnItself},
		{"KeyUsable", testKeyUsable},
		{"RotateRetry", testRotateRetry},
		{"SelfRotation", testSelfRotation},
		{"GetAndFindKeys", testGetFindKeys},
		{"KeyUseBeforeRevocation", testKeyUseBeforeRevocation},
		{"AdminAddedTwice", testAdminAddedTwice},
		{"AuditByName", testAuditByName},
		{"AnnounceExpiries", testAnnounceExpiries},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tc.fn(t, newEnv(t, open(t)))
		})
	}
}

// Operator is the operator name the suite acts as, unless a test says otherwise.
const Operator = "storetest"

// env is one test's world: a store, a Service over it with a recording Syncer and a clock.
type env struct {
	t     *testing.T
	ctx   context.Context
	store keystore.Store
	svc   *keystore.Service
	sync  *recorder
	clock *clock
	// secrets holds every key text issued, to check that none leaks.
	secrets []string
}

func newEnv(t *testing.T, st keystore.Store) *env {
	t.Helper()
	t.Cleanup(func() {
		if err := st.Close(); err != nil {
			t.Errorf("closing store: %v", err)
		}
	})
	e := &env{t: t, ctx: keystore.WithPrincipal(context.Background(), keystore.Operator(Operator)), store: st, sync: &recorder{}, clock: &clock{t: time.Now()}}
	svc, err := keystore.NewService(st, keystore.ServiceOptions{Syncer: e.sync, Now: e.clock.Now})
	if err != nil {
		t.Fatalf("NewService: %v", err)
	}
	e.svc = svc
	return e
}

// clock is a settable clock, safe for concurrent use.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time      { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Set(t time.Time)     { c.mu.Lock(); defer c.mu.Unlock(); c.t = t }
func (c *clock) Add(d time.Duration) { c.mu.Lock(); defer c.mu.Unlock(); c.t = c.t.Add(d) }

// recorder is a Syncer that records every Change.
type recorder struct {
	mu      sync.Mutex
	changes []keystore.Change
	err     error
}

func (r *recorder) Apply(_ context.Context, c keystore.Change) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.changes = append(r.changes, c)
	return r.err
}

// take returns the changes recorded since the last take.
func (r *recorder) take() []keystore.Change {
	r.mu.Lock()
	defer r.mu.Unlock()
	c := r.changes
	r.changes = nil
	return c
}

// expectChange checks that exactly one Change was applied since the last take, for
// action, carrying exactly the hashes of keys (in any order).
func (e *env) expectChange(action string, keys ...keystore.KeyHash) keystore.Change {
	e.t.Helper()
	cs := e.sync.take()
	if len(cs) != 1 {
		e.t.Fatalf("%s: got %d changes, want 1: %+v", action, len(cs), cs)
	}
	c := cs[0]
	if c.Action != action {
		e.t.Errorf("change action = %q, want %q", c.Action, action)
	}
	if c.Rev <= 0 {
		e.t.Errorf("%s: change rev = %d, want > 0", action, c.Rev)
	}
	if !sameHashes(c.Hashes, keys) {
		e.t.Errorf("%s: change hashes = %v, want %v", action, short(c.Hashes), short(keys))
	}
	return c
}

// expectNoChange checks that no Change was applied since the last take.
func (e *env) expectNoChange(doing string) {
	e.t.Helper()
	if cs := e.sync.take(); len(cs) != 0 {
		e.t.Errorf("%s: got changes %+v, want none", doing, cs)
	}
}

func sameHashes(a, b []keystore.KeyHash) bool {
	x, y := short(a), short(b)
	slices.Sort(x)
	slices.Sort(y)
	return slices.Equal(x, y)
}

func short(hs []keystore.KeyHash) []string {
	out := make([]string, len(hs))
	for i, h := range hs {
		out[i] = h.String()[:12]
	}
	return out
}

// ws creates a workspace.
func (e *env) ws(name string, max int) keystore.Workspace {
	e.t.Helper()
	w, err := e.svc.CreateWorkspace(e.ctx, name, max)
	if err != nil {
		e.t.Fatalf("CreateWorkspace(%q): %v", name, err)
	}
	e.sync.take()
	return w
}

// sa creates an account with a first key and returns both.
func (e *env) sa(ws, name string) (keystore.ServiceAccount, keystore.IssuedKey) {
	e.t.Helper()
	sa, k, err := e.svc.CreateServiceAccount(e.ctx, ws, keystore.CreateServiceAccountInput{Name: name, CreateKey: true})
	if err != nil {
		e.t.Fatalf("CreateServiceAccount(%q): %v", name, err)
	}
	if k == nil {
		e.t.Fatalf("CreateServiceAccount(%q): no key", name)
	}
	e.secrets = append(e.secrets, k.Key)
	e.sync.take()
	return sa, *k
}

// key issues one more key to sa.
func (e *env) key(ws, sa string, in keystore.CreateKeyInput) keystore.IssuedKey {
	e.t.Helper()
	k, err := e.svc.CreateKey(e.ctx, ws, sa, in)
	if err != nil {
		e.t.Fatalf("CreateKey(%q): %v", sa, err)
	}
	e.secrets = append(e.secrets, k.Key)
	e.sync.take()
	return k
}

// keys lists every key of sa by id.
func (e *env) keys(ws, sa string) map[string]keystore.APIKey {
	e.t.Helper()
	ks, _, err := e.svc.ListKeys(e.ctx, ws, sa, keystore.Page{Size: keystore.MaxPageSize})
	if err != nil {
		e.t.Fatalf("ListKeys(%q): %v", sa, err)
	}
	out := make(map[string]keystore.APIKey, len(ks))
	for _, k := range ks {
		out[k.ID] = k
	}
	return out
}

// records reads the auth records of the given keys.
func (e *env) records(keys ...keystore.IssuedKey) (map[keystore.KeyHash]wire.Record, int64) {
	e.t.Helper()
	hs := make([]keystore.KeyHash, len(keys))
	for i, k := range keys {
		hs[i] = keystore.HashKey(k.Key)
	}
	recs, rev, err := e.store.AuthRecords(e.ctx, hs)
	if err != nil {
		e.t.Fatalf("AuthRecords: %v", err)
	}
	return recs, rev
}

// wantKind checks that err is a *keystore.Error of kind.
func wantKind(t *testing.T, doing string, err error, kind keystore.Kind) {
	t.Helper()
	if err == nil {
		t.Errorf("%s: no error, want %s", doing, kind)
		return
	}
	if got := keystore.KindOf(err); got != kind {
		t.Errorf("%s: error %q has kind %q, want %q", doing, err, got, kind)
	}
}

// noSecret fails if v, as JSON, contains any secret or hash of e.secrets.
func (e *env) noSecret(what string, v any) {
	e.t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		e.t.Fatalf("marshaling %s: %v", what, err)
	}
	for _, s := range e.secrets {
		if strings.Contains(string(b), s) || strings.Contains(string(b), keystore.HashKey(s).String()) {
			e.t.Errorf("%s contains a secret or its hash (key ending %s)", what, keystore.Last6(s))
		}
	}
}

func hash(k keystore.IssuedKey) keystore.KeyHash { return keystore.HashKey(k.Key) }
