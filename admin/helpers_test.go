package admin_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"regexp"
	"strings"
	"sync"
	"testing"

	"go.uber.org/zap"

	"github.com/sagate/sagate/admin"
	"github.com/sagate/sagate/admin/admintest"
	"github.com/sagate/sagate/keystore"
)

var keyRE = regexp.MustCompile(keystore.KeyRegexp)

// harness is an admin endpoint plus the secrets it has issued; when the test ends it
// checks that neither the admin token nor any issued key appeared in a log line.
type harness struct {
	*admintest.Env
	t *testing.T

	mu   sync.Mutex
	keys []string
}

func newHarness(t *testing.T, o admintest.Options) *harness {
	t.Helper()
	h := &harness{Env: admintest.Start(t, o), t: t}
	t.Cleanup(h.checkLogs)
	return h
}

func (h *harness) checkLogs() {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.AssertNoSecrets(h.t, append([]string{h.Token}, h.keys...)...)
}

// resp is an answer of the admin API.
type resp struct {
	Status int
	Header http.Header
	Body   []byte
}

// code returns the error code of an error answer.
func (r resp) code(t *testing.T) string {
	t.Helper()
	var eb admin.ErrorBody
	if err := json.Unmarshal(r.Body, &eb); err != nil {
		t.Fatalf("status %d: the body is not a JSON error: %v: %s", r.Status, err, r.Body)
	}
	if eb.Error.Code == "" || eb.Error.Message == "" {
		t.Fatalf("status %d: the error body lacks code or message: %s", r.Status, r.Body)
	}
	return eb.Error.Code
}

// decode decodes r's body into a T.
func decode[T any](t *testing.T, r resp) T {
	t.Helper()
	var v T
	if err := json.Unmarshal(r.Body, &v); err != nil {
		t.Fatalf("decoding %T from %s: %v", v, r.Body, err)
	}
	return v
}

// js marshals v.
func js(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return string(b)
}

// do sends a request with the admin token unless hdr sets Authorization ("" removes it).
// hdr is name, value pairs.
func (h *harness) do(method, path, body string, hdr ...string) resp {
	h.t.Helper()
	r := sendRaw(h.t, context.Background(), http.DefaultClient, method, h.URL+path, h.Token, body, hdr...)
	if found := keyRE.FindAll(r.Body, -1); len(found) > 0 {
		h.mu.Lock()
		for _, k := range found {
			h.keys = append(h.keys, string(k))
		}
		h.mu.Unlock()
	}
	return r
}

// sendRaw sends one request to url with token as its Bearer credential unless hdr sets
// Authorization ("" removes a header); hdr is name, value pairs. It fails t on a
// transport error.
func sendRaw(t testing.TB, ctx context.Context, hc *http.Client, method, url, token, body string, hdr ...string) resp {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, url, rd)
	if err != nil {
		t.Fatalf("building %s %s: %v", method, url, err)
	}
	req.Header.Set("Authorization", "Bearer "+token)
	if body != "" || (method != "GET" && method != "HEAD") {
		req.Header.Set("Content-Type", "application/json")
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		if hdr[i+1] == "" {
			req.Header.Del(hdr[i])
			continue
		}
		req.Header.Set(hdr[i], hdr[i+1])
	}
	res, err := hc.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatalf("reading the answer to %s %s: %v", method, url, err)
	}
	return resp{Status: res.StatusCode, Header: res.Header, Body: b}
}

// must sends a request and fails unless it answers want.
func (h *harness) must(want int, method, path, body string, hdr ...string) resp {
	h.t.Helper()
	r := h.do(method, path, body, hdr...)
	if r.Status != want {
		h.t.Fatalf("%s %s: status %d, want %d: %s", method, path, r.Status, want, r.Body)
	}
	if ct := r.Header.Get("Content-Type"); r.Status != http.StatusNoContent && ct != "application/json" && !strings.HasPrefix(path, "/metrics") {
		h.t.Fatalf("%s %s: Content-Type %q, want application/json", method, path, ct)
	}
	if cc := r.Header.Get("Cache-Control"); cc != "no-store" && !strings.HasPrefix(path, "/metrics") {
		h.t.Fatalf("%s %s: Cache-Control %q, want no-store", method, path, cc)
	}
	return r
}

// fail sends a request and fails unless it answers the error status and code.
func (h *harness) fail(status int, code, method, path, body string, hdr ...string) resp {
	h.t.Helper()
	r := h.must(status, method, path, body, hdr...)
	if got := r.code(h.t); got != code {
		h.t.Fatalf("%s %s: error code %q, want %q: %s", method, path, got, code, r.Body)
	}
	return r
}

// workspace creates a workspace.
func (h *harness) workspace(name string) {
	h.t.Helper()
	h.must(http.StatusCreated, "POST", "/v1/workspaces", js(map[string]any{"name": name}))
}

// account creates a service account with a key and returns the answer.
func (h *harness) account(ws, name string, extra ...any) admin.ServiceAccountWithKey {
	h.t.Helper()
	in := map[string]any{"name": name}
	for i := 0; i+1 < len(extra); i += 2 {
		in[extra[i].(string)] = extra[i+1]
	}
	return decode[admin.ServiceAccountWithKey](h.t, h.must(http.StatusCreated, "POST", "/v1/workspaces/"+ws+"/service-accounts", js(in)))
}

func zapString(k, v string) zap.Field { return zap.String(k, v) }
