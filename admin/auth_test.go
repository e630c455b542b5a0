package admin_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.uber.org/zap"

	"github.com/sagate/sagate/admin"
	"github.com/sagate/sagate/admin/admintest"
	"github.com/sagate/sagate/keystore"
)

const (
	aliceToken = "alice-5988eba7e5760a46a80ea94cb64b98f33f8bb0f2e035bd8cd32da4e178276a60"
	bobToken   = "bob-daa49fb275a968eb1877e35143dbf59351c122d514afd6e9c8ecccd6ffa84b3b"
	carolToken = "carol-04a25d62126a39b7556d7bb7fafda3205194538af5f4d8663bd2dacd72df5dda"
)

// writeOperators writes the operators file and moves its modification time forward, so
// that a rewrite within the file system's time granularity is still seen as a change.
func writeOperators(t *testing.T, path, text string, step int) {
	t.Helper()
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	at := time.Now().Add(time.Duration(step) * time.Second)
	if err := os.Chtimes(path, at, at); err != nil {
		t.Fatal(err)
	}
}

func whoami(t *testing.T, h *harness, hdr ...string) (int, admin.WhoAmI) {
	t.Helper()
	r := h.do("GET", "/v1/whoami", "", hdr...)
	var w admin.WhoAmI
	if r.Status == http.StatusOK {
		w = decode[admin.WhoAmI](t, r)
	}
	return r.Status, w
}

// TestOperatorsFile: named operators authenticate with their tokens (plain or as a
// SHA-256), the admin token stays operator "admin", and every edit of the file applies
// (it is checked on a ticker): lines that do not parse are skipped and logged with their
// number, a deleted file or one open to others means no operator of the file.
func TestOperatorsFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "operators")
	sum := sha256.Sum256([]byte(bobToken))
	writeOperators(t, path, "# operators\nalice "+aliceToken+"\n\nbob sha256:"+hex.EncodeToString(sum[:])+"\n", 0)
	h := newHarness(t, admintest.Options{OperatorsFile: path})

	for tok, name := range map[string]string{aliceToken: "alice", bobToken: "bob", admintest.Token: "admin"} {
		st, w := whoami(t, h, "Authorization", "Bearer "+tok)
		if st != 200 || w.Kind != keystore.PrincipalOperator || w.Name != name || w.Principal != "operator:"+name {
			t.Fatalf("whoami as %s: %d %+v", name, st, w)
		}
	}
	h.must(201, "POST", "/v1/workspaces", `{"name": "ml"}`, "Authorization", "Bearer "+aliceToken)
	ev := decode[admin.List[keystore.AuditEvent]](t, h.must(200, "GET", "/v1/audit", "")).Items[0]
	if ev.Actor != "operator:alice" || ev.Principal == nil || ev.Principal.Name != "alice" {
		t.Fatalf("audit of alice's change: %+v", ev)
	}

	// Alice leaves, carol joins, and a line that does not parse is skipped: no restart.
	writeOperators(t, path, "bob sha256:"+hex.EncodeToString(sum[:])+"\ndave short\ncarol "+carolToken+"\n", 2)
	eventuallyWhoami(t, h, aliceToken, 401, "")
	eventuallyWhoami(t, h, carolToken, 200, "carol")
	eventuallyWhoami(t, h, bobToken, 200, "bob")
	if h.Logs.FilterMessage("operators file: line skipped").FilterField(zap.Int("line", 2)).Len() != 1 {
		t.Errorf("the skipped line 2 was not logged once: %v", h.Logs.FilterMessage("operators file: line skipped").All())
	}
	// Removing an operator takes effect even if the same edit leaves a bad line.
	writeOperators(t, path, "carol "+carolToken+"\nbob sha256:abc\n", 4)
	eventuallyWhoami(t, h, bobToken, 401, "")
	eventuallyWhoami(t, h, carolToken, 200, "carol")

	// A deleted file means no operator of the file, logged once; the admin token stays.
	const gone = "the operators file cannot be used; no operator of the file is accepted until it can"
	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
	eventuallyWhoami(t, h, carolToken, 401, "")
	for range 3 {
		admin.CheckOperators(h.Server)
	}
	if n := h.Logs.FilterMessage(gone).Len(); n != 1 {
		t.Errorf("the deleted file was logged %d times, want once", n)
	}
	eventuallyWhoami(t, h, admintest.Token, 200, "admin")
	// Back, but open to others: still none. Then chmod 600: carol again.
	writeOperators(t, path, "carol "+carolToken+"\n", 6)
	if err := os.Chmod(path, 0o644); err != nil {
		t.Fatal(err)
	}
	admin.CheckOperators(h.Server)
	if st, _ := whoami(t, h, "Authorization", "Bearer "+carolToken); st != 401 {
		t.Fatalf("carol from a file open to others: %d, want 401", st)
	}
	if n := h.Logs.FilterMessage(gone).Len(); n != 2 {
		t.Errorf("the file open to others was not logged (%d lines)", n)
	}
	if err := os.Chmod(path, 0o600); err != nil {
		t.Fatal(err)
	}
	eventuallyWhoami(t, h, carolToken, 200, "carol")
	h.keys = append(h.keys, aliceToken, bobToken, carolToken) // none may appear in a log line
}

