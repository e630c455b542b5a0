package e2e

import (
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sagate/sagate/internal/testing/keytest"
	"github.com/sagate/sagate/internal/testing/systest"
)

// A client that puts its key in the query string or in an X-Api-Key header (sagate reads
// only Authorization) must not leave it in the access log: the shipped Caddyfile.example
// cuts those out, as Caddy already redacts Authorization.
func TestCaddyfileExampleKeepsKeysOutOfTheAccessLog(t *testing.T) {
	e := newEnv(t)
	e.admin.must(http.StatusCreated, "POST", "/v1/workspaces", map[string]any{"name": "ml-team"})
	k := e.admin.newAccount("ml-team", "bot", "viewer")

	bin := systest.Binaries(t)
	addr, adminAddr := systest.Addr(t), systest.Addr(t)
	_, port, _ := net.SplitHostPort(addr)
	root, err := filepath.Abs("..")
	if err != nil {
		t.Fatal(err)
	}
	p := systest.StartProc(t, "caddy", filepath.Join(bin, "caddy"), []string{
		"CADDY_ADMIN=" + adminAddr, "SAGATE_LISTEN=:" + port, "SAGATE_REDIS_URL=" + e.redis.URL(),
		"SAGATE_SIGNING_KEY=" + keytest.SigningKey(t).Public().String(),
		"SAGATE_UPSTREAM=" + strings.TrimPrefix(e.up.srv.URL, "http://"), "HOME=" + t.TempDir(), "PATH=" + os.Getenv("PATH"),
	}, "run", "--config", filepath.Join(root, "Caddyfile.example"), "--adapter", "caddyfile")
	base := "http://" + addr
	systest.WaitHTTP(t, base+"/healthz", http.StatusOK, 60*time.Second)

	send := func(path string, hdr ...string) int {
		req, _ := http.NewRequest("GET", base+path, nil)
		for i := 0; i+1 < len(hdr); i += 2 {
			req.Header.Set(hdr[i], hdr[i+1])
		}
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatalf("GET %s: %v", path, err)
		}
		res.Body.Close()
		return res.StatusCode
	}
	if c := send("/ok?api_key="+k.Key+"&page=2", "Authorization", "Bearer "+k.Key, "X-Project", "forecasting"); c != http.StatusOK {
		t.Fatalf("a live key through Caddyfile.example: %d", c)
	}
	if c := send("/query?key="+k.Key+"&token="+k.Key+"&access_token="+k.Key, "X-Api-Key", k.Key, "X-Auth-Token", k.Key, "Api-Key", k.Key); c != http.StatusUnauthorized {
		t.Fatalf("a key outside Authorization: %d, want 401", c)
	}
	systest.Eventually(t, 10*time.Second, "both requests in the access log", func() bool {
		out := p.Output()
		return strings.Contains(out, `"uri":"/ok`) && strings.Contains(out, `"uri":"/query`)
	})
	out := p.Output()
	if strings.Contains(out, k.Key) || strings.Contains(out, strings.TrimPrefix(k.Key, "sak_")) {
		t.Fatal("the access log holds the key")
	}
	if !strings.Contains(out, `"uri":"/ok?page=2"`) || !strings.Contains(out, `"uri":"/query"`) {
		t.Fatal("the access log lacks the URIs without the key")
	}
	if !strings.Contains(out, `"Authorization":["REDACTED"]`) {
		t.Fatal("the access log lacks the redacted Authorization header")
	}
}
