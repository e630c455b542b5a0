// Package redistest starts real redis-server processes for tests, each on a free
// port of its own, so that tests may stop, kill and restart them: a single server
// (Start), a Sentinel set (StartSentinel), a Cluster (StartCluster) and a TLS-only
// server with a private CA and client certificates (NewPKI, StartTLS). It never
// touches a server it did not start. A missing redis-server fails the test: nothing
// is skipped.
package redistest

import (
	"context"
	"crypto/tls"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/redis/go-redis/v9/maintnotifications"
)

// Server is a redis-server process owned by one test.
type Server struct {
	t    testing.TB
	Port int
	dir  string
	// conf is a config file given before the options (Sentinel needs one it can rewrite).
	conf string
	// args are extra redis-server options (given by the caller of Start; cluster,
	// replication, TLS), passed after sagate's own and again on Restart.
	args []string
	// tls is the client side of a TLS-only server, nil for plain TCP.
	tls *tls.Config

	mu  sync.Mutex
	cmd *exec.Cmd
}

// Start starts a redis-server on a free loopback port, with automatic persistence off
// (Save takes a snapshot), and stops it when the test ends. args are passed on to
// redis-server after sagate's own (e.g. "--maxmemory", "8mb"), and again on Restart.
func Start(t testing.TB, args ...string) *Server {
	t.Helper()
	return startServer(t, &Server{t: t, Port: FreePort(t), dir: t.TempDir(), args: args})
}

// startServer starts s and kills it when the test ends.
func startServer(t testing.TB, s *Server) *Server {
	t.Helper()
	SkipShort(t)
	if _, err := exec.LookPath("redis-server"); err != nil {
		t.Fatalf("redis-server is required for this test and was not found on PATH (apt-get install -y redis-server): %v", err)
	}
	s.start()
	t.Cleanup(s.Kill)
	return s
}

// Addr is host:port.
func (s *Server) Addr() string { return net.JoinHostPort("127.0.0.1", strconv.Itoa(s.Port)) }

// URL is a go-redis URL for database 0.
func (s *Server) URL() string { return "redis://" + s.Addr() + "/0" }

// Client returns a new client, closed when the test ends.
func (s *Server) Client() *redis.Client {
	o := Options(s.Addr())
	o.TLSConfig = s.tls
	c := redis.NewClient(o)
	s.t.Cleanup(func() { _ = c.Close() })
	return c
}

func (s *Server) start() {
	s.t.Helper()
	var args []string
	if s.conf != "" {
		args = append(args, s.conf)
	}
	if s.tls == nil {
		args = append(args, "--port", strconv.Itoa(s.Port))
	}
	args = append(args, "--bind", "127.0.0.1",
		"--save", "", "--appendonly", "no", "--dir", s.dir,
		"--logfile", filepath.Join(s.dir, "redis.log"))
	cmd := exec.Command("redis-server", append(args, s.args...)...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		s.t.Fatalf("starting redis-server: %v", err)
	}
	s.mu.Lock()
	s.cmd = cmd
	s.mu.Unlock()
	deadline := time.Now().Add(10 * time.Second)
	for {
		o := Options(s.Addr())
		o.MaxRetries = -1
		o.TLSConfig = s.tls
		c := redis.NewClient(o)
		err := c.Ping(context.Background()).Err()
		_ = c.Close()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			s.Kill()
			s.t.Fatalf("redis-server on port %d did not answer: %v\n%s", s.Port, err, s.Log())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// Log returns what the server wrote to its log file so far.
func (s *Server) Log() string {
	b, _ := os.ReadFile(filepath.Join(s.dir, "redis.log"))
	return string(b)
}

// Kill stops the server at once (SIGKILL). Safe to call twice.
func (s *Server) Kill() {
	s.mu.Lock()
	cmd := s.cmd
	s.cmd = nil
	s.mu.Unlock()
	if cmd == nil {
		return
	}
	_ = cmd.Process.Kill()
	_ = cmd.Wait()
}

// Restart kills the server and starts a new, empty one on the same port (a snapshot
// taken by Save is discarded).
func (s *Server) Restart() {
	s.t.Helper()
	s.Kill()
	if err := os.Remove(s.dumpPath()); err != nil && !os.IsNotExist(err) {
		s.t.Fatalf("removing the redis snapshot: %v", err)
	}
	s.start()
}

// Save writes a snapshot of the data (SAVE, to dump.rdb in the server's directory), as
// Redis' own persistence does; KillAndRestartKeepingData then brings it back.
func (s *Server) Save() {
	s.t.Helper()
	c := redis.NewClient(Options(s.Addr()))
	defer c.Close()
	if err := c.Save(context.Background()).Err(); err != nil {
		s.t.Fatalf("saving a redis snapshot: %v", err)
	}
}

// KillAndRestartKeepingData kills the server (SIGKILL: whatever was written after the
// last Save is lost) and starts it again on the same port from its last snapshot, as a
// Redis with RDB persistence comes back after a crash.
func (s *Server) KillAndRestartKeepingData() {
	s.t.Helper()
	s.Kill()
	if _, err := os.Stat(s.dumpPath()); err != nil {
		s.t.Fatalf("no redis snapshot to restart from (call Save first): %v", err)
	}
	s.start()
}

func (s *Server) dumpPath() string { return filepath.Join(s.dir, "dump.rdb") }

// Running reports whether the server process is up.
func (s *Server) Running() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.cmd != nil
}

// FreePort returns a TCP port on 127.0.0.1 that was free a moment ago.
func FreePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("finding a free port: %v", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// String describes the server for test logs.
func (s *Server) String() string { return fmt.Sprintf("redis-server@%s", s.Addr()) }

// Options are client options for addr as sagate's own clients use them: maintenance
// notifications off (a Redis Enterprise feature whose "auto" mode races in go-redis
// v9.23 when an open-source server refuses the handshake, which -race reports).
func Options(addr string) *redis.Options {
	return &redis.Options{
		Addr:                     addr,
		MaintNotificationsConfig: &maintnotifications.Config{Mode: maintnotifications.ModeDisabled},
	}
}

// SkipShort skips t under go test -short: every test that starts a redis-server
// (Start, StartTLS, StartSentinel, StartCluster call it) belongs to the full suite,
// and -short runs only what needs no external server.
func SkipShort(t testing.TB) {
	t.Helper()
	if testing.Short() {
		t.Skip("starts redis-server: not run with -short")
	}
}

// Freeze stops the server process (SIGSTOP) without closing anything: its sockets stay
// open and the kernel still accepts connections, but nothing answers, as during a long
// pause of the process or its machine. Thaw resumes it.
func (s *Server) Freeze() { s.signal(syscall.SIGSTOP) }

// Thaw resumes a server stopped by Freeze (SIGCONT).
func (s *Server) Thaw() { s.signal(syscall.SIGCONT) }

// signal sends sig to the server process, if it runs.
func (s *Server) signal(sig syscall.Signal) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cmd != nil {
		_ = s.cmd.Process.Signal(sig)
	}
}
