package e2e

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sagate/sagate/internal/testing/history"
	"github.com/sagate/sagate/internal/testing/pgtest"
	"github.com/sagate/sagate/internal/testing/systest"
)

// Bounds of the chaos check.
const (
	// chaosGrace is how long after an acknowledged change ("Sagate-Sync: applied") a
	// sidecar may still act on the value before it. CHAOS_GRACE overrides it.
	chaosGrace = time.Second
	// chaosPendingGrace is the same for a change acknowledged "pending" (committed,
	// not yet known to be in Redis): the admins' outbox check re-applies it.
	chaosPendingGrace = 10 * time.Second
	// chaosSettle bounds how long after the last fault every sidecar must answer every
	// key right again.
	chaosSettle = 30 * time.Second
	// chaosChangeEvery is the mean time between two changes (about six a second).
	chaosChangeEvery = 160 * time.Millisecond
	chaosWorkspace   = "chaos"
	chaosProject     = "p1"
)

// chaosFault is one kind of fault: do runs it in the test's goroutine (it may wait for
// the topology to recover) with the run's random source.
type chaosFault struct {
	name string
	do   func(w *chaosWorld, rng *rand.Rand)
}

// chaosAcct is a service account and the history of its role on chaosProject ("": none).
type chaosAcct struct {
	name string
	role *history.History[string]
}

// chaosKey is an issued key and the history of its liveness.
type chaosKey struct {
	id, secret string
	acct       *chaosAcct
	live       *history.History[bool]
}

// chaosAnswer is one answer of a sidecar.
type chaosAnswer struct {
	key       *chaosKey
	sidecar   int
	sent, got time.Time
	status    int
	role      string // the role the upstream was told, on a 200
}

// chaosEvent is a line of the run's timeline: a fault or a change.
type chaosEvent struct {
	at   time.Time
	what string
}

// chaosWorld is one chaos run: its parts, what the admins acknowledged, the answers.
type chaosWorld struct {
	t        *testing.T
	admins   []*admin
	sidecars []*sidecar
	grace    time.Duration

	mu      sync.Mutex // guards what follows
	accts   []*chaosAcct
	keys    []*chaosKey
	answers []chaosAnswer
	events  []chaosEvent
	unknown int // changes whose answer was lost (an admin killed meanwhile)
}

// chaosSettings reads CHAOS_SEED (default: the time), CHAOS_DURATION (default 20s) and
// CHAOS_GRACE (default chaosGrace).
func chaosSettings(t *testing.T) (seed uint64, dur, grace time.Duration) {
	seed, dur, grace = uint64(time.Now().UnixNano()), 20*time.Second, chaosGrace
	if v := os.Getenv("CHAOS_SEED"); v != "" {
		n, err := strconv.ParseUint(v, 10, 64)
		if err != nil {
			t.Fatalf("CHAOS_SEED: %v", err)
		}
		seed = n
	}
	for _, d := range []struct {
		env string
		v   *time.Duration
	}{{"CHAOS_DURATION", &dur}, {"CHAOS_GRACE", &grace}} {
		if v := os.Getenv(d.env); v != "" {
			x, err := time.ParseDuration(v)
			if err != nil {
				t.Fatalf("%s: %v", d.env, err)
			}
			*d.v = x
		}
	}
	return seed, dur, grace
}

