// Package pgtest starts a throwaway PostgreSQL server for a test: initdb into the
// test's temporary directory, then the postmaster on a free loopback port with its
// socket in that directory. The server is stopped when the test ends. It never
// touches the machine's own PostgreSQL (port 5432, /var/run/postgresql).
//
// The binaries are taken from the newest /usr/lib/postgresql/*/bin (Debian's layout),
// or from PATH. A missing PostgreSQL fails the test: nothing is skipped.
//
// initdb and postgres refuse to run as root. When the test runs as root, both run as
// the "postgres" OS user (the postgresql package creates it), with the data directory
// handed to that user and the temporary directory's parents opened for traversal.
package pgtest

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/sagate/sagate/internal/testing/redistest"
)

// installHint is what a test failure says when PostgreSQL is missing.
const installHint = "apt-get install -y postgresql"

// startTimeout bounds how long the server may take to accept connections.
const startTimeout = 60 * time.Second

// dbCounter names the databases NewDatabase creates; global so names never repeat in a process.
var dbCounter atomic.Int64

// Start runs a private PostgreSQL server for t and returns a URL of its "postgres"
// database as the superuser "postgres" (trust authentication on loopback, sslmode=disable).
// The server is stopped, and its files removed, when t ends.
func Start(t testing.TB) (url string) {
	t.Helper()
	skipShort(t)
	bin := binDir(t)
	dir := t.TempDir()
	cred := credential(t, dir)

	data := filepath.Join(dir, "data")
	if err := os.Mkdir(data, 0o700); err != nil {
		t.Fatalf("pgtest: creating the data directory: %v", err)
	}
	sock := socketDir(t, dir)
	if cred != nil {
		for _, d := range []string{data, sock} {
			if err := os.Chown(d, int(cred.Uid), int(cred.Gid)); err != nil {
				t.Fatalf("pgtest: handing %s to the postgres user: %v", d, err)
			}
		}
	}

	initdb := command(filepath.Join(bin, "initdb"), dir, cred,
		"-D", data, "-U", "postgres", "--auth=trust", "--encoding=UTF8", "--locale=C", "--no-sync")
	if out, err := initdb.CombinedOutput(); err != nil {
		t.Fatalf("pgtest: initdb: %v\n%s", err, out)
	}

	port := redistest.FreePort(t)
	logPath := filepath.Join(dir, "postgres.log")
	logFile, err := os.Create(logPath)
	if err != nil {
		t.Fatalf("pgtest: creating the server log: %v", err)
	}
	defer logFile.Close() // the child keeps its own descriptor
	// Durability is off: the server and its files live only as long as the test.
	srv := command(filepath.Join(bin, "postgres"), dir, cred,
		"-D", data, "-p", strconv.Itoa(port), "-k", sock,
		"-c", "listen_addresses=127.0.0.1", "-c", "fsync=off", "-c", "synchronous_commit=off",
		"-c", "full_page_writes=off", "-c", "max_connections=200")
	srv.Stdout, srv.Stderr = logFile, logFile
	if err := srv.Start(); err != nil {
		t.Fatalf("pgtest: starting postgres: %v", err)
	}
	s := &server{cmd: srv, done: make(chan struct{})}
	go func() {
		s.err = srv.Wait()
		close(s.done)
	}()
	t.Cleanup(s.stop)

	url = fmt.Sprintf("postgres://postgres@127.0.0.1:%d/postgres?sslmode=disable", port)
	if err := s.waitReady(url); err != nil {
		log, _ := os.ReadFile(logPath)
		t.Fatalf("pgtest: postgres on port %d did not start: %v\n%s", port, err, log)
	}
	return url
}

// NewDatabase creates a fresh, empty database on the server of url (as returned by
// Start) and returns a URL for it. The database lives until the server stops.
func NewDatabase(t testing.TB, url string) string {
	t.Helper()
	skipShort(t)
	name := fmt.Sprintf("test_%d_%d", os.Getpid(), dbCounter.Add(1))
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatalf("pgtest: connecting to create a database: %v", err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, "CREATE DATABASE "+pgx.Identifier{name}.Sanitize()); err != nil {
		t.Fatalf("pgtest: creating database %s: %v", name, err)
	}
	cfg, err := pgx.ParseConfig(url)
	if err != nil {
		t.Fatalf("pgtest: parsing the server URL: %v", err)
	}
	return fmt.Sprintf("postgres://%s@%s/%s?sslmode=disable",
		cfg.User, net.JoinHostPort(cfg.Host, strconv.Itoa(int(cfg.Port))), name)
}

// server is one running postmaster.
type server struct {
	cmd  *exec.Cmd
	done chan struct{} // closed when the process has exited
	err  error         // its exit status, once done is closed

	once sync.Once
}

