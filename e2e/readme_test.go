package e2e

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/sagate/sagate/internal/testing/redistest"
	"github.com/sagate/sagate/internal/testing/systest"
	"github.com/sagate/sagate/keystore/wire"
)

// quickStartPorts are the fixed ports the README's quick start uses: the sidecar, the
// admin, the sample API and Redis. The test rewrites each, in the forms ":PORT" and
// "--port PORT", to a free port, so that it never touches a Redis or a server already
// running on them. That is the only change made to the README's lines, besides
// dropping its `go build` lines (bin/ holds the test's binaries instead).
var quickStartPorts = []string{"8080", "8081", "9000", "6379"}

// quickStartLines must appear in the quick start's shell blocks: what a user needs on a
// fresh machine, in the order a user runs it.
var quickStartLines = []string{
	"go build -o bin/sagate ./cmd/sagate",
	"go build -o bin/caddy ./cmd/caddy",
	"go build -o bin/upstream ./examples/upstream",
	`export PATH="$PWD/bin:$PATH"`,
	"redis-server ",
	"upstream -listen 127.0.0.1:9000 &",
	"export SAGATE_ADMIN_TOKEN=",
	"export SAGATE_ADMIN_URL=http://127.0.0.1:8081",
	"sagate serve ",
	"export SAGATE_SIGNING_KEY=",
	"caddy run --config Caddyfile &",
	"sagate workspace create ml-team",
	"sagate sa create ci-bot",
	"curl -i -H \"Authorization: Bearer $KEY\"",
}

// TestReadmeQuickStart runs the README's quick start as a user pastes it: its shell
// blocks (between <!-- quickstart:begin --> and <!-- quickstart:end -->) in one bash,
// in an empty directory with its own HOME, its caddyfile block saved as ./Caddyfile.
// Real redis-server, admin, sample API and Caddy start from those lines; the last curl
// must get 200 with the identity of the key the README's lines created.
func TestReadmeQuickStart(t *testing.T) {
	bin := systest.Binaries(t)
	readme, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	_, section, ok := strings.Cut(string(readme), "<!-- quickstart:begin -->")
	section, _, ok2 := strings.Cut(section, "<!-- quickstart:end -->")
	if !ok || !ok2 {
		t.Fatal("README.md has no <!-- quickstart:begin --> ... <!-- quickstart:end --> section")
	}
	shell, caddyfiles := fencedBlocks(section, "sh"), fencedBlocks(section, "caddyfile")
	if len(shell) == 0 || len(caddyfiles) != 1 {
		t.Fatalf("the quick start has %d sh blocks and %d caddyfile blocks, want some and one", len(shell), len(caddyfiles))
	}
	script, caddyfile := strings.Join(shell, ""), caddyfiles[0]
	for _, want := range quickStartLines {
		if !strings.Contains(script, want) {
			t.Errorf("the quick start's shell lines lack %q", want)
		}
	}
	for _, want := range []string{"signing_keys {$SAGATE_SIGNING_KEY}", "workspace ml-team", "reverse_proxy 127.0.0.1:9000"} {
		if !strings.Contains(caddyfile, want) {
			t.Errorf("the quick start's Caddyfile lacks %q", want)
		}
	}
	if t.Failed() {
		t.FailNow()
	}

	var kept []string
	for _, line := range strings.SplitAfter(script, "\n") {
		if !strings.HasPrefix(line, "go build ") {
			kept = append(kept, line)
		}
	}
	script = strings.Join(kept, "")
	ports := map[string]string{}
	for _, p := range quickStartPorts {
		ports[p] = strconv.Itoa(redistest.FreePort(t))
		for _, text := range []*string{&script, &caddyfile} {
			*text = strings.ReplaceAll(*text, ":"+p, ":"+ports[p])
			*text = strings.ReplaceAll(*text, "--port "+p, "--port "+ports[p])
		}
	}
	if left := regexp.MustCompile(`\b(8080|8081|9000|6379)\b`).FindString(script + caddyfile); left != "" {
		t.Fatalf("port %s is left in the quick start after substitution:\n%s\n%s", left, script, caddyfile)
	}

	dir := t.TempDir()
	if err := os.Mkdir(filepath.Join(dir, "bin"), 0o755); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{"sagate", "caddy"} {
		if err := os.Symlink(filepath.Join(bin, p), filepath.Join(dir, "bin", p)); err != nil {
			t.Fatal(err)
		}
	}
	build := exec.Command("go", "build", "-o", filepath.Join(dir, "bin", "upstream"), "./examples/upstream")
	build.Dir = ".."
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("building the sample API: %v\n%s", err, out)
	}
	if err := os.WriteFile(filepath.Join(dir, "Caddyfile"), []byte(caddyfile), 0o600); err != nil {
		t.Fatal(err)
	}

	out := runQuickStart(t, dir, script)
	for _, want := range []string{"HTTP/1.1 200 OK", `"X-Service-Account": "ci-bot@ml-team"`, `"X-Workspace": "ml-team"`,
		`"X-Project": "forecasting"`, `"X-Project-Role": "contributor"`} {
		if !strings.Contains(out, want) {
			t.Errorf("the quick start's output lacks %q:\n%s", want, out)
		}
	}
	// The admin synced into the quick start's own Redis, not into one on 6379.
	rdb := redis.NewClient(&redis.Options{Addr: "127.0.0.1:" + ports["6379"]})
	defer rdb.Close()
	if n, err := rdb.Exists(context.Background(), wire.RedisEpoch).Result(); err != nil || n != 1 {
		t.Errorf("the quick start's Redis has no epoch marker (%d, %v)", n, err)
	}
}

