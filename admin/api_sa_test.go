package admin_test

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/sagate/sagate/admin"
	"github.com/sagate/sagate/admin/admintest"
	"github.com/sagate/sagate/keystore"
)

func TestServiceAccountLifecycle(t *testing.T) {
	h := newHarness(t, admintest.Options{})
	h.workspace("ml-team")
	h.workspace("other")
	const sas = "/v1/workspaces/ml-team/service-accounts"

	// Create with a key, a role on every project and an expiry.
	before := time.Now()
	out := h.account("ml-team", "ci-bot", "description", "CI pipeline", "all_projects_role", "contributor", "key_expires_in", "90d")
	sa, key := out.ServiceAccount, out.APIKey
	if sa.Name != "ci-bot" || sa.FullName != "ci-bot@ml-team" || sa.Workspace != "ml-team" || sa.State != keystore.AccountActive ||
		!strings.HasPrefix(sa.ID, "sa_") || sa.Description != "CI pipeline" {
		t.Fatalf("created account: %+v", sa)
	}
	if key == nil || keystore.CheckKey(key.Key) != nil || key.Last6 != keystore.Last6(key.Key) || !strings.HasPrefix(key.ID, "key_") {
		t.Fatalf("issued key: %+v", key)
	}
	if key.ExpiresAt == nil || key.ExpiresAt.Before(before.Add(89*24*time.Hour)) || key.ExpiresAt.After(time.Now().Add(91*24*time.Hour)) {
		t.Fatalf("issued key expiry: %v", key.ExpiresAt)
	}
	rec := h.LiveRecord(t, key.Key)
	if rec.SAID != sa.ID || rec.SA != "ci-bot@ml-team" || rec.Workspace != "ml-team" || rec.KeyID != key.ID ||
		rec.Roles[keystore.AllProjects] != keystore.RoleContributor || rec.Exp != key.ExpiresAt.UnixMilli() {
		t.Fatalf("redis record after create: %+v", rec)
	}

	// create_key false: api_key is null; the default is true.
	r := h.must(http.StatusCreated, "POST", sas, `{"name": "no-key", "create_key": false}`)
	if !strings.Contains(string(r.Body), `"api_key":null`) {
		t.Fatalf("create_key false: api_key is not null: %s", r.Body)
	}
	if def := h.account("ml-team", "default-key"); def.APIKey == nil || def.APIKey.ExpiresAt != nil {
		t.Fatalf("create_key absent: want a key that never expires, got %+v", def.APIKey)
	}

	// Read by name and by id; an id of another workspace is not found.
	for _, ref := range []string{"ci-bot", sa.ID} {
		got := decode[keystore.ServiceAccount](t, h.must(200, "GET", sas+"/"+ref, ""))
		if got.ID != sa.ID {
			t.Fatalf("GET %s: %+v", ref, got)
		}
	}
	h.fail(404, admin.CodeNotFound, "GET", "/v1/workspaces/other/service-accounts/"+sa.ID, "")
	h.fail(404, admin.CodeNotFound, "GET", "/v1/workspaces/other/service-accounts/ci-bot", "")
	h.fail(404, admin.CodeNotFound, "POST", "/v1/workspaces/other/service-accounts/"+sa.ID+"/deactivate", "")
	h.fail(404, admin.CodeNotFound, "GET", sas+"/nobody", "")

	// Name taken.
	h.fail(409, string(keystore.KindNameTaken), "POST", sas, `{"name": "ci-bot"}`)

	// Change the description.
	got := decode[keystore.ServiceAccount](t, h.must(200, "PATCH", sas+"/ci-bot", `{"description": "builds"}`))
	if got.Description != "builds" {
		t.Fatalf("PATCH: %+v", got)
	}

	// Pagination.
	var names []string
	token := ""
	for range 10 {
		page := decode[admin.List[keystore.ServiceAccount]](t, h.must(200, "GET", sas+"?page_size=1&page_token="+token, ""))
		if len(page.Items) > 1 {
			t.Fatalf("page_size=1 gave %d items", len(page.Items))
		}
		for _, it := range page.Items {
			names = append(names, it.Name)
		}
		if token = page.NextPageToken; token == "" {
			break
		}
	}
	if strings.Join(names, ",") != "ci-bot,default-key,no-key" {
		t.Fatalf("paged names: %v", names)
	}

	// Deactivate: the key stops at once; twice is a state error.
	got = decode[keystore.ServiceAccount](t, h.must(200, "POST", sas+"/ci-bot/deactivate", ""))
	if got.State != keystore.AccountDeactivated {
		t.Fatalf("deactivate: %+v", got)
	}
	h.AssertNotLive(t, key.Key)
	h.fail(422, string(keystore.KindState), "POST", sas+"/ci-bot/deactivate", "")
	h.fail(422, string(keystore.KindState), "POST", sas+"/ci-bot/keys", "")

	// Reactivate: a fresh key; the old one never works again; reactivating an active account is 422.
	re := decode[admin.ServiceAccountWithKey](t, h.must(200, "POST", sas+"/ci-bot/reactivate", ""))
	if re.ServiceAccount.State != keystore.AccountActive || re.APIKey == nil || re.APIKey.Key == key.Key {
		t.Fatalf("reactivate: %+v", re)
	}
	h.LiveRecord(t, re.APIKey.Key)
	h.AssertNotLive(t, key.Key)
	h.fail(422, string(keystore.KindState), "POST", sas+"/ci-bot/reactivate", "")
	keys := decode[admin.List[keystore.APIKey]](t, h.must(200, "GET", sas+"/ci-bot/keys", ""))
	if len(keys.Items) != 2 || keys.Items[0].State != keystore.KeyRevoked || keys.Items[1].State != keystore.KeyActive {
		t.Fatalf("keys after reactivate: %+v", keys.Items)
	}

	// Delete: 204, keys stop, the name is free again.
	r = h.must(204, "DELETE", sas+"/ci-bot", "")
	if len(r.Body) != 0 {
		t.Fatalf("204 with a body: %s", r.Body)
	}
	h.AssertNotLive(t, re.APIKey.Key)
	h.fail(404, admin.CodeNotFound, "GET", sas+"/ci-bot", "")
	h.fail(404, admin.CodeNotFound, "DELETE", sas+"/ci-bot", "")
	again := h.account("ml-team", "ci-bot")
	if again.ServiceAccount.ID == sa.ID {
		t.Fatal("a deleted account's id came back")
	}
}

