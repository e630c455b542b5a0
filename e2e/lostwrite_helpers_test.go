package e2e

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/sagate/sagate/internal/testing/keytest"
	"github.com/sagate/sagate/internal/testing/systest"
	"github.com/sagate/sagate/keystore/wire"
)

// answer is one status a sidecar gave, and when.
type answer struct {
	at     time.Time
	status int // 0: the request failed
}

// recorder asks one sidecar about one key in a loop until stop and keeps every
// answer in order. It never calls t from its goroutine.
type recorder struct {
	cancel context.CancelFunc
	done   chan struct{}
	mu     sync.Mutex
	got    []answer
}

// record starts a recorder of s's answers for key.
func record(s *sidecar, key string) *recorder {
	ctx, cancel := context.WithCancel(context.Background())
	r := &recorder{cancel: cancel, done: make(chan struct{})}
	client := &http.Client{Timeout: 5 * time.Second}
	go func() {
		defer close(r.done)
		for ctx.Err() == nil {
			req, _ := http.NewRequestWithContext(ctx, http.MethodGet, s.url+"/lost", nil)
			req.Header.Set("Authorization", "Bearer "+key)
			status := 0
			if resp, err := client.Do(req); err == nil {
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				status = resp.StatusCode
			} else if ctx.Err() != nil {
				return
			}
			r.mu.Lock()
			r.got = append(r.got, answer{at: time.Now(), status: status})
			r.mu.Unlock()
			time.Sleep(5 * time.Millisecond)
		}
	}()
	return r
}

// last returns the latest answer (status 0 when none yet).
func (r *recorder) last() answer {
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.got) == 0 {
		return answer{}
	}
	return r.got[len(r.got)-1]
}

// stop ends the recorder and returns its answers (again on a second call).
func (r *recorder) stop() []answer {
	r.cancel()
	<-r.done
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.got
}

// settled checks a sidecar's answers for a key whose right answer is want and whose
// wrong one, wrong, is allowed only before the first right one (503, "cannot tell",
// is allowed throughout). It returns when the answers settled on want: the first
// right answer after the last other one.
func settled(t testing.TB, what string, got []answer, want, wrong int) time.Time {
	t.Helper()
	var firstRight, lastOther time.Time
	for _, a := range got {
		switch {
		case a.status == want:
			if firstRight.IsZero() {
				firstRight = a.at
			}
		case a.status == wrong && !firstRight.IsZero():
			t.Errorf("%s: answered %d at %s after it had answered %d at %s", what, wrong,
				a.at.Format("15:04:05.000"), want, firstRight.Format("15:04:05.000"))
		case a.status != wrong && a.status != http.StatusServiceUnavailable:
			t.Errorf("%s: answered %d at %s", what, a.status, a.at.Format("15:04:05.000"))
		}
		if a.status != want {
			lastOther = a.at
		}
	}
	if len(got) == 0 || got[len(got)-1].status != want {
		t.Errorf("%s: never settled on %d", what, want)
		return time.Time{}
	}
	for _, a := range got {
		if a.at.After(lastOther) {
			return a.at
		}
	}
	return time.Time{}
}

// redisRev returns the verified revision marker c holds (-1 when missing or unreadable).
func redisRev(t testing.TB, c *redis.Client) int64 {
	t.Helper()
	return markerRev(t, c, wire.RedisRev)
}

// markerRev returns the verified revision of the marker key (sagate:rev or a shard
// marker) that c holds (-1 when missing or unreadable).
func markerRev(t testing.TB, c *redis.Client, key string) int64 {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	v, err := c.Get(ctx, key).Result()
	if errors.Is(err, redis.Nil) || err != nil {
		return -1
	}
	ver := wire.NewVerifier(keytest.SigningKey(t).Public())
	var rev int64
	if key == wire.RedisRev {
		rev, err = wire.OpenRev(ver, v)
	} else {
		rev, err = wire.OpenShardRev(ver, key, v)
	}
	if err != nil {
		t.Fatalf("the revision marker %s does not verify: %v", key, err)
	}
	return rev
}

// since is d rounded for logs, or "before" when d is not positive.
func since(d time.Duration) string {
	if d <= 0 {
		return "already before"
	}
	return fmt.Sprint(d.Round(time.Millisecond))
}

// statusCounts counts the answers by status.
func statusCounts(got []answer) map[int]int {
	n := map[int]int{}
	for _, a := range got {
		n[a.status]++
	}
	return n
}

// checkLostWrite waits until every sidecar answers the lost changes right, then checks
// each one's answers since the fault: recs holds, per sidecar, the recorders of the key
// revoked and seen before the kill ("seen"; absent for the sidecar started during the
// failover, which comes last), the key revoked just before the kill ("unseen") and the
// key issued just before it ("fresh"). The keys revoked must settle on 401 and the key
// issued on 200 within lostWriteBound of promoted, and "seen" must never be allowed
// again. It returns when the last sidecar settled on each, and how the sidecar started
// during the failover answered the key revoked just before the kill, by status.
func checkLostWrite(t *testing.T, recs []map[string]*recorder, promoted time.Time) (refusedBy, allowedBy time.Duration, coldRevoked map[int]int) {
	t.Helper()
	systest.Eventually(t, lostWriteBound, "every sidecar answers the lost changes right", func() bool {
		for _, r := range recs {
			if (r["seen"] != nil && r["seen"].last().status != http.StatusUnauthorized) || r["unseen"].last().status != http.StatusUnauthorized ||
				r["fresh"].last().status != http.StatusOK {
				return false
			}
		}
		return true
	})
	time.Sleep(300 * time.Millisecond) // answers after the repair
	for i, r := range recs {
		if i == len(recs)-1 {
			coldRevoked = statusCounts(r["unseen"].stop())
			t.Logf("lost write: the sidecar started during the failover answered the key revoked %v, the key issued %v", coldRevoked, statusCounts(r["fresh"].stop()))
		}
		if r["seen"] != nil {
			settled(t, fmt.Sprintf("sidecar %d, key revoked and seen before the kill", i), r["seen"].stop(), http.StatusUnauthorized, http.StatusOK)
		}
		refused := settled(t, fmt.Sprintf("sidecar %d, key revoked just before the kill", i), r["unseen"].stop(), http.StatusUnauthorized, http.StatusOK).Sub(promoted)
		allowed := settled(t, fmt.Sprintf("sidecar %d, key issued just before the kill", i), r["fresh"].stop(), http.StatusOK, http.StatusUnauthorized).Sub(promoted)
		for what, d := range map[string]time.Duration{"refused the key revoked": refused, "allowed the key issued": allowed} {
			if d > lostWriteBound {
				t.Errorf("sidecar %d %s just before the kill %v after the promotion, want within %v", i, what, d, lostWriteBound)
			}
		}
		refusedBy, allowedBy = max(refusedBy, refused), max(allowedBy, allowed)
	}
	return refusedBy, allowedBy, coldRevoked
}
