package caddymodule

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestXcaddyBuild builds a Caddy with this checkout's module the way xcaddy.md
// tells users to, and checks the binary has sagate. It compiles all of Caddy,
// so it runs only with SAGATE_XCADDY_TEST=1; then a missing xcaddy fails it.
func TestXcaddyBuild(t *testing.T) {
	if os.Getenv("SAGATE_XCADDY_TEST") != "1" {
		t.Skip("set SAGATE_XCADDY_TEST=1 to build Caddy with xcaddy (takes minutes)")
	}
	out, root := xcaddyBuild(t)
	b, err := exec.Command(out, "list-modules").CombinedOutput()
	if err != nil || !strings.Contains(string(b), "http.handlers.sagate") {
		t.Fatalf("the built caddy does not list http.handlers.sagate (err %v):\n%s", err, b)
	}
	b, err = exec.Command(out, "adapt", "--config", filepath.Join(root, "Caddyfile.example"), "--adapter", "caddyfile").CombinedOutput()
	if err != nil || !strings.Contains(string(b), `"handler":"sagate"`) {
		t.Fatalf("the built caddy does not adapt Caddyfile.example (err %v):\n%s", err, b)
	}
}

// xcaddyBuild builds Caddy v2.11.9 with this checkout's module and the modules of
// with ("module@version"), as xcaddy.md says, and returns the binary and the
// checkout's root.
func xcaddyBuild(t *testing.T, with ...string) (bin, root string) {
	t.Helper()
	xcaddy := findXcaddy(t)
	root, err := filepath.Abs("..")
	if err != nil {
		t.Fatal(err)
	}
	bin = filepath.Join(t.TempDir(), "caddy")
	args := []string{"build", "v2.11.9", "--output", bin,
		"--with", "github.com/sagate/sagate/caddymodule", "--replace", "github.com/sagate/sagate=" + root}
	for _, m := range with {
		args = append(args, "--with", m)
	}
	cmd := exec.Command(xcaddy, args...)
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "GOPROXY="+localReplaceGOPROXY(t))
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("xcaddy build: %v\n%s", err, b)
	}
	return bin, root
}

// findXcaddy looks on PATH, then in $(go env GOPATH)/bin, where go install puts it.
func findXcaddy(t *testing.T) string {
	t.Helper()
	if p, err := exec.LookPath("xcaddy"); err == nil {
		return p
	}
	gopath, err := exec.Command("go", "env", "GOPATH").Output()
	if err == nil {
		p := filepath.Join(strings.TrimSpace(string(gopath)), "bin", "xcaddy")
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	t.Fatal("SAGATE_XCADDY_TEST=1 but xcaddy was not found: go install github.com/caddyserver/xcaddy/cmd/xcaddy@latest")
	return ""
}

// localReplaceGOPROXY is the configured GOPROXY with ",direct" replaced by "|off"
// (see xcaddy.md).
func localReplaceGOPROXY(t *testing.T) string {
	t.Helper()
	b, err := exec.Command("go", "env", "GOPROXY").Output()
	if err != nil {
		t.Fatalf("go env GOPROXY: %v", err)
	}
	p := strings.TrimSpace(string(b))
	p = strings.TrimSuffix(p, ",direct")
	p = strings.TrimSuffix(p, "|direct")
	if p == "" || p == "direct" || p == "off" {
		return "off"
	}
	return p + "|off"
}
