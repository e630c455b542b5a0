package e2e

import (
	"context"
	"net/http"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/sagate/sagate/internal/testing/systest"
	"github.com/sagate/sagate/keystore"
)

// Faults with real processes: Redis killed, restarted empty, cut off and slowed down;
// the admin stopped. Each test states the promise it checks.

// resyncBound is the documented bound within which the admin notices a Redis that lost
// its epoch marker and resyncs it (5 s, docs/operations.md; the epoch check runs every second).
const resyncBound = 5 * time.Second

// faultSetup creates workspace ws with three accounts and returns their first keys:
// hot (used through the sidecar before the fault), cold (never used before it) and
// gone (used, then revoked and seen refused before it).
func faultSetup(t *testing.T, e *env, s *sidecar, ws string) (hot, cold, gone issued) {
	t.Helper()
	e.admin.must(http.StatusCreated, "POST", "/v1/workspaces", map[string]any{"name": ws})
	hot = e.admin.newAccount(ws, "hot", "")
	cold = e.admin.newAccount(ws, "cold", "")
	gone = e.admin.newAccount(ws, "gone", "")
	for name, k := range map[string]issued{"hot": hot, "gone": gone} {
		if got := s.status(t, k.Key); got != http.StatusOK {
			t.Fatalf("%s key before the fault = %d, want 200", name, got)
		}
	}
	e.admin.must(http.StatusNoContent, "DELETE", "/v1/workspaces/"+ws+"/service-accounts/gone/keys/"+gone.ID, nil)
	systest.Eventually(t, propagation, "revoked key refused before the fault", func() bool {
		return s.status(t, gone.Key) == http.StatusUnauthorized
	})
	return hot, cold, gone
}

// Fault: Redis stops. Keys verified before keep working (stale_if_error); a valid key
// never seen gets 503; an unknown key never 200; a revoked key stays refused. When Redis
// comes back (empty: the admin resyncs it), everything works again without a restart.
func TestRedisStopsAndReturns(t *testing.T) {
	e := newEnv(t)
	s := startSidecar(t, e.redis.URL(), e.up.srv.URL, "cache_ttl 300ms\n\t\tstale_if_error 1m")
	hot, cold, gone := faultSetup(t, e, s, "f1")
	unknown := unknownKey(t)
	if got := s.status(t, unknown); got != http.StatusUnauthorized {
		t.Fatalf("unknown key with Redis up = %d, want 401", got)
	}

	e.redis.Kill()
	for range 3 {
		if got := s.status(t, hot.Key); got != http.StatusOK {
			t.Fatalf("key verified before the outage = %d, want 200 (stale_if_error)", got)
		}
		if got := s.status(t, cold.Key); got != http.StatusServiceUnavailable {
			t.Fatalf("valid key never seen, Redis down = %d, want 503", got)
		}
		// A "no such key" cached before the outage (negative_ttl) may still answer 401.
		if got := s.status(t, unknown); got != http.StatusServiceUnavailable && got != http.StatusUnauthorized {
			t.Fatalf("unknown key, Redis down = %d, want 503 or 401", got)
		}
		if got := s.status(t, gone.Key); got != http.StatusServiceUnavailable && got != http.StatusUnauthorized {
			t.Fatalf("revoked key, Redis down = %d, want 503 or 401", got)
		}
	}

	e.redis.Restart()
	systest.Eventually(t, resyncBound+propagation, "every key answered right after Redis came back", func() bool {
		return s.status(t, hot.Key) == http.StatusOK && s.status(t, cold.Key) == http.StatusOK &&
			s.status(t, unknown) == http.StatusUnauthorized && s.status(t, gone.Key) == http.StatusUnauthorized
	})
}

