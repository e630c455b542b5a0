package main

import (
	"net/http"
	"sync"
	"time"

	"github.com/sagate/sagate/internal/testing/history"
)

// Roles as the soak uses them: "" is no grant. Order: viewer < contributor < owner.
var roleRank = map[string]int{"": 0, "viewer": 1, "contributor": 2, "owner": 3}

// minRole is the sidecar's min_role in the soak's Caddyfile.
const minRole = "contributor"

// account is a service account the soak drives: its full name and its role per project.
type account struct {
	name, fullName string
	roles          map[string]*history.History[string] // project → role
}

// key is an issued key and the history of its liveness.
type key struct {
	id, secret string
	acct       *account
	live       *history.History[bool]
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
	lives := k.live.Possible(from, to, o.window)
	var roles []string
	if h := k.acct.roles[project]; h != nil {
		roles = h.Possible(from, to, o.window)
	} else {
		roles = []string{""}
	}
	o.mu.Unlock()
	var v verdict
	for _, live := range lives {
		for _, r := range roles {
			want := expected(live, r)
			if !history.Contains(v.allowed, want) {
				v.allowed = append(v.allowed, want)
			}
			if want == http.StatusOK && !history.Contains(v.roles, r) {
				v.roles = append(v.roles, r)
			}
		}
	}
	v.ok = history.Contains(v.allowed, status) && (status != http.StatusOK || history.Contains(v.roles, role))
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
func oracleChange[T comparable](o *oracle, h *history.History[T], v T, sent time.Time) func(time.Time) {
	o.mu.Lock()
	i := h.Change(v, sent)
	o.mu.Unlock()
	return func(at time.Time) {
		o.mu.Lock()
		h.Ack(i, at)
		o.mu.Unlock()
	}
}