// runChaos starts two admins on one PostgreSQL and two sidecars on redisURL, sends
// traffic and changes, and runs faults (topology's and the processes') until the
// duration is over; then every sidecar must answer every key right within chaosSettle,
// and every answer must have been right (chaosWorld.judge).
func runChaos(t *testing.T, redisURL string, topology []chaosFault) {
	seed, dur, grace := chaosSettings(t)
	t.Logf("chaos: seed %d (CHAOS_SEED=%d replays it), duration %v, grace %v (pending: +%v)", seed, seed, dur, grace, chaosPendingGrace)
	rng := rand.New(rand.NewPCG(seed, 1))
	db := pgtest.Start(t)
	w := &chaosWorld{t: t, grace: grace}
	w.admins = []*admin{startAdminOn(t, redisURL, db), startAdminOn(t, redisURL, db)}
	up := httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		rw.Header().Set("Echo-Role", r.Header.Get("X-Project-Role"))
		_, _ = io.WriteString(rw, "ok")
	}))
	t.Cleanup(up.Close)
	opts := "project {http.request.header.X-Project}\n\t\tmin_role viewer"
	w.sidecars = []*sidecar{startSidecar(t, redisURL, up.URL, opts), startSidecar(t, redisURL, up.URL, opts)}
	w.setup(rng)

	stop := make(chan struct{})
	var wg sync.WaitGroup
	mut := rand.New(rand.NewPCG(seed, 2))
	wg.Go(func() { w.mutate(stop, mut) })
	for i := range w.sidecars {
		for j := range 2 {
			lr := rand.New(rand.NewPCG(seed, uint64(10+2*i+j)))
			wg.Go(func() { w.load(stop, i, lr) })
		}
	}
	faults := append(topology,
		chaosFault{"admin killed -9", func(w *chaosWorld, rng *rand.Rand) {
			a := w.admins[rng.IntN(len(w.admins))]
			a.proc.Kill()
			w.sleep(rng, 500*time.Millisecond, 3*time.Second)
			a.proc.Start()
		}},
		chaosFault{"sidecar killed -9", func(w *chaosWorld, rng *rand.Rand) {
			s := w.sidecars[rng.IntN(len(w.sidecars))]
			s.proc.Kill()
			w.sleep(rng, 500*time.Millisecond, 2*time.Second)
			s.proc.Start()
		}})
	end := time.Now().Add(dur)
	for time.Now().Before(end) {
		w.sleep(rng, 2*time.Second, 5*time.Second)
		f := faults[rng.IntN(len(faults))]
		w.note("fault: " + f.name)
		f.do(w, rng)
		w.note("fault over: " + f.name)
	}
	close(stop)
	wg.Wait()
	w.settle()
	w.judge()
}

// sleep waits a random time in [lo, hi).
func (w *chaosWorld) sleep(rng *rand.Rand, lo, hi time.Duration) {
	time.Sleep(lo + time.Duration(rng.Int64N(int64(hi-lo)+1)))
}

// note adds a line to the timeline.
func (w *chaosWorld) note(what string) {
	w.mu.Lock()
	w.events = append(w.events, chaosEvent{at: time.Now(), what: what})
	w.mu.Unlock()
}

// setup creates the workspace and eight accounts with a role and a key each.
func (w *chaosWorld) setup(rng *rand.Rand) {
	a := w.admins[0]
	a.must(http.StatusCreated, "POST", "/v1/workspaces", map[string]any{"name": chaosWorkspace, "max_service_accounts": 100})
	for i := range 8 {
		acct := &chaosAcct{name: fmt.Sprintf("sa%d", i)}
		k := keyOf(w.t, a.must(http.StatusCreated, "POST", "/v1/workspaces/"+chaosWorkspace+"/service-accounts",
			map[string]any{"name": acct.name})["api_key"])
		role := chaosRoles[rng.IntN(3)]
		a.must(http.StatusOK, "PUT", "/v1/workspaces/"+chaosWorkspace+"/projects/"+chaosProject+"/service-accounts/"+acct.name,
			map[string]any{"role": role})
		acct.role = history.New(role)
		w.accts = append(w.accts, acct)
		w.keys = append(w.keys, &chaosKey{id: k.ID, secret: k.Key, acct: acct, live: history.New(true)})
	}
	for i, s := range w.sidecars {
		for _, k := range w.keys {
			systest.Eventually(w.t, propagation, fmt.Sprintf("sidecar %d allows the first keys", i), func() bool {
				return chaosStatus(s, k.secret) == http.StatusOK
			})
		}
	}
}

// chaosRoles are the roles changes set; "" removes the grant (the sidecar answers 403).
var chaosRoles = []string{"viewer", "contributor", "owner", ""}