// Fault: Redis restarts empty while the admin runs. No valid key gets 401 at any
// moment, the admin resyncs within 5 s, revoked and unknown keys are never let in.
func TestRedisRestartsEmpty(t *testing.T) {
	e := newEnv(t)
	s := startSidecar(t, e.redis.URL(), e.up.srv.URL, "")
	hot, cold, gone := faultSetup(t, e, s, "f2")
	rdb := e.redis.Client()
	before := epochOf(rdb)
	if before == "" {
		t.Fatal("no epoch marker before the restart")
	}

	h := startHammer(s, map[string]string{"hot": hot.Key, "cold": cold.Key, "gone": gone.Key, "unknown": unknownKey(t)})
	e.redis.Restart()
	restarted := time.Now()
	systest.Eventually(t, resyncBound, "the admin resyncs the empty Redis (new epoch marker)", func() bool {
		ep := epochOf(rdb)
		return ep != "" && ep != before
	})
	t.Logf("epoch marker back %v after the restart", time.Since(restarted).Round(time.Millisecond))
	systest.Eventually(t, propagation, "cold key allowed after the resync", func() bool {
		return s.status(t, cold.Key) == http.StatusOK
	})
	got := h.stop()

	onlyStatuses(t, "key cached before the restart", got["hot"], http.StatusOK, http.StatusServiceUnavailable)
	onlyStatuses(t, "valid key first used during the restart", got["cold"], http.StatusOK, http.StatusServiceUnavailable)
	onlyStatuses(t, "revoked key", got["gone"], http.StatusUnauthorized, http.StatusServiceUnavailable)
	onlyStatuses(t, "unknown key", got["unknown"], http.StatusUnauthorized, http.StatusServiceUnavailable)
	if got := s.status(t, gone.Key); got != http.StatusUnauthorized {
		t.Fatalf("revoked key after the resync = %d, want 401", got)
	}
}

// Fault: the sidecar's events link is cut while a key is revoked. After the link is
// back, the revoked key is refused, whether the follower replays what it missed or
// flushes its cache. No request with that key is sent between the revocation and the
// follower's return, so that a Redis lookup cannot mask a follower that resumed
// without the missed event.
func TestEventLinkCutDuringRevocation(t *testing.T) {
	e := newEnv(t)
	e.admin.must(http.StatusCreated, "POST", "/v1/workspaces", map[string]any{"name": "f3"})
	rdb := e.redis.Client()

	t.Run("proxy drops the link", func(t *testing.T) {
		p := systest.StartProxy(t, e.redis.Addr())
		s := startSidecar(t, "redis://"+p.Addr()+"/0", e.up.srv.URL, "")
		k := e.admin.newAccount("f3", "proxied", "")
		systest.Eventually(t, propagation, "key allowed and follower blocked in XREAD", func() bool {
			return s.status(t, k.Key) == http.StatusOK && len(followerIDs(t, rdb)) == 1
		})
		p.Cut()
		systest.Eventually(t, propagation, "follower gone from Redis", func() bool { return len(followerIDs(t, rdb)) == 0 })
		e.admin.must(http.StatusNoContent, "DELETE", "/v1/workspaces/f3/service-accounts/proxied/keys/"+k.ID, nil)
		p.Restore()
		systest.Eventually(t, 5*time.Second, "follower back in XREAD", func() bool { return len(followerIDs(t, rdb)) == 1 })
		if got := s.status(t, k.Key); got != http.StatusUnauthorized {
			t.Fatalf("key revoked while the link was cut = %d after reconnecting, want 401", got)
		}
	})

	t.Run("CLIENT KILL of the follower", func(t *testing.T) {
		s := startSidecar(t, e.redis.URL(), e.up.srv.URL, "")
		k := e.admin.newAccount("f3", "killed", "")
		var ids []int64
		systest.Eventually(t, propagation, "key allowed and follower blocked in XREAD", func() bool {
			ids = followerIDs(t, rdb)
			return s.status(t, k.Key) == http.StatusOK && len(ids) == 1
		})
		// Kill the follower's link and revoke at once, several times: the revocation
		// lands before, during or after the follower's reconnection.
		for i := range 3 {
			ids = followerIDs(t, rdb)
			for _, id := range ids {
				if err := rdb.ClientKillByFilter(context.Background(), "ID", strconv.FormatInt(id, 10)).Err(); err != nil {
					t.Fatalf("CLIENT KILL ID: %v", err)
				}
			}
			if i == 2 {
				e.admin.must(http.StatusNoContent, "DELETE", "/v1/workspaces/f3/service-accounts/killed/keys/"+k.ID, nil)
			}
		}
		systest.Eventually(t, 5*time.Second, "follower back in XREAD", func() bool { return len(followerIDs(t, rdb)) == 1 })
		systest.Eventually(t, propagation, "revoked key refused", func() bool {
			return s.status(t, k.Key) == http.StatusUnauthorized
		})
	})
}

