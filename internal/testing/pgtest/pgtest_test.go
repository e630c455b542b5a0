package pgtest

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

func query(t *testing.T, url, q string) (string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		return "", err
	}
	defer conn.Close(ctx)
	var s string
	err = conn.QueryRow(ctx, q).Scan(&s)
	return s, err
}

func TestStartAndStop(t *testing.T) {
	skipShort(t)
	var url string
	t.Run("server", func(t *testing.T) {
		url = Start(t)
		if strings.Contains(url, ":5432/") {
			t.Fatalf("Start returned the default port: %s", url)
		}
		v, err := query(t, url, "SHOW server_version")
		if err != nil || v == "" {
			t.Fatalf("server_version = %q, %v", v, err)
		}
		if fsync, err := query(t, url, "SHOW fsync"); err != nil || fsync != "off" {
			t.Errorf("fsync = %q, %v; want a throwaway server with fsync off", fsync, err)
		}

		db := NewDatabase(t, url)
		db2 := NewDatabase(t, url)
		if db == db2 {
			t.Fatalf("NewDatabase returned %s twice", db)
		}
		name, err := query(t, db, "SELECT current_database()")
		if err != nil || !strings.HasSuffix(db, "/"+name+"?sslmode=disable") {
			t.Errorf("current_database() on %s = %q, %v", db, name, err)
		}
		if _, err := query(t, db, "CREATE TABLE x (v text)"); err == nil || !strings.Contains(err.Error(), "no rows") {
			t.Errorf("creating a table in the new database: %v", err)
		}
		if _, err := query(t, db2, "SELECT v FROM x"); err == nil {
			t.Errorf("a table of one database is visible in another")
		}
	})
	// The subtest's cleanup has stopped the server.
	if _, err := query(t, url, "SELECT 'up'"); err == nil {
		t.Errorf("the server at %s still answers after its test ended", url)
	}
}

func TestFindBinDir(t *testing.T) {
	root := t.TempDir()
	install := func(version string, progs ...string) string {
		dir := filepath.Join(root, version, "bin")
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		for _, p := range progs {
			if err := os.WriteFile(filepath.Join(dir, p), []byte("#!/bin/sh\n"), 0o755); err != nil {
				t.Fatal(err)
			}
		}
		return dir
	}
	notOnPath := func(string) (string, error) { return "", exec.ErrNotFound }
	pattern := filepath.Join(root, "*", "bin")

	if dir, err := findBinDir(pattern, notOnPath); err == nil || !strings.Contains(err.Error(), "apt-get install -y postgresql") {
		t.Errorf("nothing installed: findBinDir = %q, %v; want an error naming the package to install", dir, err)
	}
	install("9", "initdb", "postgres")
	want := install("16", "initdb", "postgres")
	install("17", "initdb") // incomplete: no server
	if dir, err := findBinDir(pattern, notOnPath); err != nil || dir != want {
		t.Errorf("findBinDir = %q, %v; want the newest complete install %q", dir, err, want)
	}
	onPath := func(string) (string, error) { return filepath.Join(want, "initdb"), nil }
	if dir, err := findBinDir(filepath.Join(root, "none", "*"), onPath); err != nil || dir != want {
		t.Errorf("findBinDir from PATH = %q, %v; want %q", dir, err, want)
	}
}