func TestWorkspaceLimit(t *testing.T) {
	h := newHarness(t, admintest.Options{})
	w := decode[keystore.Workspace](t, h.must(201, "POST", "/v1/workspaces", `{"name": "small", "max_service_accounts": 2}`))
	if w.MaxServiceAccounts != 2 {
		t.Fatalf("workspace: %+v", w)
	}
	def := decode[keystore.Workspace](t, h.must(201, "POST", "/v1/workspaces", `{"name": "big"}`))
	if def.MaxServiceAccounts != keystore.DefaultMaxServiceAccounts {
		t.Fatalf("default limit: %+v", def)
	}
	h.fail(409, string(keystore.KindNameTaken), "POST", "/v1/workspaces", `{"name": "small"}`)
	h.account("small", "a")
	h.account("small", "b")
	r := h.fail(409, string(keystore.KindLimitReached), "POST", "/v1/workspaces/small/service-accounts", `{"name": "c"}`)
	if !strings.Contains(string(r.Body), "PATCH /v1/workspaces/small") || !strings.Contains(string(r.Body), "sagate workspace update small --max-service-accounts 4") {
		t.Fatalf("the limit's 409 does not say how to raise it: %s", r.Body)
	}
	if w := decode[keystore.Workspace](t, h.must(200, "PATCH", "/v1/workspaces/small", `{"max_service_accounts": 3}`)); w.MaxServiceAccounts != 3 {
		t.Fatalf("PATCH workspace: %+v", w)
	}
	h.account("small", "c")
	h.fail(400, admin.CodeInvalid, "PATCH", "/v1/workspaces/small", `{"max_service_accounts": 0}`)
	h.fail(400, admin.CodeInvalid, "PATCH", "/v1/workspaces/small", `{"max_service_accounts": "many"}`)
	h.fail(404, admin.CodeNotFound, "PATCH", "/v1/workspaces/nope", `{"max_service_accounts": 3}`)
	if w := decode[keystore.Workspace](t, h.must(200, "PATCH", "/v1/workspaces/small", `{}`)); w.MaxServiceAccounts != 3 {
		t.Fatalf("empty PATCH changed the workspace: %+v", w)
	}
	l := decode[admin.List[keystore.Workspace]](t, h.must(200, "GET", "/v1/workspaces", ""))
	if len(l.Items) != 2 || l.NextPageToken != "" {
		t.Fatalf("workspaces: %+v", l)
	}
}
