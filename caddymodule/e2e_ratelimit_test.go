package caddymodule

import (
	"fmt"
	"net/http"
	"strconv"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/sagate/sagate/internal/testing/keytest"
)

// limitedCount is how many requests the rate limits refused so far
// (sagate_decisions_total{result="rate_limited"}).
func limitedCount() float64 {
	initMetrics()
	return testutil.ToFloat64(metrics.byResult[resultRateLimited])
}

// uniqueSuffix makes an account id unique to one run of a test: the rate limits'
// buckets outlive a test (-count).
func uniqueSuffix() string { return "-" + strconv.FormatInt(time.Now().UnixNano(), 36) }

// secondKey stores another live key of a's account, whose record carries the same
// account (and so the same limit).
func (s *store) secondKey(a *testAccount) *testAccount {
	s.t.Helper()
	b := &testAccount{key: keytest.New(s.t), rec: a.rec}
	b.rec.KeyID += "-2"
	s.put(b)
	return b
}

// setLimit rewrites the records of keys with the limit rps/burst (rps 0: none), as
// the admin does when an account's limit changes, one event per key in their order:
// a sidecar that shows the last key's new limit has applied the others'.
func (s *store) setLimit(rps float64, burst int64, keys ...*testAccount) {
	s.t.Helper()
	for _, k := range keys {
		k.rec.RPS, k.rec.Burst = rps, burst
		s.put(k)
	}
}

// TestCaddyRateLimit: the keys of one account share its limit's bucket; over it, a
// 429 with Retry-After in whole seconds and the module's JSON refusal, counted, never
// forwarded; other accounts are not affected; a new limit and a cleared one reach the
// sidecar through the records' events.
func TestCaddyRateLimit(t *testing.T) {
	st := newStore(t)
	up := newUpstream(t)
	sc := newSidecarURL(t)
	loadCaddy(t, globalOptions+fmt.Sprintf(`
%s {
	sagate %s {
		%s
	}
	reverse_proxy %s
}
`, sc.url, st.sidecarURL(), trustedAny(t), up.URL))

	free := st.newAccount("free", "ml-team", nil)
	k1 := st.newAccount("limited", "ml-team", nil)
	// One request per 100 s after a burst of 3: the test cannot refill it by being slow.
	// The buckets are the process's: an account id of this run's own.
	k1.rec.SAID += uniqueSuffix()
	k1.rec.RPS, k1.rec.Burst = 0.01, 3
	st.put(k1)
	k2 := st.secondKey(k1)

	// Lookups that fail (503) take nothing from the bucket, so waiting is safe.
	sc.waitStatus(t, "the first key", k1.key, http.StatusOK)
	sc.waitStatus(t, "the second key", k2.key, http.StatusOK)
	if a := sc.do(t, "/", "Bearer "+k1.key); a.status != http.StatusOK {
		t.Fatalf("third request of a burst of 3: %d %s", a.status, a.body)
	}
	before, forwarded := limitedCount(), up.count()
	for _, k := range []*testAccount{k2, k1} {
		a := sc.do(t, "/", "Bearer "+k.key)
		if a.status != http.StatusTooManyRequests || a.error != "rate_limited" {
			t.Fatalf("over the account's limit: %d %q %s", a.status, a.error, a.body)
		}
		if n, err := strconv.Atoi(a.header.Get("Retry-After")); err != nil || n < 90 || n > 100 {
			t.Errorf("Retry-After %q, want the seconds until one more request, about 100", a.header.Get("Retry-After"))
		}
		if a.www != "" || a.header.Get("Cache-Control") != "no-store" {
			t.Errorf("429 headers: WWW-Authenticate %q, Cache-Control %q", a.www, a.header.Get("Cache-Control"))
		}
	}
	if n := limitedCount() - before; n != 2 {
		t.Errorf(`sagate_decisions_total{result="rate_limited"} rose by %v, want 2`, n)
	}
	if up.count() != forwarded {
		t.Error("a request over the limit reached the upstream")
	}
	for range 20 {
		if a := sc.do(t, "/", "Bearer "+free.key); a.status != http.StatusOK {
			t.Fatalf("an account without a limit: %d", a.status)
		}
	}

	// A higher limit reaches the sidecar with the rewritten records.
	st.setLimit(1000, 1000, k2, k1)
	sc.waitStatus(t, "the raised limit", k1.key, http.StatusOK)
	for range 20 {
		if a := sc.do(t, "/", "Bearer "+k2.key); a.status != http.StatusOK {
			t.Fatalf("under the raised limit: %d", a.status)
		}
	}
	// A limit of one request per 100 s again, then none.
	st.setLimit(0.01, 1, k2, k1)
	sc.waitStatus(t, "the lowered limit", k1.key, http.StatusTooManyRequests)
	st.setLimit(0, 0, k2, k1)
	sc.waitStatus(t, "the cleared limit", k1.key, http.StatusOK)
	for range 20 {
		if a := sc.do(t, "/", "Bearer "+k2.key); a.status != http.StatusOK {
			t.Fatalf("with the limit cleared: %d", a.status)
		}
	}
}

// TestCaddyRateLimitShadow: in shadow mode a request over the limit is forwarded,
// marked as a would-be 429 in Sagate-Decision, counted, and given no identity.
func TestCaddyRateLimitShadow(t *testing.T) {
	st := newStore(t)
	up := newUpstream(t)
	sc := newSidecarURL(t)
	loadCaddy(t, globalOptions+fmt.Sprintf(`
%s {
	sagate %s {
		%s
		mode shadow
	}
	reverse_proxy %s
}
`, sc.url, st.sidecarURL(), trustedAny(t), up.URL))
	a := st.newAccount("shadowed", "ml-team", nil)
	a.rec.SAID += uniqueSuffix()
	a.rec.RPS, a.rec.Burst = 0.01, 1
	st.put(a)
	waitUntil(t, "the key allowed", func() bool {
		return sc.do(t, "/", "Bearer "+a.key).status == http.StatusOK && up.last(t).Get(DecisionHeader) == decisionAllow
	})
	before := shadowCount(reasonRateLimited)
	if got := sc.do(t, "/", "Bearer "+a.key); got.status != http.StatusOK {
		t.Fatalf("shadow mode over the limit: %d", got.status)
	}
	hdr := up.last(t)
	if d := hdr.Get(DecisionHeader); d != "refuse; status=429; reason=rate_limited" {
		t.Errorf("Sagate-Decision over the limit: %q", d)
	}
	if hdr.Get("X-Service-Account") != "" || hdr.Get("Authorization") != "" {
		t.Errorf("a would-be 429 got identity headers or the key: %v", hdr)
	}
	if n := shadowCount(reasonRateLimited) - before; n != 1 {
		t.Errorf(`sagate_shadow_refusals_total{reason="rate_limited"} rose by %v, want 1`, n)
	}
}
