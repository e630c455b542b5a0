package caddymodule

import (
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
)

// caddyRatelimit is the version of github.com/mholt/caddy-ratelimit that
// TestXcaddyGlobalRateLimit builds with.
const caddyRatelimit = "github.com/mholt/caddy-ratelimit@v0.1.0"

// TestXcaddyGlobalRateLimit builds Caddy with sagate and caddy-ratelimit and runs the
// Caddyfile of operations.md ("A global limit") as written, on two sidecars sharing
// one storage: after the first sidecar has let an account through up to the zone's
// events, the second refuses it long before its own share, because the counts are
// shared. It compiles all of Caddy, so it runs only with SAGATE_XCADDY_TEST=1
// (SAGATE_XCADDY_RATELIMIT_CADDY names a binary built so already, to skip the build).
func TestXcaddyGlobalRateLimit(t *testing.T) {
	if os.Getenv("SAGATE_XCADDY_TEST") != "1" {
		t.Skip("set SAGATE_XCADDY_TEST=1 to build Caddy with xcaddy (takes minutes)")
	}
	bin := os.Getenv("SAGATE_XCADDY_RATELIMIT_CADDY") // one built already, with both modules
	if bin == "" {
		bin, _ = xcaddyBuild(t, caddyRatelimit)
	}
	st := newStore(t)
	up := newUpstream(t)
	a := st.newAccount("ci-bot", "ml-team", nil)
	shared := t.TempDir()
	const events = 600 // the zone's events in the Caddyfile
	if cf := markedCaddyfile(t, "../docs/operations.md", "global-rate-limit"); !strings.Contains(cf, fmt.Sprintf("events %d", events)) {
		t.Fatalf("the Caddyfile's zone no longer allows %d events:\n%s", events, cf)
	}

	start := func(name string) sidecar {
		t.Helper()
		sc := sidecar{url: fmt.Sprintf("http://127.0.0.1:%d", redistest.FreePort(t))}
		cf := markedCaddyfile(t, "../docs/operations.md", "global-rate-limit")
		cf = strings.Replace(cf, "{\n\tstorage", "{\n\tadmin off\n\tauto_https off\n\tstorage", 1)
		cf = strings.Replace(cf, "/shared/caddy", shared, 1)
		cf = strings.Replace(cf, ":8080 {", sc.url+" {", 1)
		cf = strings.Replace(cf, "redis://127.0.0.1:6379/0", st.sidecarURL(), 1)
		cf = strings.Replace(cf, "127.0.0.1:9000", strings.TrimPrefix(up.URL, "http://"), 1)
		dir := t.TempDir() // each instance its own data directory, so its own instance id
		path := filepath.Join(dir, "Caddyfile")
		if err := os.WriteFile(path, []byte(cf), 0o600); err != nil {
			t.Fatal(err)
		}
		cmd := exec.Command(bin, "run", "--config", path, "--adapter", "caddyfile")
		cmd.Env = append(os.Environ(), "HOME="+dir, "XDG_DATA_HOME="+filepath.Join(dir, "data"),
			"XDG_CONFIG_HOME="+filepath.Join(dir, "config"), "SAGATE_SIGNING_KEY="+keytest.SigningKey(t).Public().String())
		log, err := os.Create(filepath.Join(dir, name+".log"))
		if err != nil {
			t.Fatal(err)
		}
		cmd.Stdout, cmd.Stderr = log, log
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			_ = cmd.Process.Kill()
			_ = cmd.Wait()
			if t.Failed() {
				b, _ := os.ReadFile(log.Name())
				t.Logf("%s's log:\n%s", name, b)
			}
		})
		waitUntil(t, name+" listening", func() bool {
			res, err := http.Get(sc.url)
			if err == nil {
				res.Body.Close()
			}
			return err == nil
		})
		sc.waitStatus(t, name+" lets the key through", a.key, http.StatusOK)
		return sc
	}
	first, second := start("first"), start("second")

	passed := 0
	for ; passed <= events; passed++ {
		got := sc(t, first, a.key)
		if got.status == http.StatusTooManyRequests {
			if got.header.Get("Retry-After") == "" {
				t.Error("caddy-ratelimit's 429 has no Retry-After")
			}
			break
		}
		if got.status != http.StatusOK {
			t.Fatalf("the first sidecar: %d %s", got.status, got.body)
		}
	}
	if passed > events {
		t.Fatalf("the first sidecar let %d requests through, more than the zone's %d", passed, events)
	}
	// The second sidecar learns the first one's count within its read_interval: it
	// refuses the account after a few of its own requests, not after its own share.
	passed2 := 0
	for ; ; passed2++ {
		got := sc(t, second, a.key)
		if got.status == http.StatusTooManyRequests {
			break
		}
		if got.status != http.StatusOK {
			t.Fatalf("the second sidecar: %d %s", got.status, got.body)
		}
		if passed2 >= events/2 {
			t.Fatalf("the second sidecar let %d more requests through after the first reached the limit: the count is not shared", passed2)
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Logf("the first sidecar passed %d requests, then the second %d more", passed, passed2)
}

// sc sends one request with key to sidecar s.
func sc(t *testing.T, s sidecar, key string) answer { return s.do(t, "/", "Bearer "+key) }