// Fault: Redis slow. A lookup gives up after lookup_timeout (default 100 ms) with 503
// for a key never seen, or a stale answer for a key seen before; a burst of lookups
// does not pile up goroutines or Redis connections, and the sidecar comes back to its
// baseline when the burst ends.
func TestSlowRedisBoundedLookups(t *testing.T) {
	e := newEnv(t)
	p := systest.StartProxy(t, e.redis.Addr())
	s := startSidecar(t, "redis://"+p.Addr()+"/0", e.up.srv.URL, "cache_ttl 300ms\n\t\tstale_if_error 1m")
	e.admin.must(http.StatusCreated, "POST", "/v1/workspaces", map[string]any{"name": "f4"})
	hot := e.admin.newAccount("f4", "hot", "")
	cold := e.admin.newAccount("f4", "cold", "")
	if got := s.status(t, hot.Key); got != http.StatusOK {
		t.Fatalf("hot key before the slowdown = %d", got)
	}
	baseG, baseC := s.goroutines(t), connsTo(t, p.Addr())
	dialsBefore := redisDials(t, e.redis.Client())
	began := time.Now()
	defer func() { t.Logf("slow phase took %v", time.Since(began).Round(time.Millisecond)) }()

	// Far above the 100 ms lookup timeout: no lookup can complete in time.
	p.SetLatency(time.Second)
	for range 3 {
		if got := s.status(t, hot.Key); got != http.StatusOK {
			t.Fatalf("key seen before, Redis slow = %d, want 200 (fresh or stale)", got)
		}
		if got := s.status(t, cold.Key); got != http.StatusServiceUnavailable {
			t.Fatalf("key never seen, Redis slow = %d, want 503", got)
		}
	}

	// A burst of distinct unknown keys, each a lookup of its own.
	const workers = 48
	var (
		wg      sync.WaitGroup
		mu      sync.Mutex
		codes   = map[int]int{}
		peakG   int
		peakC   int
		keys    = make([][]string, workers)
		client  = &http.Client{Timeout: 30 * time.Second}
		perWork = 15
	)
	for i := range keys {
		for range perWork {
			keys[i] = append(keys[i], unknownKey(t))
		}
	}
	for i := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for _, k := range keys[i] {
				req, _ := http.NewRequest(http.MethodGet, s.url+"/burst", nil)
				req.Header.Set("Authorization", "Bearer "+k)
				code := 0
				if resp, err := client.Do(req); err == nil {
					code = resp.StatusCode
					resp.Body.Close()
				}
				mu.Lock()
				codes[code]++
				mu.Unlock()
			}
		}()
	}
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	for sampling := true; sampling; {
		select {
		case <-done:
			sampling = false
		case <-time.After(100 * time.Millisecond):
			peakG, peakC = max(peakG, s.goroutines(t)), max(peakC, connsTo(t, p.Addr()))
		}
	}
	onlyStatuses(t, "unknown keys while Redis is slow", codes, http.StatusServiceUnavailable)
	// Informative: a lookup that times out discards its connection, so a slow Redis
	// sees new connections (through the proxy, one each) at the rate of timeouts.
	t.Logf("new redis connections during the burst of %d lookups: %d", workers*perWork, redisDials(t, e.redis.Client())-dialsBefore)
	t.Logf("baseline: %d goroutines, %d sidecar connections to redis; burst peak: %d goroutines, %d connections", baseG, baseC, peakG, peakC)
	// Per connection the HTTP server needs about two goroutines; lookups are capped
	// (maxInflight 64). A pile-up would be one per request (workers × perWork).
	if limit := baseG + 3*workers + 100; peakG > limit {
		t.Errorf("goroutines piled up during the burst: peak %d, baseline %d, limit %d", peakG, baseG, limit)
	}
	if limit := baseC + 80; peakC > limit {
		t.Errorf("redis connections piled up during the burst: peak %d, baseline %d, limit %d", peakC, baseC, limit)
	}

	p.SetLatency(0)
	drained := time.Now()
	systest.Eventually(t, 20*time.Second, "goroutines back near the baseline", func() bool {
		return s.goroutines(t) <= baseG+20
	})
	t.Logf("goroutines back near the baseline %v after the burst", time.Since(drained).Round(time.Millisecond))
	systest.Eventually(t, propagation, "cold key allowed once Redis is fast again", func() bool {
		return s.status(t, cold.Key) == http.StatusOK
	})
}

