package sqlstore_test

import (
	"context"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/sagate/sagate/keystore"
	"github.com/sagate/sagate/keystore/sqlstore"
)

// The database holds every key's hash and the audit trail: what sagate creates is
// readable by its own user only, whatever the umask.
func TestSQLiteCreatesPrivateFiles(t *testing.T) {
	old := syscall.Umask(0)
	defer syscall.Umask(old)
	ctx := keystore.WithPrincipal(context.Background(), keystore.Operator("test"))
	dir := filepath.Join(t.TempDir(), "var", "sagate")
	path := filepath.Join(dir, "sagate.db")
	st := openSQLite(t, path)
	defer st.Close()
	svc, err := keystore.NewService(st, keystore.ServiceOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := svc.CreateWorkspace(ctx, "ml-team", 0); err != nil {
		t.Fatal(err)
	}
	want := map[string]fs.FileMode{
		filepath.Dir(dir): 0o700 | fs.ModeDir,
		dir:               0o700 | fs.ModeDir,
		path:              0o600,
		path + "-wal":     0o600,
		path + "-shm":     0o600,
	}
	for p, mode := range want {
		fi, err := os.Stat(p)
		if err != nil {
			t.Fatalf("stat: %v", err)
		}
		if fi.Mode() != mode {
			t.Errorf("%s: mode %v, want %v", p, fi.Mode(), mode)
		}
	}
}

// A folder sagate did not create keeps its mode, and a file that is there is opened as it is.
func TestSQLiteKeepsExistingModes(t *testing.T) {
	dir := t.TempDir()
	if err := os.Chmod(dir, 0o750); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "sagate.db")
	openSQLite(t, path).Close()
	if err := os.Chmod(path, 0o640); err != nil {
		t.Fatal(err)
	}
	openSQLite(t, path).Close()
	for p, mode := range map[string]fs.FileMode{dir: 0o750 | fs.ModeDir, path: 0o640} {
		if fi, err := os.Stat(p); err != nil || fi.Mode() != mode {
			t.Errorf("%s: %v, %v; want mode %v", p, fi.Mode(), err, mode)
		}
	}
}

// A folder that cannot be made is named in the error (SQLite alone says
// "unable to open database file (14)").
func TestSQLiteFolderErrorNamesFolder(t *testing.T) {
	notDir := filepath.Join(t.TempDir(), "state")
	if err := os.WriteFile(notDir, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	folder := filepath.Join(notDir, "sagate")
	_, err := sqlstore.Open(context.Background(), "sqlite://"+filepath.Join(folder, "sagate.db"))
	if err == nil || !strings.Contains(err.Error(), "folder "+folder) {
		t.Fatalf("Open under a file: %v; want an error naming the folder %s", err, folder)
	}
}
