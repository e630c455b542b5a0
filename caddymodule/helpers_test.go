package caddymodule

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
	"github.com/redis/go-redis/v9"

	"github.com/sagate/sagate/internal/testing/keytest"
	"github.com/sagate/sagate/internal/testing/redistest"
	"github.com/sagate/sagate/keystore/redisops"
	"github.com/sagate/sagate/keystore/wire"
)

// waitFor bounds every poll for something that happens in the background.
const waitFor = 10 * time.Second

// store plays the admin's part in Redis: it writes key records, the epoch and
// revision markers and change events with the protocol of keystore/wire/record.go and
// keystore/wire/signed.go, signed with keytest.SigningKey.
type store struct {
	t   testing.TB
	srv *redistest.Server
	rdb *redis.Client
	sk  wire.SigningKey
	rev int64
}

// newStore starts a redis-server, makes its sidecar user (redisops.SidecarACLRules)
// and writes the markers. Sidecars log in as that user (sidecarURL): every test of
// the module runs with no more rights than a deployment gives it.
func newStore(t testing.TB) *store {
	t.Helper()
	srv := redistest.Start(t)
	s := &store{t: t, srv: srv, rdb: srv.Client(), sk: keytest.SigningKey(t)}
	s.applyACL()
	s.setEpoch()
	return s
}

// The Redis user and password of the sidecars in tests.
const (
	sidecarUser     = redisops.DefaultSidecarACLUser
	sidecarPassword = "sidecar-test-password"
)

// applyACL makes the sidecars' Redis user, as `sagate redis-acl | redis-cli` does.
func (s *store) applyACL() {
	s.t.Helper()
	var args []any
	line := redisops.ACLSetUser(sidecarUser, redisops.ACLPassword(sidecarPassword, ""), redisops.SidecarACLRules())
	for _, f := range strings.Fields(line) {
		args = append(args, f)
	}
	if err := s.rdb.Do(context.Background(), args...).Err(); err != nil {
		s.t.Fatalf("making the sidecar's redis user: %v", err)
	}
}

// sidecarURL is the Redis URL of a sidecar, logged in as the sidecars' user.
func (s *store) sidecarURL() string {
	return "redis://" + sidecarUser + ":" + sidecarPassword + "@" + s.srv.Addr() + "/0"
}

// aclDenied returns what Redis' ACL refused so far (ACL LOG), but CLIENT SETINFO,
// which go-redis sends and does without.
func (s *store) aclDenied() []string {
	s.t.Helper()
	entries, err := s.rdb.Do(context.Background(), "ACL", "LOG").Slice()
	if err != nil {
		s.t.Fatalf("ACL LOG: %v", err)
	}
	var out []string
	for _, e := range entries {
		if text := fmt.Sprint(e); !strings.Contains(text, "client|setinfo") {
			out = append(out, text)
		}
	}
	return out
}

// trusted is the signing_keys line of a Caddyfile that trusts keytest.SigningKey.
func trusted(t testing.TB) string {
	return "signing_keys " + keytest.SigningKey(t).Public().String()
}

// trustedAny is trusted's line and "workspace *": a site open to every workspace.
func trustedAny(t testing.TB) string {
	return trusted(t) + "\n\t\tworkspace *"
}

// setEpoch writes the revision marker, then the epoch marker, as a full sync does.
func (s *store) setEpoch() {
	s.t.Helper()
	s.setRev(s.rev)
	if err := s.rdb.Set(context.Background(), wire.RedisEpoch, wire.SealMarker(s.sk, wire.DomainEpoch, "e1"), 0).Err(); err != nil {
		s.t.Fatalf("writing the epoch: %v", err)
	}
}

// setRev writes the revision marker at rev.
func (s *store) setRev(rev int64) {
	s.t.Helper()
	if err := s.rdb.Set(context.Background(), wire.RedisRev, wire.SealRev(s.sk, rev), 0).Err(); err != nil {
		s.t.Fatalf("writing the revision marker: %v", err)
	}
}

// setRaw writes value at key, as someone other than the admin would.
func (s *store) setRaw(key string, value []byte) {
	s.t.Helper()
	if err := s.rdb.Set(context.Background(), key, value, 0).Err(); err != nil {
		s.t.Fatalf("writing %s: %v", key, err)
	}
}

// testAccount is a service account with one key, as the admin would describe it.
type testAccount struct {
	key string
	rec wire.Record
}

// newAccount makes a live key of sa@ws with the given project roles and stores it.
func (s *store) newAccount(sa, ws string, roles map[string]wire.Role) *testAccount {
	s.t.Helper()
	a := &testAccount{key: keytest.New(s.t), rec: wire.Record{
		KeyID: "key_" + sa, SAID: "sa_" + sa, SA: sa + "@" + ws, Workspace: ws,
		State: wire.KeyActive, Roles: roles,
	}}
	s.put(a)
	return a
}

