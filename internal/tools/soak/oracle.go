package main

import (
	"math"
	"net/http"
	"sync"
	"time"
)

// never is the end of a change that has not been acknowledged (or whose answer was
// lost): its old value may stay in effect for ever.
var never = time.Unix(math.MaxInt32, 0)

// history is the sequence of values one thing (a key's liveness, an account's role in a
// project) took through acknowledged admin changes. A value is "possible" at time t when
// the admin may have had it in effect at t, as a sidecar could see it: from the moment
// the change that set it was sent, until the change that replaced it was acknowledged
// plus the propagation window.
type history[T comparable] struct {
	vals  []T
	sent  []time.Time // sent[i]: when the change that set vals[i] was sent (vals[0]: zero)
	acked []time.Time // acked[i]: when that change was acknowledged (never: not yet)
}

func newHistory[T comparable](v T) *history[T] {
	return &history[T]{vals: []T{v}, sent: []time.Time{{}}, acked: []time.Time{{}}}
}

// change records a change to v sent at sent; it returns its index for ack.
func (h *history[T]) change(v T, sent time.Time) int {
	h.vals = append(h.vals, v)
	h.sent = append(h.sent, sent)
	h.acked = append(h.acked, never)
	return len(h.vals) - 1
}

// ack records when change i was acknowledged.
func (h *history[T]) ack(i int, at time.Time) { h.acked[i] = at }

// last is the value of the latest change.
func (h *history[T]) last() T { return h.vals[len(h.vals)-1] }

// possible returns the values that may have been in effect at some time in [from, to],
// with window the propagation allowance after an acknowledgement.
func (h *history[T]) possible(from, to time.Time, window time.Duration) []T {
	var out []T
	for j := range h.vals {
		start := h.sent[j]
		end := never
		if j+1 < len(h.vals) {
			if h.acked[j+1].Equal(never) {
				end = never
			} else {
				end = h.acked[j+1].Add(window)
			}
		}
		if !start.After(to) && !end.Before(from) && !contains(out, h.vals[j]) {
			out = append(out, h.vals[j])
		}
	}
	return out
}

func contains[T comparable](s []T, v T) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}

// Roles as the soak uses them: "" is no grant. Order: viewer < contributor < owner.
var roleRank = map[string]int{"": 0, "viewer": 1, "contributor": 2, "owner": 3}

// minRole is the sidecar's min_role in the soak's Caddyfile.
const minRole = "contributor"

// account is a service account the soak drives: its full name and its role per project.
type account struct {
	name, fullName string
	roles          map[string]*history[string] // project → role
}

// key is an issued key and the history of its liveness.
type key struct {
	id, secret string
	acct       *account
	live       *history[bool]
}

// oracle knows what the admin acknowledged and says which answers are right.
// Safe for concurrent use.
type oracle struct {
	mu     sync.Mutex
	window time.Duration
}

// verdict is the oracle's judgement of one answer.
type verdict struct {
	ok      bool
	allowed []int    // statuses that were right
	roles   []string // roles the upstream could rightly have been told (on a 200)
}

// judgeKey says whether status (and, on a 200, the role the upstream saw) is right for
// a request with k on project, sent at from and answered at to.
func (o *oracle) judgeKey(k *key, project string, from, to time.Time, status int, role string) verdict {
	o.mu.Lock()
	lives := k.live.possible(from, to, o.window)
	var roles []string
	if h := k.acct.roles[project]; h != nil {
		roles = h.possible(from, to, o.window)
	} else {
		roles = []string{""}
	}
	o.mu.Unlock()
	var v verdict
	for _, live := range lives {
		for _, r := range roles {
			want := expected(live, r)
			if !contains(v.allowed, want) {
				v.allowed = append(v.allowed, want)
			}
			if want == http.StatusOK && !contains(v.roles, r) {
				v.roles = append(v.roles, r)
			}
		}
	}
	v.ok = contains(v.allowed, status) && (status != http.StatusOK || contains(v.roles, role))
	return v
}

// expected is the sidecar's answer for a key that is live or not and a role ("" none).
func expected(live bool, role string) int {
	switch {
	case !live:
		return http.StatusUnauthorized
	case roleRank[role] < roleRank[minRole]:
		return http.StatusForbidden
	}
	return http.StatusOK
}

// change records a change sent now to a history guarded by the oracle; the returned
// func acknowledges it.
func oracleChange[T comparable](o *oracle, h *history[T], v T, sent time.Time) func(time.Time) {
	o.mu.Lock()
	i := h.change(v, sent)
	o.mu.Unlock()
	return func(at time.Time) {
		o.mu.Lock()
		h.ack(i, at)
		o.mu.Unlock()
	}
}
