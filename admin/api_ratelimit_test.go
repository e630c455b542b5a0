package admin_test

import (
	"context"
	"testing"

	"github.com/sagate/sagate/admin"
	"github.com/sagate/sagate/admin/admintest"
	"github.com/sagate/sagate/keystore"
	"github.com/sagate/sagate/keystore/wire"
)

// TestServiceAccountRateLimit: PATCH sets an account's rate limit, which its keys'
// Redis records carry; a bad limit is a 400 that changes nothing; other fields leave it;
// null clears it; the Go client does the same.
func TestServiceAccountRateLimit(t *testing.T) {
	h := newHarness(t, admintest.Options{})
	h.workspace("ml-team")
	const bot = "/v1/workspaces/ml-team/service-accounts/bot"
	key := h.account("ml-team", "bot").APIKey.Key
	limit := func() wire.RateLimit { rec := h.LiveRecord(t, key); return rec.Limit() }
	if rec := h.LiveRecord(t, key); rec.Limit().Limited() {
		t.Fatalf("a new account's record is limited: %+v", rec)
	}

	sa := decode[keystore.ServiceAccount](t, h.must(200, "PATCH", bot, `{"rate_limit": {"rps": 2.5, "burst": 10}}`))
	if sa.RateLimit == nil || *sa.RateLimit != (keystore.RateLimit{RPS: 2.5, Burst: 10}) {
		t.Fatalf("PATCH rate_limit: %+v", sa.RateLimit)
	}
	if got := limit(); got != (wire.RateLimit{RPS: 2.5, Burst: 10}) {
		t.Fatalf("the key's record after PATCH carries %+v", got)
	}
	for _, body := range []string{
		`{"rate_limit": {"rps": 0, "burst": 1}}`, `{"rate_limit": {"rps": -1}}`, `{"rate_limit": {"rps": 1e7}}`,
		`{"rate_limit": {"rps": 1, "burst": 0.5}}`, `{"rate_limit": {"rps": 1, "burst": 2000000}}`,
		`{"rate_limit": {"rps": 1, "per": "minute"}}`, `{"rate_limit": 5}`, `{"rate_limit": {"rps": "5"}}`,
		`{"description": "x", "rate_limit": {"rps": 0}}`,
	} {
		h.fail(400, admin.CodeInvalid, "PATCH", bot, body)
	}
	sa = decode[keystore.ServiceAccount](t, h.must(200, "GET", bot, ""))
	if sa.Description != "" || sa.RateLimit == nil || sa.RateLimit.RPS != 2.5 {
		t.Fatalf("refused PATCHes changed the account: %+v", sa)
	}
	sa = decode[keystore.ServiceAccount](t, h.must(200, "PATCH", bot, `{"description": "builds"}`))
	if sa.RateLimit == nil || sa.RateLimit.RPS != 2.5 {
		t.Fatalf("a PATCH without rate_limit changed it: %+v", sa.RateLimit)
	}
	// burst absent: the rate rounded up.
	sa = decode[keystore.ServiceAccount](t, h.must(200, "PATCH", bot, `{"rate_limit": {"rps": 7.5}}`))
	if sa.RateLimit == nil || *sa.RateLimit != (keystore.RateLimit{RPS: 7.5, Burst: 8}) {
		t.Fatalf("PATCH rate_limit without burst: %+v", sa.RateLimit)
	}
	sa = decode[keystore.ServiceAccount](t, h.must(200, "PATCH", bot, `{"rate_limit": null}`))
	if sa.RateLimit != nil || limit().Limited() {
		t.Fatalf("rate_limit null left a limit: %+v, record %+v", sa.RateLimit, limit())
	}

	c := h.Client(t)
	ctx := context.Background()
	got, err := c.UpdateServiceAccount(ctx, "ml-team", "bot", admin.UpdateServiceAccountRequest{
		RateLimit: admin.SetRateLimit(&keystore.RateLimit{RPS: 100, Burst: 200})})
	if err != nil || got.RateLimit == nil || got.RateLimit.Burst != 200 {
		t.Fatalf("client sets the limit: %+v, %v", got, err)
	}
	desc := "again"
	if got, err = c.UpdateServiceAccount(ctx, "ml-team", "bot", admin.UpdateServiceAccountRequest{Description: &desc}); err != nil || got.RateLimit == nil {
		t.Fatalf("client without a limit changed it: %+v, %v", got, err)
	}
	if got, err = c.UpdateServiceAccount(ctx, "ml-team", "bot", admin.UpdateServiceAccountRequest{RateLimit: admin.SetRateLimit(nil)}); err != nil || got.RateLimit != nil {
		t.Fatalf("client clears the limit: %+v, %v", got, err)
	}
}
