package e2e

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sagate/sagate/internal/testing/keytest"
	"github.com/sagate/sagate/internal/testing/redistest"
	"github.com/sagate/sagate/internal/testing/systest"
)

// TestRedisTLS runs the admin and a sidecar against a Redis that speaks TLS only and
// requires client certificates, with a private CA given by the rediss:// URL's tls_*
// parameters: keys issued and revoked through the admin are answered right by the
// sidecar.
func TestRedisTLS(t *testing.T) {
	p := redistest.NewPKI(t)
	r := redistest.StartTLS(t, p)
	a := startAdmin(t, r.TLSURL(p), filepath.Join(t.TempDir(), "sagate.db"))
	s := startSidecar(t, r.TLSURL(p), startUpstream(t).srv.URL, "")

	a.must(http.StatusCreated, "POST", "/v1/workspaces", map[string]any{"name": "tls"})
	k := a.newAccount("tls", "one", "")
	systest.Eventually(t, propagation, "key issued over TLS allowed", func() bool {
		return s.status(t, k.Key) == http.StatusOK
	})
	a.must(http.StatusNoContent, "DELETE", "/v1/workspaces/tls/service-accounts/one/keys/"+k.ID, nil)
	systest.Eventually(t, propagation, "key revoked over TLS refused", func() bool {
		return s.status(t, k.Key) == http.StatusUnauthorized
	})
	if got := s.status(t, unknownKey(t)); got != http.StatusUnauthorized {
		t.Fatalf("unknown key over TLS = %d, want 401", got)
	}
}

// TestRedisTLSMistakesStopStartUp: a Redis certificate signed by another CA, or no
// client certificate for a Redis that requires one, make `sagate serve` and Caddy
// with the sagate sidecar refuse to start with an error that says TLS verification
// failed, instead of starting and answering 503 to every request.
func TestRedisTLSMistakesStopStartUp(t *testing.T) {
	p, other := redistest.NewPKI(t), redistest.NewPKI(t)
	r := redistest.StartTLS(t, p)
	bin := systest.Binaries(t)
	for name, url := range map[string]string{
		"server certificate from another CA": "rediss://" + r.Addr() + "/0?" + other.URLQuery(),
		"no client certificate":              "rediss://" + r.Addr() + "/0?tls_ca_file=" + p.CA,
	} {
		t.Run(name, func(t *testing.T) {
			out, err := runToExit(t, filepath.Join(bin, "sagate"), []string{"SAGATE_ADMIN_TOKEN=" + adminToken},
				"serve", "--listen", systest.Addr(t), "--store", "sqlite://"+filepath.Join(t.TempDir(), "sagate.db"), "--redis", url)
			if err == nil || !strings.Contains(out, "TLS verification failed") {
				t.Errorf("sagate serve: exit %v, want a failure saying TLS verification failed; output:\n%s", err, out)
			}
			cfg := fmt.Sprintf("{\n\tadmin %s\n\tauto_https off\n\tpersist_config off\n}\nhttp://%s {\n\tsagate {\n\t\tredis %s\n\t\tsigning_keys %s\n\t\tworkspace *\n\t}\n\trespond ok\n}\n",
				systest.Addr(t), systest.Addr(t), url, keytest.SigningKey(t).Public())
			file := filepath.Join(t.TempDir(), "Caddyfile")
			if err := os.WriteFile(file, []byte(cfg), 0o600); err != nil {
				t.Fatal(err)
			}
			out, err = runToExit(t, filepath.Join(bin, "caddy"), nil, "run", "--config", file, "--adapter", "caddyfile")
			if err == nil || !strings.Contains(out, "TLS verification failed") {
				t.Errorf("caddy run: exit %v, want a failure saying TLS verification failed; output:\n%s", err, out)
			}
		})
	}
}

// runToExit runs bin until it exits (killed after 30 s) and returns its output.
func runToExit(t *testing.T, bin string, env []string, args ...string) (string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Env = append(os.Environ(), env...)
	cmd.Dir = t.TempDir()
	out, err := cmd.CombinedOutput()
	if ctx.Err() != nil {
		return string(out), fmt.Errorf("still running after 30 s")
	}
	return string(out), err
}
