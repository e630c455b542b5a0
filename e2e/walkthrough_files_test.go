package e2e

import (
	"bufio"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/sagate/sagate/internal/testing/systest"
)

// walkthroughDir holds the files docs/walkthrough.md installs.
const walkthroughDir = "../examples/walkthrough"

// readEnvFile reads the KEY=VALUE lines of a systemd EnvironmentFile.
func readEnvFile(t *testing.T, name string) []string {
	t.Helper()
	f, err := os.Open(filepath.Join(walkthroughDir, "env", name))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var env []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		k, v, ok := strings.Cut(line, "=")
		if !ok {
			t.Fatalf("%s: %q is not KEY=VALUE", name, line)
		}
		// systemd, like a shell, takes the quotes off a quoted value.
		env = append(env, k+"="+strings.TrimSuffix(strings.TrimPrefix(v, `"`), `"`))
	}
	return env
}

// TestWalkthroughUnitsVerify checks the systemd units with systemd-analyze verify: no
// unknown key, no bad value (the binaries' paths are pointed at /bin/true, which exists).
func TestWalkthroughUnitsVerify(t *testing.T) {
	analyze, err := exec.LookPath("systemd-analyze")
	if err != nil {
		t.Skip("systemd-analyze is not installed here: the systemd units are not checked")
	}
	units, _ := filepath.Glob(filepath.Join(walkthroughDir, "systemd", "*.service"))
	if len(units) < 2 {
		t.Fatalf("units: %v", units)
	}
	bin := regexp.MustCompile(`/usr/local/bin/[a-z]+`)
	for _, u := range units {
		b, err := os.ReadFile(u)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(string(b), "ProtectSystem=strict") || !strings.Contains(string(b), "NoNewPrivileges=yes") {
			t.Errorf("%s: not sandboxed", u)
		}
		f := filepath.Join(t.TempDir(), filepath.Base(u))
		if err := os.WriteFile(f, bin.ReplaceAll(b, []byte("/bin/true")), 0o644); err != nil {
			t.Fatal(err)
		}
		out, err := exec.Command(analyze, "verify", f).CombinedOutput()
		if err != nil || len(strings.TrimSpace(string(out))) > 0 {
			t.Errorf("systemd-analyze verify %s: %v\n%s", filepath.Base(u), err, out)
		}
	}
}

// TestWalkthroughCaddyfilesAdapt: each host's Caddyfile, with its environment file,
// is accepted by the Caddy with sagate built in, and the API hosts' holds the sagate
// handler with the environment's Redis URL.
func TestWalkthroughCaddyfilesAdapt(t *testing.T) {
	caddy := filepath.Join(systest.Binaries(t), "caddy")
	env := readEnvFile(t, "caddy-sagate.env")
	for _, tt := range []struct{ file, want string }{
		{"api.Caddyfile", `"handler":"sagate"`},
		{"proxy.Caddyfile", `"uri":"/oauth2/auth"`},
	} {
		cmd := exec.Command(caddy, "adapt", "--config", filepath.Join(walkthroughDir, "caddy", tt.file), "--adapter", "caddyfile")
		cmd.Env = append(os.Environ(), env...)
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Errorf("caddy adapt %s: %v\n%s", tt.file, err, out)
			continue
		}
		if !strings.Contains(string(out), tt.want) {
			t.Errorf("%s adapted lacks %s:\n%s", tt.file, tt.want, out)
		}
	}
}
