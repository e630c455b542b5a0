package sqlstore_test

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"

	_ "github.com/jackc/pgx/v5/stdlib" // registers the "pgx" database/sql driver

	"github.com/sagate/sagate/internal/testing/pgtest"
	"github.com/sagate/sagate/internal/testing/redistest"
	"github.com/sagate/sagate/keystore"
	"github.com/sagate/sagate/keystore/sqlstore"
	"github.com/sagate/sagate/keystore/storetest"
)

func openPostgres(t testing.TB, url string) keystore.Store {
	t.Helper()
	st, err := sqlstore.Open(context.Background(), url)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	return st
}

// TestPostgres runs every PostgreSQL test on one private server, each on a fresh database.
func TestPostgres(t *testing.T) {
	server := pgtest.Start(t)
	fresh := func(t *testing.T) string { return pgtest.NewDatabase(t, server) }
	t.Run("Conformance", func(t *testing.T) {
		storetest.Run(t, func(t *testing.T) keystore.Store { return openPostgres(t, fresh(t)) })
	})
	t.Run("TwoAdminsShareTheLimit", func(t *testing.T) { testPostgresTwoAdmins(t, fresh(t)) })
	t.Run("RevisionsAcrossAdmins", func(t *testing.T) { testPostgresRevisions(t, fresh(t)) })
	t.Run("Restart", func(t *testing.T) {
		url := fresh(t)
		storetest.Restart(t, func() keystore.Store { return openPostgres(t, url) })
	})
	t.Run("Migrations", func(t *testing.T) { testPostgresMigrations(t, fresh(t)) })
}

// testPostgresTwoAdmins: two stores on one database (two admins) create
// accounts in one workspace at once; max_service_accounts holds across both.
func testPostgresTwoAdmins(t *testing.T, url string) {
	const limit, perAdmin = 20, 15
	ctx := keystore.WithPrincipal(context.Background(), keystore.Operator("test"))
	var svcs [2]*keystore.Service
	for i := range svcs {
		st := openPostgres(t, url)
		t.Cleanup(func() { st.Close() })
		svc, err := keystore.NewService(st, keystore.ServiceOptions{})
		if err != nil {
			t.Fatal(err)
		}
		svcs[i] = svc
	}
	if _, err := svcs[0].CreateWorkspace(ctx, "shared", limit); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	errs := make([]error, 2*perAdmin)
	for i := range errs {
		wg.Go(func() {
			_, _, errs[i] = svcs[i%2].CreateServiceAccount(ctx, "shared",
				keystore.CreateServiceAccountInput{Name: fmt.Sprintf("sa-%d", i), CreateKey: true})
		})
	}
	wg.Wait()
	ok, limited := 0, 0
	for i, err := range errs {
		switch {
		case err == nil:
			ok++
		case keystore.KindOf(err) == keystore.KindLimitReached:
			limited++
		default:
			t.Errorf("create %d on admin %d: %v", i, i%2, err)
		}
	}
	if ok != limit || limited != len(errs)-limit {
		t.Errorf("%d succeeded and %d hit the limit; want %d and %d", ok, limited, limit, len(errs)-limit)
	}
	for i, svc := range svcs {
		list, _, err := svc.ListServiceAccounts(ctx, "shared", keystore.Page{Size: 100})
		if err != nil || len(list) != limit {
			t.Errorf("admin %d lists %d accounts, %v; want %d", i, len(list), err, limit)
		}
	}
}

// testPostgresRevisions: concurrent writes through two stores get distinct,
// consecutive revisions (the revision row serialises every writer).
func testPostgresRevisions(t *testing.T, url string) {
	const writes = 40
	ctx := keystore.WithPrincipal(context.Background(), keystore.Operator("test"))
	stores := [2]keystore.Store{openPostgres(t, url), openPostgres(t, url)}
	for _, st := range stores {
		t.Cleanup(func() { st.Close() })
	}
	revs := make([]int64, writes)
	errs := make([]error, writes)
	var wg sync.WaitGroup
	for i := range writes {
		wg.Go(func() {
			revs[i], errs[i] = stores[i%2].Update(ctx, func(tx keystore.Tx) error {
				return tx.InsertAudit(ctx, keystore.AuditEvent{Actor: "test", Action: "noop", Target: fmt.Sprint(i)})
			})
		})
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		t.Fatalf("Update: %v", err)
	}
	revOf := make(map[string]int64, writes) // audit target → revision of its commit
	for i, r := range revs {
		revOf[fmt.Sprint(i)] = r
	}
	slices.Sort(revs)
	for i, r := range revs {
		if r != int64(i+1) {
			t.Fatalf("revisions = %v; want 1..%d", revs, writes)
		}
	}
	// Audit ids are taken under the revision lock: newest first by id is newest first by revision.
	var events []keystore.AuditEvent
	err := stores[1].View(ctx, func(tx keystore.Tx) error {
		var err error
		events, err = tx.ListAudit(ctx, keystore.AuditFilter{}, 0, writes+1)
		return err
	})
	if err != nil || len(events) != writes {
		t.Fatalf("ListAudit: %d events, %v", len(events), err)
	}
	for i, ev := range events {
		if want := int64(writes - i); revOf[ev.Target] != want {
			t.Errorf("audit event %d (id %d) was committed at revision %d, want %d", i, ev.ID, revOf[ev.Target], want)
		}
	}
}

