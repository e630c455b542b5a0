package keystore_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/sagate/sagate/keystore"
	"github.com/sagate/sagate/keystore/sqlstore"
)

// syncerFunc is a Syncer whose Apply is a function.
type syncerFunc func(context.Context, keystore.Change) error

func (f syncerFunc) Apply(ctx context.Context, c keystore.Change) error { return f(ctx, c) }

func TestSyncReport(t *testing.T) {
	refused := fmt.Errorf("syncing key.create to redis: %w", &net.OpError{Op: "dial", Net: "tcp", Err: syscall.ECONNREFUSED})
	cases := []struct {
		name       string
		syncer     keystore.Syncer
		state      keystore.SyncState
		reason     string
		withReport bool
	}{
		{"applied", syncerFunc(func(context.Context, keystore.Change) error { return nil }), keystore.SyncApplied, "", true},
		{"redis refused", syncerFunc(func(context.Context, keystore.Change) error { return refused }), keystore.SyncPending, keystore.SyncReasonUnreachable, true},
		{"redis timed out", syncerFunc(func(context.Context, keystore.Change) error { return context.DeadlineExceeded }), keystore.SyncPending, keystore.SyncReasonUnreachable, true},
		{"other failure", syncerFunc(func(context.Context, keystore.Change) error { return errors.New("record too large") }), keystore.SyncPending, keystore.SyncReasonFailed, true},
		{"no syncer", nil, "", "", true},
		{"no report asked", syncerFunc(func(context.Context, keystore.Change) error { return refused }), "", "", false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			st, err := sqlstore.OpenSQLite(context.Background(), filepath.Join(t.TempDir(), "sagate.db"))
			if err != nil {
				t.Fatal(err)
			}
			defer st.Close()
			svc, err := keystore.NewService(st, keystore.ServiceOptions{Syncer: c.syncer})
			if err != nil {
				t.Fatal(err)
			}
			op := keystore.WithPrincipal(context.Background(), keystore.Operator("test"))
			ctx, rep := keystore.WithSyncReport(op)
			if !c.withReport {
				ctx = op
			}
			if _, err := svc.CreateWorkspace(ctx, "ml-team", 0); err != nil {
				t.Fatal(err)
			}
			// A change that touches no key has nothing to sync.
			if c.syncer != nil && c.withReport && rep.State() != keystore.SyncApplied {
				t.Fatalf("after a workspace create: %q", rep.State())
			}
			if _, _, err := svc.CreateServiceAccount(ctx, "ml-team", keystore.CreateServiceAccountInput{Name: "bot", CreateKey: true}); err != nil {
				t.Fatal(err)
			}
			if rep.State() != c.state || rep.Reason() != c.reason {
				t.Fatalf("report %q %q, want %q %q", rep.State(), rep.Reason(), c.state, c.reason)
			}
			// A failed mutation does not change the report.
			if _, _, err := svc.CreateServiceAccount(ctx, "ml-team", keystore.CreateServiceAccountInput{Name: "bot"}); err == nil {
				t.Fatal("a second bot was created")
			}
			if rep.State() != c.state {
				t.Fatalf("after a failed mutation: %q, want %q", rep.State(), c.state)
			}
		})
	}
}
