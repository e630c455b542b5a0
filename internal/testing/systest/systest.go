// Package systest runs sagate's real binaries for system tests: it builds `sagate` and
// the Caddy with the sagate module once per test binary, and starts admins, sidecars and
// sample upstreams as processes on free ports, which tests may stop, kill and restart.
package systest

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/sagate/sagate/internal/testing/redistest"
)

var (
	buildOnce sync.Once
	binDir    string
	buildErr  error
)

// Binaries builds ./cmd/sagate and ./cmd/caddy (once per test process) and returns the
// directory that holds them. A build failure fails the test.
func Binaries(t testing.TB) string {
	t.Helper()
	if testing.Short() {
		t.Skip("builds and runs the binaries: not run with -short")
	}
	buildOnce.Do(func() {
		root, err := moduleRoot()
		if err != nil {
			buildErr = err
			return
		}
		binDir, err = os.MkdirTemp("", "sagate-systest-bin-")
		if err != nil {
			buildErr = err
			return
		}
		for _, p := range []string{"sagate", "caddy"} {
			cmd := exec.Command("go", "build", "-o", filepath.Join(binDir, p), "./cmd/"+p)
			cmd.Dir = root
			if out, err := cmd.CombinedOutput(); err != nil {
				buildErr = fmt.Errorf("building %s: %v\n%s", p, err, out)
				return
			}
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return binDir
}

func moduleRoot() (string, error) {
	_, file, _, ok := runtime.Caller(0)
	if !ok {
		return "", fmt.Errorf("finding the module root")
	}
	return filepath.Abs(filepath.Join(filepath.Dir(file), "..", "..", ".."))
}

// Proc is a process started by a test. Its output is kept for failure messages.
type Proc struct {
	t    testing.TB
	name string
	args []string
	env  []string
	dir  string

	mu  sync.Mutex
	cmd *exec.Cmd
	out *bytes.Buffer
}

// StartProc starts bin with args and extra environment, stopped when the test ends.
func StartProc(t testing.TB, name, bin string, env []string, args ...string) *Proc {
	t.Helper()
	p := &Proc{t: t, name: name, args: append([]string{bin}, args...), env: env, dir: t.TempDir()}
	p.Start()
	t.Cleanup(func() {
		p.Stop()
		if t.Failed() {
			t.Logf("--- output of %s:\n%s", p.name, p.Output())
		}
	})
	return p
}

// Start (re)starts the process with the same arguments.
func (p *Proc) Start() {
	p.t.Helper()
	cmd := exec.Command(p.args[0], p.args[1:]...)
	cmd.Env = append(os.Environ(), p.env...)
	cmd.Dir = p.dir
	buf := &bytes.Buffer{}
	cmd.Stdout, cmd.Stderr = syncWriter{&p.mu, buf}, syncWriter{&p.mu, buf}
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		p.t.Fatalf("starting %s: %v", p.name, err)
	}
	p.mu.Lock()
	p.cmd, p.out = cmd, buf
	p.mu.Unlock()
}

type syncWriter struct {
	mu *sync.Mutex
	b  *bytes.Buffer
}

func (w syncWriter) Write(b []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.b.Write(b)
}

// Output returns what the process printed so far.
func (p *Proc) Output() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.out == nil {
		return ""
	}
	return p.out.String()
}

func (p *Proc) signal(sig syscall.Signal, wait time.Duration) {
	p.mu.Lock()
	cmd := p.cmd
	p.cmd = nil
	p.mu.Unlock()
	if cmd == nil {
		return
	}
	_ = cmd.Process.Signal(sig)
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(wait):
		_ = cmd.Process.Kill()
		<-done
	}
}

// Stop asks the process to stop (SIGTERM) and kills it after 10 s.
func (p *Proc) Stop() { p.signal(syscall.SIGTERM, 10*time.Second) }

// Kill stops the process at once (SIGKILL).
func (p *Proc) Kill() { p.signal(syscall.SIGKILL, 10*time.Second) }

// WaitHTTP polls url until it answers with status want, or fails the test after timeout.
func WaitHTTP(t testing.TB, url string, want int, timeout time.Duration) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	var last string
	for time.Now().Before(deadline) {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		resp, err := http.DefaultClient.Do(req)
		cancel()
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == want {
				return
			}
			last = resp.Status
		} else {
			last = err.Error()
		}
		time.Sleep(25 * time.Millisecond)
	}
	t.Fatalf("waiting for %s to answer %d: last %s", url, want, last)
}

// Eventually polls cond every 10 ms until it is true or fails the test after timeout.
func Eventually(t testing.TB, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for: %s", timeout, what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// Addr returns 127.0.0.1:port for a fresh free port.
func Addr(t testing.TB) string {
	return net.JoinHostPort("127.0.0.1", strconv.Itoa(redistest.FreePort(t)))
}
