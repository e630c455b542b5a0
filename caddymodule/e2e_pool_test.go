package caddymodule

import (
	"fmt"
	"strings"
	"testing"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig"

	"github.com/sagate/sagate/internal/testing/keytest"
)

// Tests of the Redis client and key cache shared through the usage pool, with a
// real Caddy (see e2e_test.go).

func TestCaddyTwoSidecarsSeeOneRevocation(t *testing.T) {
	st := newStore(t)
	up := newUpstream(t)
	s1, s2 := newSidecarURL(t), newSidecarURL(t)
	// Different cache sizes: two caches, two event followers, like two processes.
	loadCaddy(t, globalOptions+fmt.Sprintf(`
%s {
	sagate {
		redis %s
		%s
		cache_size 100
	}
	reverse_proxy %s
}
%s {
	sagate {
		redis %s
		%s
		cache_size 200
	}
	reverse_proxy %s
}
`, s1.url, st.sidecarURL(), trustedAny(t), up.URL, s2.url, st.sidecarURL(), trustedAny(t), up.URL))
	if n := poolSize(); n != 2 {
		t.Fatalf("%d shared caches, want 2", n)
	}
	a := st.newAccount("alice", "ml-team", nil)
	s1.waitStatus(t, "allowed at 1", a.key, 200)
	s2.waitStatus(t, "allowed at 2", a.key, 200)
	st.revoke(a)
	s1.waitStatus(t, "revoked at 1", a.key, 401)
	s2.waitStatus(t, "revoked at 2", a.key, 401)
}

func TestCaddySitesShareOneCacheAcrossReloads(t *testing.T) {
	st := newStore(t)
	up := newUpstream(t)
	s1, s2 := newSidecarURL(t), newSidecarURL(t)
	config := func(realm string) string {
		return globalOptions + fmt.Sprintf(`
%s {
	sagate %s {
		%s
		realm %s
	}
	reverse_proxy %s
}
%s {
	sagate %s {
		%s
	}
	reverse_proxy %s
}
`, s1.url, st.sidecarURL(), trustedAny(t), realm, up.URL, s2.url, st.sidecarURL(), trustedAny(t), up.URL)
	}
	loadCaddy(t, config("one"))
	first := sharedCaches()
	if len(first) != 1 {
		t.Fatalf("%d shared caches for two sites with the same settings, want 1", len(first))
	}
	a := st.newAccount("alice", "ml-team", nil)
	s1.waitStatus(t, "allowed", a.key, 200)

	loadCaddy(t, config("two")) // a reload: the new config provisions before the old one is cleaned up
	second := sharedCaches()
	if len(second) != 1 || second[0] != first[0] {
		t.Fatal("the reload replaced the shared cache")
	}
	if got := s1.do(t, "/", "").www; got != `Bearer realm="two"` {
		t.Fatalf("the new config is not running: %q", got)
	}
	st.revoke(a)
	s2.waitStatus(t, "the revocation after the reload", a.key, 401)

	if err := caddy.Stop(); err != nil {
		t.Fatal(err)
	}
	if n := poolSize(); n != 0 {
		t.Fatalf("%d shared caches left after the last config stopped", n)
	}
}

func TestCaddyRedisDownNeverSeenKey(t *testing.T) {
	st := newStore(t)
	up := newUpstream(t)
	s := newSidecarURL(t)
	// The accounts exist before the sidecar starts, so that no event of theirs reaches
	// its cache later: an event naming the key drops its entry, and one that touches
	// the key's shard while its first lookup is in flight keeps that answer out of the
	// cache (see keycache's store). Either way a loaded machine could leave the key
	// uncached when Redis goes, and this test is about the stale fallback.
	seen := st.newAccount("seen", "ml-team", nil)
	never := st.newAccount("never", "ml-team", nil)
	loadCaddy(t, globalOptions+fmt.Sprintf("%s {\n\tsagate %s {\n\t\t%s\n\t}\n\treverse_proxy %s\n}\n", s.url, st.sidecarURL(), trustedAny(t), up.URL))
	s.waitStatus(t, "allowed", seen.key, 200)
	waitUntil(t, "the seen key answered from the cache", func() bool {
		before := cacheHits()
		s.do(t, "/", "Bearer "+seen.key)
		return cacheHits() > before
	})
	st.srv.Kill()
	n := up.count()
	for _, key := range []string{never.key, keytest.New(t)} {
		a := s.do(t, "/", "Bearer "+key)
		if a.status != 503 || a.header.Get("Retry-After") != "1" || a.error != "temporarily_unavailable" {
			t.Fatalf("got %d %q (Retry-After %q), want 503", a.status, a.error, a.header.Get("Retry-After"))
		}
	}
	if a := s.do(t, "/", "Bearer "+seen.key); a.status != 200 {
		t.Fatalf("a key seen before: %d, want 200 within stale_if_error", a.status)
	}
	if up.count() != n+1 {
		t.Fatal("an unchecked key reached the upstream")
	}
	st.srv.Restart()
	st.applyACL()
	st.setEpoch()
	never.rec.Rev = 0
	st.put(never)
	s.waitStatus(t, "Redis back", never.key, 200)
}

// cacheHits sums the hits of the shared caches alive in the process.
func cacheHits() uint64 {
	var n uint64
	for _, sc := range sharedCaches() {
		n += sc.cache.Stats().Hits
	}
	return n
}

// sharedCaches lists the shared caches alive in the process.
func sharedCaches() []*sharedCache {
	var out []*sharedCache
	caches.Range(func(_, v any) bool {
		if sc, ok := v.(*sharedCache); ok {
			out = append(out, sc)
		}
		return true
	})
	return out
}

func poolSize() int { return len(sharedCaches()) }

func TestCaddyRejectsInvalidConfig(t *testing.T) {
	st := newStore(t)
	s := newSidecarURL(t)
	tests := []struct{ options, wantErr string }{
		{trusted(t), "say which workspaces this site serves: workspace NAME… or workspace *"},
		{trusted(t) + "\n\t\tworkspace a *", `"*" (any workspace) stands alone`},
		{trustedAny(t) + "\n\t\tmin_role owner", "min_role needs project"},
		{trusted(t) + "\n\t\tworkspace ML", "workspace"},
		{trustedAny(t) + "\n\t\tproject p1\n\t\tmin_role admin", "min_role"},
		{"workspace ml-team", "signing_keys is required"},
		{"signing_keys sagate-ed25519:AAAA", "malformed sagate public key"},
		{"signing_keys " + keytest.SigningKey(t).Public().ID(), "not a sagate public key"},
	}
	for _, tt := range tests {
		cfg, _, err := caddyconfig.GetAdapter("caddyfile").Adapt([]byte(globalOptions+fmt.Sprintf(
			"%s {\n\tsagate %s {\n\t\t%s\n\t}\n\trespond 200\n}\n", s.url, st.sidecarURL(), tt.options)), nil)
		if err == nil {
			err = caddy.Load(cfg, true)
		}
		if err == nil {
			_ = caddy.Stop()
			t.Fatalf("%s: the config loaded", tt.options)
		}
		if !strings.Contains(err.Error(), tt.wantErr) {
			t.Fatalf("%s: error %v, want one containing %q", tt.options, err, tt.wantErr)
		}
		if n := poolSize(); n != 0 {
			t.Fatalf("%s: a failed load left %d shared caches", tt.options, n)
		}
	}
}
