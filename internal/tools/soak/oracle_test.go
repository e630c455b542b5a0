package main

import (
	"net/http"
	"testing"
	"time"

	"github.com/sagate/sagate/internal/testing/history"
)

func TestJudgeKey(t *testing.T) {
	t0 := time.Unix(1000, 0)
	o := &oracle{window: time.Second}
	acct := &account{name: "a", roles: map[string]*history.History[string]{"p1": history.New("contributor"), "p2": history.New("viewer")}}
	k := &key{id: "key_1", acct: acct, live: history.New(true)}
	tests := []struct {
		name    string
		project string
		status  int
		role    string
		ok      bool
	}{
		{"allowed with the right role", "p1", 200, "contributor", true},
		{"allowed but the upstream saw another role", "p1", 200, "owner", false},
		{"refused although allowed", "p1", 401, "", false},
		{"role below min_role refused", "p2", 403, "", true},
		{"role below min_role allowed", "p2", 200, "viewer", false},
		{"no grant refused", "p3", 403, "", true},
		{"no grant allowed", "p3", 200, "", false},
		{"unavailable is not a decision the oracle allows", "p1", 503, "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if v := o.judgeKey(k, tt.project, t0, t0, tt.status, tt.role); v.ok != tt.ok {
				t.Fatalf("ok = %v, want %v (allowed %v, roles %v)", v.ok, tt.ok, v.allowed, v.roles)
			}
		})
	}

	// A revocation: both answers are right inside the window, only 401 after it.
	ack := oracleChange(o, k.live, false, t0.Add(time.Second))
	ack(t0.Add(2 * time.Second))
	if v := o.judgeKey(k, "p1", t0.Add(2500*time.Millisecond), t0.Add(2600*time.Millisecond), http.StatusOK, "contributor"); !v.ok {
		t.Fatalf("200 inside the propagation window judged wrong: %v", v.allowed)
	}
	if v := o.judgeKey(k, "p1", t0.Add(4*time.Second), t0.Add(4*time.Second), http.StatusOK, "contributor"); v.ok {
		t.Fatal("200 after the propagation window judged right")
	}
	if v := o.judgeKey(k, "p1", t0.Add(4*time.Second), t0.Add(4*time.Second), http.StatusUnauthorized, ""); !v.ok {
		t.Fatal("401 after the revocation judged wrong")
	}
}
