package sqlstore

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/sagate/sagate/keystore"
)

const insertWorkspaceSQL = "INSERT INTO workspaces (name, max_service_accounts, created_at) VALUES (?, ?, ?)"
const getWorkspaceSQL = "SELECT name, max_service_accounts, created_at FROM workspaces WHERE name = ?"

// TestStmtCache: a statement first run inside a transaction is prepared once that
// transaction is over, later transactions run it prepared with the same results and
// errors, and the writer's single connection never deadlocks on it.
func TestStmtCache(t *testing.T) {
	ctx := context.Background()
	s, err := OpenSQLite(ctx, filepath.Join(t.TempDir(), "sagate.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	insert := func(name string) error {
		_, err := s.Update(ctx, func(tx keystore.Tx) error {
			return tx.InsertWorkspace(ctx, keystore.Workspace{Name: name, MaxServiceAccounts: 3, CreatedAt: time.Now()})
		})
		return err
	}
	prepared := func(c *stmtCache, q string) bool {
		c.mu.Lock()
		defer c.mu.Unlock()
		_, ok := c.stmts[q]
		return ok
	}

	if prepared(s.ws, insertWorkspaceSQL) {
		t.Fatal("the insert is prepared before it ever ran")
	}
	if err := insert("first"); err != nil {
		t.Fatal(err)
	}
	if !prepared(s.ws, insertWorkspaceSQL) {
		t.Fatal("the insert is not prepared after its first transaction")
	}
	// Prepared, it still writes, and a duplicate is still a conflict.
	if err := insert("second"); err != nil {
		t.Fatal(err)
	}
	if err := insert("second"); !errors.Is(err, keystore.ErrConflict) {
		t.Fatalf("duplicate insert through the prepared statement: %v, want ErrConflict", err)
	}
	for range 2 { // the first read prepares, the second runs prepared
		for _, name := range []string{"first", "second"} {
			err := s.View(ctx, func(tx keystore.Tx) error {
				w, ok, err := tx.GetWorkspace(ctx, name)
				if err != nil || !ok || w.Name != name || w.MaxServiceAccounts != 3 {
					return fmt.Errorf("GetWorkspace(%s) = %+v, %v, %v", name, w, ok, err)
				}
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
		}
	}
	if !prepared(s.rs, getWorkspaceSQL) {
		t.Fatal("the read is not prepared after its first transaction")
	}

	// Close lets go of every prepared statement, and nothing is prepared after it.
	s.ws.lookup("SELECT 1")
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s.ws.prepareWanted(ctx)
	if prepared(s.ws, "SELECT 1") || prepared(s.ws, insertWorkspaceSQL) {
		t.Fatal("statements are held after Close")
	}
}

// TestStmtCacheBounded: texts built at run time cannot grow the cache without end.
func TestStmtCacheBounded(t *testing.T) {
	c := newStmtCache(nil)
	for i := range 2 * maxCachedStmts {
		if st := c.lookup(fmt.Sprintf("SELECT %d", i)); st != nil {
			t.Fatalf("lookup %d returned a statement that was never prepared", i)
		}
	}
	if n := len(c.wanted) + len(c.stmts); n != maxCachedStmts {
		t.Fatalf("%d texts noted, want at most %d", n, maxCachedStmts)
	}
	var nilCache *stmtCache
	if nilCache.lookup("SELECT 1") != nil {
		t.Fatal("a nil cache returned a statement")
	}
	nilCache.prepareWanted(context.Background()) // must not panic
}
