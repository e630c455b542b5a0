package e2e

import (
	"fmt"
	"net/http"
	"os"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/sagate/sagate/internal/testing/systest"
)

// groupSize is the number of accounts in the group of TestGroupGrantReachesEverySidecar;
// SAGATE_GROUP_SIZE overrides it (the measurement in BENCHMARKS.md uses 1000).
func groupSize(t *testing.T) int {
	n := 1000
	if s := os.Getenv("SAGATE_GROUP_SIZE"); s != "" {
		v, err := strconv.Atoi(s)
		if err != nil || v < 1 {
			t.Fatalf("SAGATE_GROUP_SIZE=%q", s)
		}
		n = v
	}
	return n
}

// TestGroupGrantReachesEverySidecar: a group of many accounts is given owner on a project;
// every member's key becomes owner there at each of three sidecars, and stops being one
// when the grant goes. It logs how long after the admin's call every sidecar agreed.
func TestGroupGrantReachesEverySidecar(t *testing.T) {
	e := newEnv(t)
	n := groupSize(t)
	e.admin.must(http.StatusCreated, "POST", "/v1/workspaces", map[string]any{"name": "big", "max_service_accounts": n})
	e.admin.must(http.StatusCreated, "POST", "/v1/workspaces/big/groups", map[string]any{"name": "everyone"})
	keys := make([]string, n)
	var wg sync.WaitGroup
	work := make(chan int)
	for range 8 {
		wg.Go(func() {
			for i := range work {
				name := fmt.Sprintf("bot-%04d", i)
				keys[i] = e.admin.newAccount("big", name, "").Key
				e.admin.must(http.StatusCreated, "PUT", "/v1/workspaces/big/groups/everyone/members/sa:"+name, nil)
			}
		})
	}
	for i := range n {
		work <- i
	}
	close(work)
	wg.Wait()

	const opts = "project {http.request.header.X-Project}\n\t\tmin_role owner"
	sidecars := []*sidecar{
		startSidecar(t, e.redis.URL(), e.up.srv.URL, opts),
		startSidecar(t, e.redis.URL(), e.up.srv.URL, opts),
		startSidecar(t, e.redis.URL(), e.up.srv.URL, opts),
	}
	every := func(want int) func() bool { // every key at every sidecar answers want
		return func() bool {
			for _, s := range sidecars {
				for _, k := range keys {
					if s.status(t, k, "X-Project", "vision") != want {
						return false
					}
				}
			}
			return true
		}
	}
	if !every(http.StatusForbidden)() { // cached everywhere, not owner yet
		t.Fatal("a member is owner of vision before the group's grant")
	}

	agreed := func(what string, want int) {
		t.Helper()
		start := time.Now()
		method, body := "PUT", map[string]any{"role": "owner"}
		if want == http.StatusForbidden {
			method, body = "DELETE", nil
		}
		status := http.StatusOK
		if method == "DELETE" {
			status = http.StatusNoContent
		}
		e.admin.must(status, method, "/v1/workspaces/big/projects/vision/groups/everyone", body)
		answered := time.Since(start)
		// The first and last members' keys at every sidecar, polled together: one event
		// carries the change of all of them.
		var last time.Duration
		var mu sync.Mutex
		var pw sync.WaitGroup
		for _, s := range sidecars {
			for _, k := range []string{keys[0], keys[n/2], keys[n-1]} {
				pw.Go(func() {
					systest.Eventually(t, 30*time.Second, what+" at a sidecar", func() bool {
						return s.status(t, k, "X-Project", "vision") == want
					})
					mu.Lock()
					last = max(last, time.Since(start))
					mu.Unlock()
				})
			}
		}
		pw.Wait()
		systest.Eventually(t, 30*time.Second, what+": every key at every sidecar", every(want))
		t.Logf("%s, %d members, 3 sidecars: admin answered in %v; every sidecar agreed %v after the call",
			what, n, answered.Round(time.Millisecond), last.Round(time.Millisecond))
	}
	agreed("group made owner", http.StatusOK)
	agreed("group's grant removed", http.StatusForbidden)
}