// chaosCall sends one admin API request without failing the test (it runs off the
// test's goroutine, and the admin may be down); sync is the Sagate-Sync header.
func chaosCall(a *admin, method, path string, body any) (code int, out map[string]any, sync string, err error) {
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, _ := http.NewRequest(method, a.url+path, rd)
	req.Header.Set("Authorization", "Bearer "+adminToken)
	req.Header.Set("Content-Type", "application/json")
	resp, err := (&http.Client{Timeout: 20 * time.Second}).Do(req)
	if err != nil {
		return 0, nil, "", err
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	_ = json.Unmarshal(raw, &out)
	return resp.StatusCode, out, resp.Header.Get("Sagate-Sync"), nil
}

// mutate sends changes to a random admin until stop: a new key (3 in 10), a revocation
// (3 in 10), a new role (4 in 10).
func (w *chaosWorld) mutate(stop <-chan struct{}, rng *rand.Rand) {
	for {
		select {
		case <-stop:
			return
		case <-time.After(time.Duration(rng.Int64N(int64(2 * chaosChangeEvery)))):
		}
		a := w.admins[rng.IntN(len(w.admins))]
		w.mu.Lock()
		acct := w.accts[rng.IntN(len(w.accts))]
		w.mu.Unlock()
		base := "/v1/workspaces/" + chaosWorkspace + "/service-accounts/" + acct.name
		switch n := rng.IntN(10); {
		case n < 3:
			sent := time.Now()
			code, out, sync, err := chaosCall(a, "POST", base+"/keys", map[string]any{})
			if err != nil || code != http.StatusCreated {
				w.lost("issue", err, code)
				continue
			}
			id, _ := out["id"].(string)
			secret, _ := out["key"].(string)
			live := history.New(false)
			w.mu.Lock()
			live.AckWithin(live.Change(true, sent), time.Now(), pendingExtra(sync))
			w.keys = append(w.keys, &chaosKey{id: id, secret: secret, acct: acct, live: live})
			w.mu.Unlock()
		case n < 6:
			w.mu.Lock()
			var k *chaosKey
			for _, c := range w.keys {
				if c.acct == acct && c.live.Last() {
					k = c
				}
			}
			if k == nil {
				w.mu.Unlock()
				continue
			}
			i := k.live.Change(false, time.Now())
			w.mu.Unlock()
			code, _, sync, err := chaosCall(a, "DELETE", base+"/keys/"+k.id, nil)
			if err != nil || code != http.StatusNoContent {
				w.lost("revoke", err, code)
				continue
			}
			w.mu.Lock()
			k.live.AckWithin(i, time.Now(), pendingExtra(sync))
			w.mu.Unlock()
		default:
			w.mu.Lock()
			next := chaosRoles[rng.IntN(len(chaosRoles))]
			if next == acct.role.Last() {
				w.mu.Unlock()
				continue
			}
			i := acct.role.Change(next, time.Now())
			w.mu.Unlock()
			path := "/v1/workspaces/" + chaosWorkspace + "/projects/" + chaosProject + "/service-accounts/" + acct.name
			method, body, want := "PUT", any(map[string]any{"role": next}), http.StatusOK
			if next == "" {
				method, body, want = "DELETE", nil, http.StatusNoContent
			}
			code, _, sync, err := chaosCall(a, method, path, body)
			if err != nil || code != want {
				w.lost("re-role", err, code)
				continue
			}
			w.mu.Lock()
			acct.role.AckWithin(i, time.Now(), pendingExtra(sync))
			w.mu.Unlock()
		}
	}
}

// pendingExtra is the allowance of a change acknowledged with the Sagate-Sync header sync.
func pendingExtra(sync string) time.Duration {
	if sync == "applied" {
		return 0
	}
	return chaosPendingGrace
}

// lost counts a change whose answer never came (or was an error): it stays possible
// for ever, as it may or may not have been committed.
func (w *chaosWorld) lost(what string, err error, code int) {
	w.mu.Lock()
	w.unknown++
	w.mu.Unlock()
	w.note(fmt.Sprintf("change %s unanswered (status %d, %v)", what, code, err))
}

// load asks sidecar i about random keys until stop and keeps every answer.
func (w *chaosWorld) load(stop <-chan struct{}, i int, rng *rand.Rand) {
	client := &http.Client{Timeout: 5 * time.Second}
	s := w.sidecars[i]
	for {
		select {
		case <-stop:
			return
		default:
		}
		w.mu.Lock()
		k := w.keys[max(0, len(w.keys)-40)+rng.IntN(min(40, len(w.keys)))]
		w.mu.Unlock()
		req, _ := http.NewRequest("GET", s.url+"/chaos", nil)
		req.Header.Set("Authorization", "Bearer "+k.secret)
		req.Header.Set("X-Project", chaosProject)
		sent := time.Now()
		resp, err := client.Do(req)
		if err != nil {
			time.Sleep(50 * time.Millisecond) // the sidecar is down
			continue
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		a := chaosAnswer{key: k, sidecar: i, sent: sent, got: time.Now(), status: resp.StatusCode, role: resp.Header.Get("Echo-Role")}
		w.mu.Lock()
		w.answers = append(w.answers, a)
		w.mu.Unlock()
		time.Sleep(2 * time.Millisecond)
	}
}

// expect is the right answer for a key that is live or not with role ("": no grant).
func expect(live bool, role string) int {
	switch {
	case !live:
		return http.StatusUnauthorized
	case role == "":
		return http.StatusForbidden
	}
	return http.StatusOK
}

// verdict says whether a is right: 503 always is ("cannot tell"); else the status must
// be one a value possible then gives, and a 200 must carry a role possible then.
func (w *chaosWorld) verdict(a chaosAnswer) bool {
	if a.status == http.StatusServiceUnavailable {
		return true
	}
	lives := a.key.live.Possible(a.sent, a.got, w.grace)
	roles := a.key.acct.role.Possible(a.sent, a.got, w.grace)
	for _, l := range lives {
		for _, r := range roles {
			if expect(l, r) == a.status && (a.status != http.StatusOK || r == a.role) {
				return true
			}
		}
	}
	return false
}

// settle waits until every sidecar answers every key right (within chaosSettle of the
// last fault), unless its last change is unknown.
func (w *chaosWorld) settle() {
	w.mu.Lock()
	keys := append([]*chaosKey(nil), w.keys...)
	w.mu.Unlock()
	deadline := time.Now().Add(chaosSettle)
	for i, s := range w.sidecars {
		for _, k := range keys {
			if !k.live.Acked() || !k.acct.role.Acked() {
				continue // a change whose answer was lost: either value may be right
			}
			want := expect(k.live.Last(), k.acct.role.Last())
			var got int
			for {
				got = chaosStatus(s, k.secret)
				if got == want || time.Now().After(deadline) {
					break
				}
				time.Sleep(50 * time.Millisecond)
			}
			if got != want {
				w.t.Errorf("chaos: %v after the last fault, sidecar %d answers key %s %d, want %d", chaosSettle, i, k.id, got, want)
			}
		}
	}
}

// judge checks every answer, logs the timeline and any wrong answer with the history
// of its key and account, and fails the test on any.
func (w *chaosWorld) judge() {
	w.mu.Lock()
	defer w.mu.Unlock()
	var wrong []chaosAnswer
	statuses := map[int]int{}
	for _, a := range w.answers {
		statuses[a.status]++
		if !w.verdict(a) {
			wrong = append(wrong, a)
		}
	}
	var tl strings.Builder
	for _, e := range w.events {
		if strings.HasPrefix(e.what, "fault") {
			fmt.Fprintf(&tl, "\n  %s %s", e.at.Format("15:04:05.000"), e.what)
		}
	}
	w.t.Logf("chaos: %d answers %v, %d keys, %d changes unanswered, %d wrong; faults:%s",
		len(w.answers), statuses, len(w.keys), w.unknown, len(wrong), tl.String())
	for i, a := range wrong {
		if i == 20 {
			w.t.Errorf("chaos: ... and %d more wrong answers", len(wrong)-i)
			break
		}
		w.t.Errorf("chaos: wrong answer: sidecar %d, key %s (account %s), sent %s, answered %s: %d role %q; key: %s; role: %s",
			a.sidecar, a.key.id, a.key.acct.name, a.sent.Format("15:04:05.000"), a.got.Format("15:04:05.000"), a.status, a.role,
			a.key.live, a.key.acct.role)
	}
}

// chaosStatus is a sidecar's answer for key on chaosProject (0: no answer; the sidecar
// may be starting again).
func chaosStatus(s *sidecar, key string) int {
	req, _ := http.NewRequest("GET", s.url+"/chaos", nil)
	req.Header.Set("Authorization", "Bearer "+key)
	req.Header.Set("X-Project", chaosProject)
	resp, err := (&http.Client{Timeout: 5 * time.Second}).Do(req)
	if err != nil {
		return 0
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode
}