// fencedBlocks returns the bodies of the ```lang blocks in md, their indentation removed.
func fencedBlocks(md, lang string) []string {
	var blocks []string
	var cur *strings.Builder
	indent := ""
	for _, line := range strings.SplitAfter(md, "\n") {
		trimmed := strings.TrimSpace(line)
		switch {
		case cur == nil && trimmed == "```"+lang:
			cur, indent = new(strings.Builder), line[:strings.Index(line, "```")]
		case cur != nil && trimmed == "```":
			blocks = append(blocks, cur.String())
			cur = nil
		case cur != nil:
			cur.WriteString(strings.TrimPrefix(line, indent))
		}
	}
	return blocks
}

// runQuickStart runs script with bash -e in dir, in a process group of its own with a
// private HOME and Caddy admin address, and returns what it printed. The background
// processes it starts (Redis, the sample API, the admin, Caddy) are stopped when the
// test ends.
func runQuickStart(t *testing.T, dir, script string) string {
	t.Helper()
	home := filepath.Join(dir, "home")
	logFile, err := os.Create(filepath.Join(dir, "quickstart.out"))
	if err != nil {
		t.Fatal(err)
	}
	defer logFile.Close()
	cmd := exec.Command("bash", "-e", "-o", "pipefail", "-c", script)
	cmd.Dir = dir
	cmd.Env = []string{
		"PATH=" + os.Getenv("PATH"), "HOME=" + home, "LANG=C.UTF-8",
		"XDG_CONFIG_HOME=" + filepath.Join(home, ".config"), "XDG_DATA_HOME=" + filepath.Join(home, ".local", "share"),
		"CADDY_ADMIN=" + systest.Addr(t), // Caddy's own variable: its admin endpoint, not localhost:2019
	}
	cmd.Stdout, cmd.Stderr = logFile, logFile // a file: the background processes keep it open
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	pgid := cmd.Process.Pid
	t.Cleanup(func() { stopGroup(t, pgid) })
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	var runErr error
	select {
	case runErr = <-done:
	case <-time.After(3 * time.Minute):
		stopGroup(t, pgid)
		runErr = errors.Join(errors.New("the quick start did not finish in 3 minutes"), <-done)
	}
	text, err := os.ReadFile(logFile.Name())
	if err != nil {
		t.Fatal(err)
	}
	if runErr != nil {
		t.Fatalf("the quick start failed: %v\n%s", runErr, text)
	}
	return string(text)
}

// stopGroup stops every process of group pgid: SIGTERM, then SIGKILL after 10 s.
func stopGroup(t *testing.T, pgid int) {
	_ = syscall.Kill(-pgid, syscall.SIGTERM)
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		if errors.Is(syscall.Kill(-pgid, 0), syscall.ESRCH) {
			return
		}
	}
	t.Logf("processes of the quick start outlived SIGTERM; killing them")
	_ = syscall.Kill(-pgid, syscall.SIGKILL)
}