// eventuallyWhoami waits (the file is checked on a ticker) until whoami with tok answers
// status, as operator name when status is 200.
func eventuallyWhoami(t *testing.T, h *harness, tok string, status int, name string) {
	t.Helper()
	admintest.Eventually(t, 10*time.Second, fmt.Sprintf("whoami to answer %d %s", status, name), func() error {
		st, w := whoami(t, h, "Authorization", "Bearer "+tok)
		if st != status || (status == 200 && w.Name != name) {
			return fmt.Errorf("whoami: %d %s", st, w.Name)
		}
		return nil
	})
}

// TestOperatorsFileErrors: a file that names no usable operator, or that group or others
// may read, stops a server without an admin token from starting; the error names the
// line, never a token. A file with one good line starts, skipping the others.
func TestOperatorsFileErrors(t *testing.T) {
	dir := t.TempDir()
	for name, text := range map[string]string{
		"short token": "alice short-token\n",
		"three words": "alice " + aliceToken + " extra\n",
		"bad hash":    "alice sha256:abc\n",
		"bad name":    "al ice\n",
		"weak token":  "alice my-super-secret-admin-token\n",
		"open":        "alice " + aliceToken + "\n",
	} {
		path := filepath.Join(dir, fmt.Sprintf("operators-%d", len(name)))
		writeOperators(t, path, text, 0)
		if name == "open" {
			if err := os.Chmod(path, 0o640); err != nil {
				t.Fatal(err)
			}
		}
		_, err := admin.NewServer(admin.Config{OperatorsFile: path, Service: &keystore.Service{}})
		if err == nil {
			t.Errorf("%s: NewServer accepted the file", name)
			continue
		}
		if strings.Contains(err.Error(), aliceToken) || strings.Contains(err.Error(), "short-token") || strings.Contains(err.Error(), "super-secret") {
			t.Errorf("%s: the error shows the token: %v", name, err)
		}
	}
	path := filepath.Join(dir, "mixed")
	writeOperators(t, path, "al ice\nalice "+aliceToken+"\nalice "+bobToken+"\n", 0)
	if _, err := admin.NewServer(admin.Config{OperatorsFile: path, Service: &keystore.Service{}}); err != nil {
		t.Fatalf("a file with one good line: %v", err)
	}
}

// fromAddr returns an HTTP client whose connections come from local address ip.
func fromAddr(ip string) *http.Client {
	d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(ip)}}
	return &http.Client{Transport: &http.Transport{DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
		return d.DialContext(ctx, network, addr)
	}}}
}

// TestProxyUserHeader: the person's name is taken from the header only from a trusted
// proxy; the same header from any other address is refused with a message, not ignored.
func TestProxyUserHeader(t *testing.T) {
	h := newHarness(t, admintest.Options{ProxyUserHeader: "X-Webauth-User",
		TrustedProxies: []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")}})
	// From the trusted address (127.0.0.1), without any token: a person.
	st, w := whoami(t, h, "Authorization", "", "X-Webauth-User", "alice@example.com")
	if st != 200 || w.Kind != keystore.PrincipalPerson || w.Name != "alice@example.com" || w.Via != "127.0.0.1" {
		t.Fatalf("whoami through the proxy: %d %+v", st, w)
	}
	// The header wins over a token the proxy passed along.
	if st, w := whoami(t, h, "X-Webauth-User", "alice"); st != 200 || w.Kind != keystore.PrincipalPerson {
		t.Fatalf("whoami with a token and the header: %d %+v", st, w)
	}
	for _, bad := range []string{"two words", strings.Repeat("a", 129)} {
		if st, _ := whoami(t, h, "Authorization", "", "X-Webauth-User", bad); st != 401 {
			t.Errorf("person %q: status %d, want 401", bad, st)
		}
	}
	// From another address (127.0.0.2), even with the operator token: refused.
	req, _ := http.NewRequest("GET", h.URL+"/v1/whoami", nil)
	req.Header.Set("X-Webauth-User", "alice")
	req.Header.Set("Authorization", "Bearer "+h.Token)
	res, err := fromAddr("127.0.0.2").Do(req)
	if err != nil {
		t.Fatalf("connecting from 127.0.0.2 (any loopback address works on Linux): %v", err)
	}
	defer res.Body.Close()
	var eb admin.ErrorBody
	if res.StatusCode != 401 || json.NewDecoder(res.Body).Decode(&eb) != nil || !strings.Contains(eb.Error.Message, "trusted proxy") {
		t.Fatalf("the header from an untrusted address: %d %+v", res.StatusCode, eb)
	}
}

// TestDeadKeyLearnsNothing: a revoked key is 401 even where the request fails before
// any rule is checked (a malformed body, an unknown route).
func TestDeadKeyLearnsNothing(t *testing.T) {
	h := newHarness(t, admintest.Options{})
	h.workspace("ml")
	k := h.account("ml", "bot").APIKey
	h.must(204, "DELETE", "/v1/workspaces/ml/service-accounts/bot/keys/"+k.ID, "")
	auth := []string{"Authorization", "Bearer " + k.Key}
	for _, c := range []struct{ method, path, body string }{
		{"PUT", "/v1/workspaces/ml/projects/p1/service-accounts/bot", `{"role": "root"}`},
		{"PUT", "/v1/workspaces/ml/projects/p1/service-accounts/bot", `not json`},
		{"GET", "/v1/workspaces/ml/service-accounts?page_size=0", ""},
		{"GET", "/v1/no-such-route", ""},
		{"GET", "/v1/whoami", ""},
	} {
		r := h.fail(401, admin.CodeUnauthenticated, c.method, c.path, c.body, auth...)
		if r.Header.Get("WWW-Authenticate") == "" {
			t.Errorf("%s %s: 401 without a challenge", c.method, c.path)
		}
	}
}