// testPostgresMigrations: admins starting at once on an empty database apply the schema
// once (the advisory lock), and a View cannot write.
func testPostgresMigrations(t *testing.T, url string) {
	ctx := keystore.WithPrincipal(context.Background(), keystore.Operator("test"))
	const admins = 4
	stores := make([]keystore.Store, admins)
	errs := make([]error, admins)
	var wg sync.WaitGroup
	for i := range admins {
		wg.Go(func() { stores[i], errs[i] = sqlstore.Open(ctx, url) })
	}
	wg.Wait()
	for i, st := range stores {
		if errs[i] != nil {
			t.Fatalf("admin %d: Open: %v", i, errs[i])
		}
		t.Cleanup(func() { st.Close() })
	}
	v, err := stores[0].(*sqlstore.PostgresStore).SchemaVersion(ctx)
	if err != nil || v != schemaVersion {
		t.Errorf("SchemaVersion = %d, %v; want %d", v, err, schemaVersion)
	}
	db, err := sql.Open("pgx", url)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var n, rev int
	if err := db.QueryRow("SELECT count(*) FROM schema_migrations").Scan(&n); err != nil || n != schemaVersion {
		t.Errorf("schema_migrations rows = %d, %v; want %d", n, err, schemaVersion)
	}
	if err := db.QueryRow("SELECT count(*), max(rev) FROM meta").Scan(&n, &rev); err != nil || n != 1 || rev != 0 {
		t.Errorf("meta = %d rows, rev %d, %v; want one row at rev 0", n, rev, err)
	}
	err = stores[1].View(ctx, func(tx keystore.Tx) error {
		return tx.InsertWorkspace(ctx, keystore.Workspace{Name: "ro", MaxServiceAccounts: 1})
	})
	if err == nil || errors.Is(err, keystore.ErrConflict) {
		t.Errorf("a write in a View = %v; want a read-only failure", err)
	}
}

// TestPostgresOpenErrors: a bad or unreachable URL fails with a message that names the
// problem and never shows the password.
func TestPostgresOpenErrors(t *testing.T) {
	const password = "hunter2-secret"
	port := redistest.FreePort(t) // nothing listens there
	for _, url := range []string{
		fmt.Sprintf("postgres://sagate:%s@127.0.0.1:%d/sagate?sslmode=disable&connect_timeout=5", password, port),
		fmt.Sprintf("postgresql://sagate:%s@127.0.0.1:%d/sagate?sslmode=disable&connect_timeout=5", password, port),
		fmt.Sprintf("postgres://sagate:%s@127.0.0.1:notaport/sagate", password),
		fmt.Sprintf("postgres://sagate:%s@127.0.0.1/sagate?sslmode=bogus", password),
	} {
		st, err := sqlstore.Open(context.Background(), url)
		if err != nil && st != nil {
			t.Errorf("Open failed and returned a non-nil Store %#v", st)
		}
		if err == nil {
			st.Close()
			t.Errorf("Open(%s) succeeded", strings.ReplaceAll(url, password, "***"))
			continue
		}
		if strings.Contains(err.Error(), password) {
			t.Errorf("Open error shows the password: %s", strings.ReplaceAll(err.Error(), password, "***"))
		}
		if !strings.Contains(err.Error(), "postgres store") {
			t.Errorf("Open error does not say what was being done: %v", err)
		}
	}
}

// BenchmarkPostgresScanAuthRecords streams 50,000 keys; B/op divided by the key count
// shows that memory does not grow with the number of keys (rows arrive one at a time).
func BenchmarkPostgresScanAuthRecords(b *testing.B) {
	st := openPostgres(b, pgtest.NewDatabase(b, pgtest.Start(b)))
	b.Cleanup(func() { st.Close() })
	storetest.BenchScanAuthRecords(b, st, 50000)
}
