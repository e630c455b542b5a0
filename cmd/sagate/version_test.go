package main

import (
	"encoding/json"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

func TestVersionCommand(t *testing.T) {
	r := runWith(t, nil, "version")
	if want := "sagate " + buildVersion() + " (" + runtime.Version() + " " + runtime.GOOS + "/" + runtime.GOARCH + ")\n"; r.code != 0 || r.stdout != want {
		t.Errorf("version: exit %d %q, want %q", r.code, r.stdout, want)
	}
	r = runWith(t, nil, "version", "-o", "json")
	var v struct{ Version, Go, Platform string }
	if err := json.Unmarshal([]byte(r.stdout), &v); err != nil || v.Version != buildVersion() || v.Go != runtime.Version() {
		t.Errorf("version -o json: %q (%v)", r.stdout, err)
	}
}

// TestVersionFromLdflags builds sagate with its version set through -ldflags, as make
// release does, and runs it. (Release's -trimpath and CGO_ENABLED=0 are left out: they
// would rebuild every package instead of reusing the test's build cache.)
func TestVersionFromLdflags(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a binary: not in -short")
	}
	bin := filepath.Join(t.TempDir(), "sagate")
	build := exec.Command("go", "build", "-ldflags", "-X main.version=v9.8.7-rc.1", "-o", bin, ".")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	for _, args := range [][]string{{"version"}, {"--version"}} {
		out, err := exec.Command(bin, args...).Output()
		if err != nil || !strings.Contains(string(out), "v9.8.7-rc.1") {
			t.Errorf("sagate %v: %q %v", args, out, err)
		}
	}
}