// put writes a's record and publishes an event naming its key, like a committed change.
func (s *store) put(a *testAccount) {
	s.t.Helper()
	ctx := context.Background()
	s.rev++
	a.rec.Rev = s.rev
	h := wire.HashKey(a.key)
	b, err := wire.SealRecord(s.sk, h, a.rec)
	if err != nil {
		s.t.Fatal(err)
	}
	if err := s.rdb.Set(ctx, wire.RedisKey(h), b, 0).Err(); err != nil {
		s.t.Fatalf("writing a record: %v", err)
	}
	s.setRev(s.rev)
	ev := wire.Event{Rev: s.rev, Kind: wire.EventKeys, Epoch: "e1", Hashes: []wire.KeyHash{h}}
	wire.SignEvent(s.sk, &ev)
	if _, _, err := wire.PublishEvent(ctx, s.rdb, ev, 0); err != nil {
		s.t.Fatalf("publishing an event: %v", err)
	}
}

// revoke replaces a's record with a tombstone and publishes the event.
func (s *store) revoke(a *testAccount) {
	s.t.Helper()
	a.rec.State = wire.KeyRevoked
	s.put(a)
}

// upstream is the existing API: it records the headers of every request it gets.
type upstream struct {
	*httptest.Server
	mu   sync.Mutex
	reqs []http.Header
}

func newUpstream(t testing.TB) *upstream {
	u := &upstream{}
	u.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		u.mu.Lock()
		u.reqs = append(u.reqs, r.Header.Clone())
		u.mu.Unlock()
		w.Header().Set("Content-Type", "text/plain")
		_, _ = w.Write([]byte("upstream"))
	}))
	t.Cleanup(u.Close)
	return u
}

// count returns how many requests reached the upstream.
func (u *upstream) count() int {
	u.mu.Lock()
	defer u.mu.Unlock()
	return len(u.reqs)
}

// last returns the headers of the last request that reached the upstream.
func (u *upstream) last(t testing.TB) http.Header {
	t.Helper()
	u.mu.Lock()
	defer u.mu.Unlock()
	if len(u.reqs) == 0 {
		t.Fatal("no request reached the upstream")
	}
	return u.reqs[len(u.reqs)-1]
}

// newHandler returns h with its defaults and a real key cache on s, released
// when the test ends; like Provision without a Caddy context.
func newHandler(t testing.TB, s *store, h Handler) *Handler {
	t.Helper()
	h.Redis = s.sidecarURL()
	if h.SigningKeys == nil {
		h.SigningKeys = []string{keytest.SigningKey(t).Public().String()}
	}
	if h.Workspaces == nil && h.Workspace == "" {
		h.Workspaces = []string{AnyWorkspace}
	}
	if err := h.applyDefaults(); err != nil {
		t.Fatal(err)
	}
	if err := h.Validate(); err != nil {
		t.Fatal(err)
	}
	if err := registerMetrics(nil); err != nil {
		t.Fatal(err)
	}
	c, key, err := acquireCache(h.cacheSettings(), h.logger)
	if err != nil {
		t.Fatal(err)
	}
	h.cache, h.poolKey = c, key
	t.Cleanup(func() {
		if err := h.Cleanup(); err != nil {
			t.Errorf("cleanup: %v", err)
		}
	})
	return &h
}

// newRequest is a GET with a fresh Caddy replacer, as Caddy's server makes it.
func newRequest(key string, header ...string) *http.Request {
	r := httptest.NewRequest(http.MethodGet, "http://sidecar/v1/things", nil)
	if key != "" {
		r.Header["Authorization"] = []string{"Bearer " + key}
	}
	for i := 0; i+1 < len(header); i += 2 {
		r.Header[header[i]] = append(r.Header[header[i]], header[i+1])
	}
	repl := caddyhttp.NewTestReplacer(r)
	return r.WithContext(context.WithValue(r.Context(), caddy.ReplacerCtxKey, repl))
}

// nextRecorder is a next handler that records the request it was given.
type nextRecorder struct {
	called bool
	header http.Header
	repl   *caddy.Replacer
}

func (n *nextRecorder) ServeHTTP(w http.ResponseWriter, r *http.Request) error {
	n.called = true
	n.header = r.Header.Clone()
	n.repl, _ = r.Context().Value(caddy.ReplacerCtxKey).(*caddy.Replacer)
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// waitUntil polls cond until it holds or waitFor passes.
func waitUntil(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(waitFor)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}