// waitReady polls until the server accepts a query, or fails if it exits or times out.
func (s *server) waitReady(url string) error {
	deadline := time.Now().Add(startTimeout)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		conn, err := pgx.Connect(ctx, url)
		if err == nil {
			err = conn.Ping(ctx)
			conn.Close(ctx)
		}
		cancel()
		if err == nil {
			return nil
		}
		select {
		case <-s.done:
			return fmt.Errorf("the server exited: %v", s.err)
		default:
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("no answer after %s: %w", startTimeout, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// stop asks for a fast shutdown (SIGINT: abort sessions, checkpoint, exit) and kills
// the process group if the server is still there after a while.
func (s *server) stop() {
	s.once.Do(func() {
		_ = s.cmd.Process.Signal(syscall.SIGINT)
		select {
		case <-s.done:
		case <-time.After(30 * time.Second):
			_ = syscall.Kill(-s.cmd.Process.Pid, syscall.SIGKILL)
			<-s.done
		}
	})
}

// command prepares a PostgreSQL program to run in dir, as cred's user when cred is set.
// The process gets its own process group and dies with the test binary.
func command(path, dir string, cred *syscall.Credential, args ...string) *exec.Cmd {
	cmd := exec.Command(path, args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "LC_ALL=C", "TZ=UTC")
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL, Credential: cred}
	return cmd
}

// binDir finds the directory holding initdb and postgres, or fails the test saying
// how to install PostgreSQL.
func binDir(t testing.TB) string {
	t.Helper()
	dir, err := findBinDir("/usr/lib/postgresql/*/bin", exec.LookPath)
	if err != nil {
		t.Fatalf("pgtest: %v", err)
	}
	return dir
}

// findBinDir returns the newest directory matching pattern (…/<version>/bin) that holds
// initdb and postgres, else the directory of the initdb that lookPath finds.
func findBinDir(pattern string, lookPath func(string) (string, error)) (string, error) {
	dirs, _ := filepath.Glob(pattern)
	slices.SortFunc(dirs, func(a, b string) int { return versionOf(a) - versionOf(b) })
	for _, d := range slices.Backward(dirs) {
		if isExecutable(filepath.Join(d, "initdb")) && isExecutable(filepath.Join(d, "postgres")) {
			return d, nil
		}
	}
	if p, err := lookPath("initdb"); err == nil {
		if p, err = filepath.EvalSymlinks(p); err == nil && isExecutable(filepath.Join(filepath.Dir(p), "postgres")) {
			return filepath.Dir(p), nil
		}
	}
	return "", fmt.Errorf("PostgreSQL is required and was not found (no initdb and postgres in %s or on PATH); "+
		"install it with: %s", pattern, installHint)
}

// versionOf reads the major version from /usr/lib/postgresql/<version>/bin (0 if none).
func versionOf(binDir string) int {
	v, _, _ := strings.Cut(filepath.Base(filepath.Dir(binDir)), ".")
	n, _ := strconv.Atoi(v)
	return n
}

func isExecutable(path string) bool {
	fi, err := os.Stat(path)
	return err == nil && !fi.IsDir() && fi.Mode()&0o111 != 0
}

// credential returns the postgres user's credential when running as root (nil
// otherwise), after making dir and its parents traversable by that user.
func credential(t testing.TB, dir string) *syscall.Credential {
	t.Helper()
	if os.Geteuid() != 0 {
		return nil
	}
	u, err := user.Lookup("postgres")
	if err != nil {
		t.Fatalf("pgtest: running as root, PostgreSQL must run as the postgres user, which was not found "+
			"(%v); install it with: %s", err, installHint)
	}
	uid, err1 := strconv.ParseUint(u.Uid, 10, 32)
	gid, err2 := strconv.ParseUint(u.Gid, 10, 32)
	if err := errors.Join(err1, err2); err != nil {
		t.Fatalf("pgtest: reading the postgres user's ids: %v", err)
	}
	// t.TempDir() is <tmp>/<TestName><n>/<nnn>, each 0700 and owned by root: open the
	// two levels the testing package created for traversal (not listing).
	for _, d := range []string{dir, filepath.Dir(dir)} {
		if err := os.Chmod(d, 0o711); err != nil {
			t.Fatalf("pgtest: opening %s to the postgres user: %v", d, err)
		}
	}
	return &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}
}

// maxSocketDir keeps <dir>/.s.PGSQL.<port> under the 107 bytes a Unix socket path may have.
const maxSocketDir = 90

// socketDir returns a directory for the server's Unix socket: <dir>/sock, or a short
// directory of its own under /tmp when that path would be too long for a socket.
func socketDir(t testing.TB, dir string) string {
	t.Helper()
	sock := filepath.Join(dir, "sock")
	if len(sock) > maxSocketDir {
		var err error
		if sock, err = os.MkdirTemp("/tmp", "pgtest-"); err != nil {
			t.Fatalf("pgtest: creating the socket directory: %v", err)
		}
		t.Cleanup(func() { os.RemoveAll(sock) })
		return sock
	}
	if err := os.Mkdir(sock, 0o700); err != nil {
		t.Fatalf("pgtest: creating the socket directory: %v", err)
	}
	return sock
}

// skipShort skips t under go test -short, which runs only what needs no server.
func skipShort(t testing.TB) {
	t.Helper()
	if testing.Short() {
		t.Skip("needs PostgreSQL: not run with -short")
	}
}
