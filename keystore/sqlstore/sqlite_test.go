package sqlstore_test

import (
	"context"
	"database/sql"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/sagate/sagate/keystore"
	"github.com/sagate/sagate/keystore/sqlstore"
	"github.com/sagate/sagate/keystore/storetest"
)

func openSQLite(t testing.TB, path string) keystore.Store {
	t.Helper()
	st, err := sqlstore.Open(context.Background(), "sqlite://"+path)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	return st
}

func TestSQLiteConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) keystore.Store {
		return openSQLite(t, filepath.Join(t.TempDir(), "sagate.db"))
	})
}

func TestSQLiteRestart(t *testing.T) {
	path := filepath.Join(t.TempDir(), "sagate.db")
	storetest.Restart(t, func() keystore.Store { return openSQLite(t, path) })
}

// schemaVersion is the number of migrations of both stores.
const schemaVersion = 8

func TestSQLiteSchema(t *testing.T) {
	path := filepath.Join(t.TempDir(), "sagate.db")
	st := openSQLite(t, path)
	v, err := st.(*sqlstore.SQLiteStore).SchemaVersion(context.Background())
	if err != nil || v != schemaVersion {
		t.Errorf("SchemaVersion = %d, %v; want %d", v, err, schemaVersion)
	}
	st.Close()
	st = openSQLite(t, path) // migrations are not applied twice
	defer st.Close()

	db, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var mode string
	var n int
	if err := db.QueryRow("PRAGMA journal_mode").Scan(&mode); err != nil || mode != "wal" {
		t.Errorf("journal_mode = %q, %v; want wal", mode, err)
	}
	if err := db.QueryRow("SELECT count(*) FROM schema_migrations").Scan(&n); err != nil || n != schemaVersion {
		t.Errorf("schema_migrations rows = %d, %v", n, err)
	}
	var plan string
	rows, err := db.Query("EXPLAIN QUERY PLAN SELECT id FROM api_keys WHERE hash = ?", "x")
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var id, parent, notused int
		var detail string
		if err := rows.Scan(&id, &parent, &notused, &detail); err != nil {
			t.Fatal(err)
		}
		plan += detail
	}
	rows.Close()
	if !strings.Contains(plan, "USING INDEX") {
		t.Errorf("a lookup by hash does not use an index: %s", plan)
	}
}

func TestOpenURL(t *testing.T) {
	dir := t.TempDir()
	t.Chdir(dir)
	for _, tc := range []struct {
		url  string
		ok   bool
		file string
	}{
		{"sqlite://./rel.db", true, filepath.Join(dir, "rel.db")},
		{"sqlite://" + filepath.Join(dir, "abs.db"), true, filepath.Join(dir, "abs.db")},
		{"sqlite://", false, ""},
		{"sqlite://a.db?mode=ro", false, ""},
		{"sqlite://" + filepath.Join(dir, "missing", "x.db"), true, filepath.Join(dir, "missing", "x.db")}, // the folder is created
		{"mysql://u:p@host/db", false, ""},
		{"sagate.db", false, ""},
	} {
		st, err := sqlstore.Open(context.Background(), tc.url)
		if (err == nil) != tc.ok {
			t.Errorf("Open(%q) error = %v, want ok=%v", tc.url, err, tc.ok)
		}
		if err != nil {
			if strings.Contains(err.Error(), "u:p") {
				t.Errorf("Open(%q) error shows credentials: %v", tc.url, err)
			}
			if !tc.ok && strings.HasPrefix(tc.url, "mysql") && !strings.Contains(err.Error(), "sqlite://") {
				t.Errorf("Open(%q) error does not name the supported schemes: %v", tc.url, err)
			}
			continue
		}
		st.Close()
		if _, err := os.Stat(tc.file); err != nil {
			t.Errorf("Open(%q) did not create %s: %v", tc.url, tc.file, err)
		}
	}
}