// Fault: the admin down: the sidecar keeps serving (Redis answers). Then Redis down
// too: cached keys until stale_if_error, then 503; unknown keys never allowed.
func TestAdminDownThenRedisDown(t *testing.T) {
	e := newEnv(t)
	s := startSidecar(t, e.redis.URL(), e.up.srv.URL, "cache_ttl 200ms\n\t\tstale_if_error 3s")
	hot, cold, gone := faultSetup(t, e, s, "f6")
	unknown := unknownKey(t)

	e.admin.proc.Stop()
	// Redis still answers: every decision is exact, cold keys included.
	for _, c := range []struct {
		name, key string
		want      int
	}{{"hot", hot.Key, 200}, {"cold", cold.Key, 200}, {"revoked", gone.Key, 401}, {"unknown", unknown, 401}} {
		if got := s.status(t, c.key); got != c.want {
			t.Fatalf("admin down, %s key = %d, want %d", c.name, got, c.want)
		}
	}

	// Confirm hot with Redis just before it goes (cache_ttl is 200 ms).
	systest.Eventually(t, propagation, "hot key confirmed", func() bool { return s.status(t, hot.Key) == http.StatusOK })
	e.redis.Kill()
	if got := s.status(t, hot.Key); got != http.StatusOK {
		t.Fatalf("cached key, admin and Redis down, within stale_if_error = %d, want 200", got)
	}
	for name, k := range map[string]string{"unknown": unknown, "revoked": gone.Key} {
		if got := s.status(t, k); got == http.StatusOK || (got != http.StatusServiceUnavailable && got != http.StatusUnauthorized) {
			t.Fatalf("%s key, admin and Redis down = %d, want 503 or 401", name, got)
		}
	}
	systest.Eventually(t, 10*time.Second, "cached key refused with 503 after stale_if_error", func() bool {
		got := s.status(t, hot.Key)
		if got != http.StatusOK && got != http.StatusServiceUnavailable {
			t.Fatalf("cached key, admin and Redis down = %d, want 200 then 503", got)
		}
		return got == http.StatusServiceUnavailable
	})
	if got := s.status(t, unknown); got != http.StatusServiceUnavailable {
		t.Fatalf("unknown key after stale_if_error = %d, want 503", got)
	}
}

// Fault: a revocation inside the window. Redis restarts empty, a key is revoked before
// the admin's resync, and the sidecar's events link comes back only after that. The
// admin has written the key's tombstone and its event; the key must stay refused
// (never 200 after the revoke was acknowledged), whatever the sidecar had cached.
func TestRevokedWhileRedisEmpty(t *testing.T) {
	e := newEnv(t)
	p := systest.StartProxy(t, e.redis.Addr())
	s := startSidecar(t, "redis://"+p.Addr()+"/0", e.up.srv.URL, "")
	e.admin.must(http.StatusCreated, "POST", "/v1/workspaces", map[string]any{"name": "f2b"})
	k := e.admin.newAccount("f2b", "victim", "")
	if got := s.status(t, k.Key); got != http.StatusOK {
		t.Fatalf("key before the fault = %d", got)
	}
	rdb := e.redis.Client()
	p.Cut()
	e.redis.Restart()
	e.admin.must(http.StatusNoContent, "DELETE", "/v1/workspaces/f2b/service-accounts/victim/keys/"+k.ID, nil)
	// The admin wrote the key's tombstone into the empty Redis: Redis can tell.
	if ep := epochOf(rdb); ep != "" {
		t.Fatal("the admin resynced before the revocation: the test proves nothing, run it again")
	}
	if rec, ok := recordOf(t, rdb, k.Key); !ok || rec.State != keystore.KeyRevoked {
		t.Fatalf("no tombstone in Redis after the revocation (present=%v state=%q)", ok, rec.State)
	}
	p.Restore()

	h := startHammer(s, map[string]string{"revoked": k.Key})
	systest.Eventually(t, resyncBound, "the admin resyncs the empty Redis", func() bool { return epochOf(rdb) != "" })
	systest.Eventually(t, propagation, "revoked key refused after the resync", func() bool {
		return s.status(t, k.Key) == http.StatusUnauthorized
	})
	got := h.stop()
	t.Logf("answers while the link came back: %v", got["revoked"])
	onlyStatuses(t, "key revoked while Redis was empty", got["revoked"], http.StatusUnauthorized, http.StatusServiceUnavailable)
}
