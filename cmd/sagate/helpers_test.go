package main

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"sync"
	"testing"

	"github.com/sagate/sagate/admin/admintest"
)

// syncBuffer is a bytes.Buffer safe for a writer goroutine and a reading test.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// result is what one CLI run produced.
type result struct {
	code           int
	stdout, stderr string
}

// envOf returns a getenv over vars.
func envOf(vars map[string]string) func(string) string {
	return func(k string) string { return vars[k] }
}

// sagate runs the CLI in-process against e with workspace ws (may be "").
func sagate(t *testing.T, e *admintest.Env, ws string, args ...string) result {
	t.Helper()
	vars := map[string]string{envWorkspace: ws}
	if e != nil {
		vars[envAdminURL] = e.URL
		vars[envAdminToken] = e.Token
	}
	return runWith(t, vars, args...)
}

func runWith(t *testing.T, vars map[string]string, args ...string) result {
	t.Helper()
	var out, errb syncBuffer
	code := run(context.Background(), args, envOf(vars), &out, &errb)
	return result{code: code, stdout: out.String(), stderr: errb.String()}
}

// ok runs the CLI and fails unless it exits 0.
func ok(t *testing.T, e *admintest.Env, ws string, args ...string) result {
	t.Helper()
	r := sagate(t, e, ws, args...)
	if r.code != 0 {
		t.Fatalf("sagate %s: exit %d\nstdout: %s\nstderr: %s", strings.Join(args, " "), r.code, r.stdout, r.stderr)
	}
	return r
}

// okJSON runs the CLI with -o json and decodes its output into a T.
func okJSON[T any](t *testing.T, e *admintest.Env, ws string, args ...string) T {
	t.Helper()
	r := ok(t, e, ws, append(args, "-o", "json")...)
	var v T
	if err := json.Unmarshal([]byte(r.stdout), &v); err != nil {
		t.Fatalf("sagate %s -o json: %v\n%s", strings.Join(args, " "), err, r.stdout)
	}
	return v
}

// failing runs the CLI and fails unless it exits 1 (exitError) with stderr containing want.
func failing(t *testing.T, e *admintest.Env, ws, want string, args ...string) result {
	t.Helper()
	return failingWith(t, e, exitError, ws, want, args...)
}

// failingWith runs the CLI and fails unless it exits code with stderr containing want.
func failingWith(t *testing.T, e *admintest.Env, code int, ws, want string, args ...string) result {
	t.Helper()
	r := sagate(t, e, ws, args...)
	if r.code != code || !strings.Contains(r.stderr, want) {
		t.Fatalf("sagate %s: exit %d, stderr %q; want exit %d and %q", strings.Join(args, " "), r.code, r.stderr, code, want)
	}
	return r
}
