package main

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"time"

	"github.com/sagate/sagate/keystore/wire"
)

// proc is a process the soak started. It is killed if the soak dies (Pdeathsig).
type proc struct {
	name string
	cmd  *exec.Cmd
	log  string
	done chan struct{} // closed when the process has exited
}

// startProc starts bin with args, its output in dir/name.log.
func startProc(dir, name, bin string, env []string, args ...string) (*proc, error) {
	logPath := filepath.Join(dir, name+".log")
	out, err := os.Create(logPath)
	if err != nil {
		return nil, fmt.Errorf("starting %s: %w", name, err)
	}
	cmd := exec.Command(bin, args...)
	cmd.Env = append(os.Environ(), env...)
	cmd.Dir = dir
	cmd.Stdout, cmd.Stderr = out, out
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		out.Close()
		return nil, fmt.Errorf("starting %s: %w", name, err)
	}
	p := &proc{name: name, cmd: cmd, log: logPath, done: make(chan struct{})}
	go func() { _ = cmd.Wait(); out.Close(); close(p.done) }()
	return p, nil
}

// stop sends SIGTERM and SIGKILL after 10 s, and waits for the process to be gone.
func (p *proc) stop() {
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(10 * time.Second):
		_ = p.cmd.Process.Kill()
		<-p.done
	}
}

// freeAddr returns 127.0.0.1:port for a port that was free a moment ago.
func freeAddr() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", fmt.Errorf("finding a free port: %w", err)
	}
	defer l.Close()
	return l.Addr().String(), nil
}

// waitStatus polls url until it answers want, or fails after timeout.
func waitStatus(ctx context.Context, url string, want int, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	last := "no answer"
	for time.Now().Before(deadline) && ctx.Err() == nil {
		rctx, cancel := context.WithTimeout(ctx, time.Second)
		req, _ := http.NewRequestWithContext(rctx, http.MethodGet, url, nil)
		resp, err := http.DefaultClient.Do(req)
		cancel()
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == want {
				return nil
			}
			last = resp.Status
		} else {
			last = err.Error()
		}
		time.Sleep(50 * time.Millisecond)
	}
	return fmt.Errorf("waiting for %s to answer %d: last %s", url, want, last)
}

// waitTCP polls addr until it accepts a connection.
func waitTCP(addr string, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			c.Close()
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("waiting for %s: %w", addr, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// caddyfile is the sidecar's configuration: sagate with a project and min_role in
// front of the soak's upstream, trusting the admin's public signing key pub, its admin
// endpoint on adminAddr (for pprof).
func caddyfile(adminAddr, addr, redisURL, pub, upstream string) string {
	return fmt.Sprintf(`{
	admin %s
	auto_https off
	persist_config off
}
http://%s {
	sagate {
		redis %s
		signing_keys %s
		workspace %s
		project {http.request.header.X-Project}
		min_role %s
	}
	reverse_proxy %s
}
`, adminAddr, addr, redisURL, pub, workspace, minRole, upstream)
}

// writeSigningKey writes a new admin signing key to path (mode 0600) and returns its
// public key, for the sidecar.
func writeSigningKey(path string) (string, error) {
	k, err := wire.GenerateSigningKey()
	if err != nil {
		return "", err
	}
	text, err := k.MarshalText()
	if err != nil {
		return "", err
	}
	if err := os.WriteFile(path, text, 0o600); err != nil {
		return "", fmt.Errorf("writing the signing key: %w", err)
	}
	return k.Public().String(), nil
}
