package storetest

import (
	"testing"

	"github.com/sagate/sagate/keystore"
	"github.com/sagate/sagate/keystore/wire"
)

// testRateLimit: an account's rate limit is set, read, listed, carried by the records
// of all its keys (which the change rewrites), cleared, audited and checked; a service
// account may not change its own, not even as a workspace admin.
func testRateLimit(t *testing.T, e *env) {
	e.ws("ws", 0)
	bot, k1 := e.sa("ws", "bot")
	k2 := e.key("ws", "bot", keystore.CreateKeyInput{Name: "second"})
	if bot.RateLimit != nil {
		t.Fatalf("a new account is unlimited: %+v", bot.RateLimit)
	}
	sa, err := e.svc.SetServiceAccountRateLimit(e.ctx, "ws", "bot", &keystore.RateLimit{RPS: 2.5, Burst: 10})
	if err != nil || sa.RateLimit == nil || *sa.RateLimit != (keystore.RateLimit{RPS: 2.5, Burst: 10}) {
		t.Fatalf("SetServiceAccountRateLimit = %+v, %v", sa, err)
	}
	e.expectChange("service_account.set_rate_limit", hash(k1), hash(k2))
	got, err := e.svc.GetServiceAccount(e.ctx, "ws", "bot")
	if err != nil || got.RateLimit == nil || *got.RateLimit != *sa.RateLimit {
		t.Fatalf("GetServiceAccount = %+v, %v", got, err)
	}
	list, _, err := e.svc.ListServiceAccounts(e.ctx, "ws", keystore.Page{})
	if err != nil || len(list) != 1 || list[0].RateLimit == nil || *list[0].RateLimit != *sa.RateLimit {
		t.Fatalf("ListServiceAccounts = %+v, %v", list, err)
	}
	wantLimit := func(doing string, want wire.RateLimit) {
		t.Helper()
		recs, _ := e.records(k1, k2)
		if len(recs) != 2 {
			t.Fatalf("%s: %d records, want 2", doing, len(recs))
		}
		for _, r := range recs {
			if r.Limit() != want {
				t.Errorf("%s: record of %s carries %+v, want %+v", doing, r.KeyID, r.Limit(), want)
			}
		}
		n := 0
		if err := e.store.ScanAuthRecords(e.ctx, func(_ keystore.KeyHash, r wire.Record) error {
			if r.SAID == bot.ID {
				n++
				if r.Limit() != want {
					t.Errorf("%s: scanned record of %s carries %+v, want %+v", doing, r.KeyID, r.Limit(), want)
				}
			}
			return nil
		}); err != nil || n != 2 {
			t.Fatalf("%s: ScanAuthRecords saw %d records of bot, %v", doing, n, err)
		}
	}
	wantLimit("limited", wire.RateLimit{RPS: 2.5, Burst: 10})

	// The same limit again changes nothing; the burst defaults to the rate rounded up.
	if _, err := e.svc.SetServiceAccountRateLimit(e.ctx, "ws", "bot", &keystore.RateLimit{RPS: 2.5, Burst: 10}); err != nil {
		t.Fatal(err)
	}
	e.expectNoChange("setting the same limit")
	sa, err = e.svc.SetServiceAccountRateLimit(e.ctx, "ws", "bot", &keystore.RateLimit{RPS: 7.2})
	if err != nil || *sa.RateLimit != (keystore.RateLimit{RPS: 7.2, Burst: 8}) {
		t.Fatalf("a limit without a burst = %+v, %v", sa.RateLimit, err)
	}
	e.expectChange("service_account.set_rate_limit", hash(k1), hash(k2))
	wantLimit("burst by default", wire.RateLimit{RPS: 7.2, Burst: 8})

	for _, bad := range []keystore.RateLimit{{RPS: 0, Burst: 1}, {RPS: -1, Burst: 1}, {RPS: 0.0001, Burst: 1},
		{RPS: 2e6, Burst: 1}, {RPS: 1, Burst: -1}, {RPS: 1, Burst: 2000000}} {
		_, err := e.svc.SetServiceAccountRateLimit(e.ctx, "ws", "bot", &bad)
		wantKind(t, "a limit out of bounds", err, keystore.KindInvalid)
	}
	e.expectNoChange("refused limits")

	// A workspace admin account may limit another account, never itself.
	ann, annKey := e.sa("ws", "ann")
	if _, _, err := e.svc.SetWorkspaceAdmin(e.ctx, "ws", "sa:ann"); err != nil {
		t.Fatal(err)
	}
	e.sync.take()
	_, err = e.svc.SetServiceAccountRateLimit(e.caller(annKey), "ws", "ann", &keystore.RateLimit{RPS: 1, Burst: 1})
	wantKind(t, "an admin account sets its own limit", err, keystore.KindPermissionDenied)
	_, err = e.svc.SetServiceAccountRateLimit(e.caller(annKey), "ws", ann.ID, nil)
	wantKind(t, "an admin account clears its own limit", err, keystore.KindPermissionDenied)
	_, err = e.svc.SetServiceAccountRateLimit(e.caller(k1), "ws", "ann", &keystore.RateLimit{RPS: 1, Burst: 1})
	wantKind(t, "a plain account sets another's limit", err, keystore.KindPermissionDenied)
	e.expectNoChange("refused callers")

	// Cleared: the records carry no limit any more.
	sa, err = e.svc.SetServiceAccountRateLimit(e.caller(annKey), "ws", "bot", nil)
	if err != nil || sa.RateLimit != nil {
		t.Fatalf("clearing the limit = %+v, %v", sa, err)
	}
	e.expectChange("service_account.set_rate_limit", hash(k1), hash(k2))
	wantLimit("cleared", wire.RateLimit{})

	evs, _, err := e.svc.ListAudit(e.ctx, keystore.AuditFilter{Workspace: "ws", Action: "service_account.set_rate_limit"}, keystore.Page{})
	if err != nil || len(evs) != 3 || evs[0].Details["rate_limit"] != "none" || evs[0].Details["previous_rate_limit"] != "7.2/8" ||
		evs[0].Actor != "sa:"+ann.ID || evs[2].Details["rate_limit"] != "2.5/10" {
		t.Fatalf("audit of the limit changes = %+v, %v", evs, err)
	}
}
