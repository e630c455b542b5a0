package main

import (
	"strings"
	"testing"

	"github.com/sagate/sagate/admin/admintest"
	"github.com/sagate/sagate/keystore"
)

// TestCLIRateLimit: sa update --rate-limit sets RPS/BURST or RPS (burst by default),
// none clears it, sa show and -o json show it, and a malformed value is a usage error.
func TestCLIRateLimit(t *testing.T) {
	e := admintest.Start(t, admintest.Options{})
	ok(t, e, "", "workspace", "create", "ml")
	ok(t, e, "ml", "sa", "create", "etl")
	if r := ok(t, e, "ml", "sa", "show", "etl"); !strings.Contains(r.stdout, "Rate limit: none") {
		t.Fatalf("sa show of an unlimited account: %s", r.stdout)
	}
	sa := okJSON[keystore.ServiceAccount](t, e, "ml", "sa", "update", "etl", "--rate-limit", "2.5/10")
	if sa.RateLimit == nil || *sa.RateLimit != (keystore.RateLimit{RPS: 2.5, Burst: 10}) {
		t.Fatalf("sa update --rate-limit 2.5/10: %+v", sa.RateLimit)
	}
	if r := ok(t, e, "ml", "sa", "show", "etl"); !strings.Contains(r.stdout, "Rate limit: 2.5 requests/s, burst 10, per sidecar") {
		t.Fatalf("sa show of a limited account: %s", r.stdout)
	}
	v := okJSON[accountView](t, e, "ml", "sa", "show", "etl")
	if v.ServiceAccount.RateLimit == nil || v.ServiceAccount.RateLimit.Burst != 10 {
		t.Fatalf("sa show -o json: %+v", v.ServiceAccount)
	}
	sa = okJSON[keystore.ServiceAccount](t, e, "ml", "sa", "update", "etl", "--rate-limit", "7")
	if sa.RateLimit == nil || *sa.RateLimit != (keystore.RateLimit{RPS: 7, Burst: 7}) {
		t.Fatalf("sa update --rate-limit 7: %+v", sa.RateLimit)
	}
	sa = okJSON[keystore.ServiceAccount](t, e, "ml", "sa", "update", "etl", "--description", "nightly")
	if sa.RateLimit == nil || sa.Description != "nightly" {
		t.Fatalf("sa update --description changed the limit: %+v", sa)
	}
	sa = okJSON[keystore.ServiceAccount](t, e, "ml", "sa", "update", "etl", "--rate-limit", "none")
	if sa.RateLimit != nil {
		t.Fatalf("sa update --rate-limit none: %+v", sa.RateLimit)
	}
	for _, bad := range []string{"", "fast", "10/", "10/2.5", "/5"} {
		failingWith(t, e, 2, "ml", "--rate-limit", "sa", "update", "etl", "--rate-limit", bad)
	}
	// Bounds are the admin's: its refusal names the field.
	failing(t, e, "ml", "rate_limit.rps", "sa", "update", "etl", "--rate-limit", "0")
	failing(t, e, "ml", "rate_limit.burst", "sa", "update", "etl", "--rate-limit", "1/-1")
}