func TestMetrics(t *testing.T) {
	ctx := keystore.WithPrincipal(context.Background(), keystore.Operator("test"))
	reg := prometheus.NewRegistry()
	st := openSQLite(t, filepath.Join(t.TempDir(), "sagate.db"))
	defer st.Close()
	svc, err := keystore.NewService(st, keystore.ServiceOptions{Registerer: reg})
	if err != nil {
		t.Fatal(err)
	}
	// A second Service on the same registry shares the counters.
	svc2, err := keystore.NewService(st, keystore.ServiceOptions{Registerer: reg})
	if err != nil {
		t.Fatalf("second NewService on the same registry: %v", err)
	}
	if _, err := svc.CreateWorkspace(ctx, "ws", 0); err != nil {
		t.Fatal(err)
	}
	if _, _, err := svc.CreateServiceAccount(ctx, "ws", keystore.CreateServiceAccountInput{Name: "bot", CreateKey: true}); err != nil {
		t.Fatal(err)
	}
	k, err := svc2.CreateKey(ctx, "ws", "bot", keystore.CreateKeyInput{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := svc.RotateKey(ctx, "ws", "bot", k.ID, 0, 0); err != nil {
		t.Fatal(err)
	}
	if _, _, err := svc.RevokeAllKeys(ctx, "ws", "bot"); err != nil {
		t.Fatal(err)
	}
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]float64{}
	for _, mf := range mfs {
		for _, m := range mf.GetMetric() {
			got[mf.GetName()] += m.GetCounter().GetValue()
		}
	}
	want := map[string]float64{"sagate_admin_keys_issued_total": 3, "sagate_admin_keys_revoked_total": 3}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("metrics = %v, want %v", got, want)
	}
}

type nopSyncer struct{}

func (nopSyncer) Apply(context.Context, keystore.Change) error { return nil }

func benchService(b *testing.B) *keystore.Service {
	st := openSQLite(b, filepath.Join(b.TempDir(), "sagate.db"))
	b.Cleanup(func() { st.Close() })
	svc, err := keystore.NewService(st, keystore.ServiceOptions{Syncer: nopSyncer{}})
	if err != nil {
		b.Fatal(err)
	}
	ctx := keystore.WithPrincipal(context.Background(), keystore.Operator("test"))
	if _, err := svc.CreateWorkspace(ctx, "ws", 0); err != nil {
		b.Fatal(err)
	}
	if _, _, err := svc.CreateServiceAccount(ctx, "ws", keystore.CreateServiceAccountInput{Name: "bot"}); err != nil {
		b.Fatal(err)
	}
	return svc
}

func BenchmarkCreateKey(b *testing.B) {
	svc := benchService(b)
	ctx := keystore.WithPrincipal(context.Background(), keystore.Operator("test"))
	for b.Loop() {
		if _, err := svc.CreateKey(ctx, "ws", "bot", keystore.CreateKeyInput{}); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "keys/s")
}

func BenchmarkRevokeKey(b *testing.B) {
	svc := benchService(b)
	ctx := keystore.WithPrincipal(context.Background(), keystore.Operator("test"))
	ids := make([]string, b.N)
	for i := range ids {
		k, err := svc.CreateKey(ctx, "ws", "bot", keystore.CreateKeyInput{})
		if err != nil {
			b.Fatal(err)
		}
		ids[i] = k.ID
	}
	b.ResetTimer()
	for i := range b.N {
		if err := svc.RevokeKey(ctx, "ws", "bot", ids[i]); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "revokes/s")
}

func BenchmarkCreateKeyParallel(b *testing.B) {
	svc := benchService(b)
	ctx := keystore.WithPrincipal(context.Background(), keystore.Operator("test"))
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := svc.CreateKey(ctx, "ws", "bot", keystore.CreateKeyInput{}); err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "keys/s")
}

// BenchmarkScanAuthRecords streams 50,000 keys; B/op divided by the key count shows that
// memory does not grow with the number of keys (rows are read one at a time).
func BenchmarkScanAuthRecords(b *testing.B) {
	st := openSQLite(b, filepath.Join(b.TempDir(), "sagate.db"))
	b.Cleanup(func() { st.Close() })
	storetest.BenchScanAuthRecords(b, st, 50000)
}
