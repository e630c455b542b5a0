package e2e

import (
	"fmt"
	"net/http"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/sagate/sagate/internal/testing/systest"
	"github.com/sagate/sagate/keystore"
	"github.com/sagate/sagate/keystore/wire"
)

// failoverBound is how soon after a failover a change must be answered right by
// every sidecar: a key revoked refused, a key issued allowed.
const failoverBound = time.Second

// haRedis is a Redis deployment with failover (Sentinel or Cluster) as the failover
// scenario drives it.
type haRedis struct {
	url string
	// onFailing reports whether the Redis key k lives on the primary that fail kills
	// (the one that holds the events stream); nil when every key does.
	onFailing func(k string) bool
	// fail kills (SIGKILL) the primary that holds the events stream.
	fail func()
	// recovered waits until a replica took over and returns a client of the server
	// that holds the events stream now.
	recovered func() *redis.Client
}

// failoverKeys are the keys of the scenario: used by the hammer (valid and revoked,
// each with its record on the failing primary and elsewhere when the deployment has
// elsewhere), late (valid, cached by every sidecar, revoked after the failover).
type failoverKeys struct {
	hammer map[string]string // name -> key
	late   issued
}

// runFailover is the failover scenario: an admin and three sidecars on r.url, the
// sidecars under load with valid, revoked and unknown keys while the primary holding
// the events stream is killed and a replica takes over. It asserts that no request got
// a wrong answer at any moment (never 200 for a revoked or unknown key, never 401 for a
// valid one: 503 allowed), that a key revoked right after the failover is refused and a
// key issued then is allowed by every sidecar within failoverBound, and that every
// sidecar follows the new primary's events without a restart.
func runFailover(t *testing.T, r haRedis) {
	a := startAdmin(t, r.url, filepath.Join(t.TempDir(), "sagate.db"))
	up := startUpstream(t)
	var sidecars []*sidecar
	for range 3 {
		sidecars = append(sidecars, startSidecar(t, r.url, up.srv.URL, ""))
	}
	keys := failoverSetup(t, a, sidecars, r)

	var hammers []*hammer
	for _, s := range sidecars {
		hammers = append(hammers, startHammer(s, keys.hammer))
	}
	time.Sleep(500 * time.Millisecond) // load before the fault
	killed := time.Now()
	r.fail()
	events := r.recovered()
	promoted := time.Since(killed)
	t.Logf("failover: a replica took over %v after the primary was killed", promoted.Round(time.Millisecond))

	// A key revoked and a key issued right after the failover.
	a.must(http.StatusNoContent, "DELETE", "/v1/workspaces/ha/service-accounts/late/keys/"+keys.late.ID, nil)
	revoked := time.Now()
	fresh := keyOf(t, a.must(http.StatusCreated, "POST", "/v1/workspaces/ha/service-accounts/late-new/keys", map[string]any{"name": "after"}))
	issuedAt := time.Now()
	refusedIn := untilEvery(sidecars, keys.late.Key, http.StatusUnauthorized, revoked, 10*time.Second)
	allowedIn := untilEvery(sidecars, fresh.Key, http.StatusOK, issuedAt, 10*time.Second)
	t.Logf("failover: key revoked right after it refused by the 3 sidecars after %v; key issued right after it allowed after %v", refusedIn, allowedIn)
	for i, d := range refusedIn {
		if d > failoverBound {
			t.Errorf("sidecar %d refused the key revoked after the failover after %v, want within %v", i, d, failoverBound)
		}
	}
	for i, d := range allowedIn {
		if d > failoverBound {
			t.Errorf("sidecar %d allowed the key issued after the failover after %v, want within %v", i, d, failoverBound)
		}
	}

	// Every sidecar's events follower reads from the server that holds the stream now.
	systest.Eventually(t, 5*time.Second, "the 3 sidecars follow the events on the new primary", func() bool {
		return len(followerIDs(t, events)) >= len(sidecars)
	})
	time.Sleep(500 * time.Millisecond) // load after recovery
	for i, h := range hammers {
		for name, counts := range h.stop() {
			what := fmt.Sprintf("sidecar %d, %s key", i, name)
			switch name[:len("valid")] {
			case "valid":
				onlyStatuses(t, what, counts, http.StatusOK, http.StatusServiceUnavailable)
			default: // revok..., unkno...
				onlyStatuses(t, what, counts, http.StatusUnauthorized, http.StatusServiceUnavailable)
			}
			if counts[http.StatusServiceUnavailable] > 0 {
				t.Logf("%s: %v", what, counts)
			}
		}
	}
}

// failoverSetup creates workspace "ha" with the keys of the scenario and checks that
// every sidecar answers them right before the fault.
func failoverSetup(t *testing.T, a *admin, sidecars []*sidecar, r haRedis) failoverKeys {
	t.Helper()
	a.must(http.StatusCreated, "POST", "/v1/workspaces", map[string]any{"name": "ha", "max_service_accounts": 100})
	k := failoverKeys{hammer: map[string]string{}}
	// Keys until there are valid and revoked ones on the failing primary and, when
	// the deployment has other primaries, elsewhere (at most 60 tries: with three
	// primaries, a key lands on each one in three).
	want := map[string]bool{"valid-on": true, "revoked-on": true}
	if r.onFailing != nil {
		want["valid-off"], want["revoked-off"] = true, true
	}
	for i := 0; len(want) > 0 && i < 60; i++ {
		name := fmt.Sprintf("sa%d", i)
		key := a.newAccount("ha", name, "")
		where := "on"
		if r.onFailing != nil && !r.onFailing(wire.RedisKey(keystore.HashKey(key.Key))) {
			where = "off"
		}
		role := "valid-" + where
		if !want[role] {
			role = "revoked-" + where
		}
		if !want[role] {
			continue
		}
		delete(want, role)
		if role[0] == 'r' {
			a.must(http.StatusNoContent, "DELETE", "/v1/workspaces/ha/service-accounts/"+name+"/keys/"+key.ID, nil)
		}
		k.hammer[role] = key.Key
	}
	if len(want) > 0 {
		t.Fatalf("no key record for %v in 60 tries", want)
	}
	k.hammer["unknown-1"], k.hammer["unknown-2"] = unknownKey(t), unknownKey(t)
	k.late = a.newAccount("ha", "late", "")
	a.newAccount("ha", "late-new", "")
	for i, s := range sidecars {
		systest.Eventually(t, propagation, fmt.Sprintf("sidecar %d answers every key right", i), func() bool {
			for name, key := range k.hammer {
				want := http.StatusUnauthorized
				if name[0] == 'v' {
					want = http.StatusOK
				}
				if s.status(t, key) != want {
					return false
				}
			}
			return s.status(t, k.late.Key) == http.StatusOK
		})
	}
	return k
}

// untilEvery polls every sidecar with key until it answers want, and returns for
// each how long after since that was (limit when it never did).
func untilEvery(sidecars []*sidecar, key string, want int, since time.Time, limit time.Duration) []time.Duration {
	out := make([]time.Duration, len(sidecars))
	var wg sync.WaitGroup
	client := &http.Client{Timeout: limit}
	for i, s := range sidecars {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for time.Since(since) < limit {
				req, _ := http.NewRequest(http.MethodGet, s.url+"/resource", nil)
				req.Header.Set("Authorization", "Bearer "+key)
				if resp, err := client.Do(req); err == nil {
					resp.Body.Close()
					if resp.StatusCode == want {
						out[i] = time.Since(since).Round(time.Millisecond)
						return
					}
				}
				time.Sleep(5 * time.Millisecond)
			}
			out[i] = limit
		}()
	}
	wg.Wait()
	return out
}
