package admin_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/sagate/sagate/admin"
	"github.com/sagate/sagate/admin/admintest"
	"github.com/sagate/sagate/keystore"
)

func TestKeys(t *testing.T) {
	h := newHarness(t, admintest.Options{})
	h.workspace("ml-team")
	h.workspace("other")
	h.account("other", "stranger")
	first := h.account("ml-team", "bot").APIKey
	const keys = "/v1/workspaces/ml-team/service-accounts/bot/keys"

	// Create: 201 with exactly the documented fields.
	r := h.must(201, "POST", keys, `{"name": "deploy", "expires_in": "30d"}`)
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(r.Body, &fields); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{"id", "key", "last6", "expires_at", "name", "created_at"} {
		if _, ok := fields[f]; !ok {
			t.Fatalf("key create answer lacks %q: %s", f, r.Body)
		}
	}
	k := decode[keystore.IssuedKey](t, r)
	if k.Name != "deploy" || k.ExpiresAt == nil || keystore.CheckKey(k.Key) != nil {
		t.Fatalf("created key: %+v", k)
	}
	h.LiveRecord(t, k.Key)
	// An empty body takes every default.
	plain := decode[keystore.IssuedKey](t, h.must(201, "POST", keys, ""))
	if plain.ExpiresAt != nil || plain.Name == "" {
		t.Fatalf("default key: %+v", plain)
	}

	// Lists never carry a secret or a hash.
	r = h.must(200, "GET", keys, "")
	for _, secret := range []string{first.Key, k.Key, plain.Key, keystore.HashKey(k.Key).String()} {
		if strings.Contains(string(r.Body), secret) {
			t.Fatalf("the key list holds a secret or hash: %s", r.Body)
		}
	}
	if l := decode[admin.List[keystore.APIKey]](t, r); len(l.Items) != 3 {
		t.Fatalf("key list: %+v", l)
	}

	// Deactivate / activate, by id and by last6.
	got := decode[keystore.APIKey](t, h.must(200, "POST", keys+"/"+k.ID+"/deactivate", ""))
	if got.State != keystore.KeyDeactivated {
		t.Fatalf("deactivate: %+v", got)
	}
	h.AssertNotLive(t, k.Key)
	h.fail(422, string(keystore.KindState), "POST", keys+"/"+k.Last6+"/deactivate", "")
	h.fail(422, string(keystore.KindState), "POST", keys+"/"+k.ID+"/rotate", "")
	got = decode[keystore.APIKey](t, h.must(200, "POST", keys+"/"+k.Last6+"/activate", ""))
	if got.State != keystore.KeyActive {
		t.Fatalf("activate: %+v", got)
	}
	h.LiveRecord(t, k.Key)

	// Rotate with a retain window: both work, the old one until the window ends.
	succ := decode[keystore.IssuedKey](t, h.must(201, "POST", keys+"/"+k.Last6+"/rotate", `{"retain": "60m", "expires_in": "7d"}`))
	if succ.Name != "deploy" || succ.Key == k.Key || succ.ExpiresAt == nil {
		t.Fatalf("successor: %+v", succ)
	}
	h.LiveRecord(t, succ.Key)
	old := h.LiveRecord(t, k.Key)
	if until := time.UnixMilli(old.Exp); until.Before(time.Now().Add(59*time.Minute)) || until.After(time.Now().Add(61*time.Minute)) {
		t.Fatalf("retained key expires at %v, want in about 60m", until)
	}
	// Rotate with retain "0" (and absent): the old key is revoked now.
	for _, body := range []string{`{"retain": "0"}`, ``} {
		cur := succ
		succ = decode[keystore.IssuedKey](t, h.must(201, "POST", keys+"/"+cur.ID+"/rotate", body))
		h.AssertNotLive(t, cur.Key)
		h.LiveRecord(t, succ.Key)
		h.fail(422, string(keystore.KindState), "POST", keys+"/"+cur.ID+"/rotate", "")
	}
	for _, bad := range []string{`{"retain": "-1m"}`, `{"retain": "forever"}`, `{"retain": "3651d"}`, `{"expires_in": "0"}`} {
		h.fail(400, admin.CodeInvalid, "POST", keys+"/"+succ.ID+"/rotate", bad)
	}

	// Revoke one key: 204; then it is gone from Redis and cannot change state.
	h.must(204, "DELETE", keys+"/"+plain.Last6, "")
	h.AssertNotLive(t, plain.Key)
	h.fail(422, string(keystore.KindState), "DELETE", keys+"/"+plain.ID, "")
	h.fail(422, string(keystore.KindState), "POST", keys+"/"+plain.ID+"/activate", "")

	// Unknown and malformed key refs; keys of another workspace's account.
	h.fail(404, admin.CodeNotFound, "DELETE", keys+"/zzzzzz", "")
	h.fail(404, admin.CodeNotFound, "DELETE", keys+"/key_00000000000000000000", "")
	h.fail(400, admin.CodeInvalid, "DELETE", keys+"/not-a-key-ref", "")
	h.fail(404, admin.CodeNotFound, "GET", "/v1/workspaces/other/service-accounts/bot/keys", "")
	h.fail(404, admin.CodeNotFound, "POST", "/v1/workspaces/other/service-accounts/stranger/keys/"+first.ID+"/deactivate", "")

	// An ambiguous last6 is 409; the id still works.
	twin := insertTwin(t, h, "ml-team", "bot", first.Last6)
	h.fail(409, string(keystore.KindAmbiguous), "POST", keys+"/"+first.Last6+"/deactivate", "")
	h.must(200, "POST", keys+"/"+twin+"/deactivate", "")

	// Revoke all: 200 with the account and the count.
	ra := decode[admin.RevokeAllResponse](t, h.must(200, "POST", keys+"/revoke-all", ""))
	if ra.FullName != "bot@ml-team" || ra.Revoked < 3 {
		t.Fatalf("revoke-all: %+v", ra)
	}
	for _, key := range []string{first.Key, k.Key, succ.Key} {
		h.AssertNotLive(t, key)
	}
	l := decode[admin.List[keystore.APIKey]](t, h.must(200, "GET", keys, ""))
	for _, it := range l.Items {
		if it.State != keystore.KeyRevoked {
			t.Fatalf("after revoke-all: %+v", it)
		}
	}
}

// insertTwin stores, straight into the store, a key of the account whose last6 is last6,
// and returns its id: random keys share a last6 too rarely for a test to wait for one.
func insertTwin(t *testing.T, h *harness, ws, saName, last6 string) string {
	t.Helper()
	ctx := keystore.WithPrincipal(context.Background(), keystore.Operator("test"))
	sa, err := h.Service.GetServiceAccount(ctx, ws, saName)
	if err != nil {
		t.Fatal(err)
	}
	secret, err := keystore.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	id := keystore.KeyIDPrefix + secret[4:24]
	_, err = h.Store.Update(ctx, func(tx keystore.Tx) error {
		return tx.InsertKey(ctx, keystore.StoredKey{
			APIKey: keystore.APIKey{ID: id, ServiceAccountID: sa.ID, Name: "twin", Last6: last6,
				State: keystore.KeyActive, CreatedAt: time.Now().UTC().Truncate(time.Microsecond)},
			Hash: keystore.HashKey(secret),
		})
	})
	if err != nil {
		t.Fatalf("inserting a key with a shared last6: %v", err)
	}
	return id
}

func TestGrants(t *testing.T) {
	h := newHarness(t, admintest.Options{})
	h.workspace("ml-team")
	h.workspace("other")
	k := h.account("ml-team", "bot", "all_projects_role", "viewer").APIKey
	h.account("ml-team", "alice-bot")
	const grants = "/v1/workspaces/ml-team/projects/"

	g := decode[keystore.Grant](t, h.must(200, "PUT", grants+"vision/service-accounts/bot", `{"role": "owner"}`))
	if g.Project != "vision" || g.Role != keystore.RoleOwner || g.ServiceAccount != "bot@ml-team" {
		t.Fatalf("grant: %+v", g)
	}
	rec := h.LiveRecord(t, k.Key)
	if rec.Roles["vision"] != keystore.RoleOwner || rec.Roles["*"] != keystore.RoleViewer {
		t.Fatalf("roles in redis after grant: %v", rec.Roles)
	}
	// Change a role; grant on "*" by the escaped path.
	h.must(200, "PUT", grants+"vision/service-accounts/bot", `{"role": "contributor"}`)
	h.must(200, "PUT", grants+"%2A/service-accounts/alice-bot", `{"role": "viewer"}`)
	if rec = h.LiveRecord(t, k.Key); rec.Roles["vision"] != keystore.RoleContributor {
		t.Fatalf("roles in redis after a change: %v", rec.Roles)
	}
	l := decode[admin.List[keystore.Grant]](t, h.must(200, "GET", grants+"vision/service-accounts", ""))
	var got []string
	for _, it := range l.Items {
		got = append(got, it.ServiceAccount+"/"+it.Project+"/"+string(it.Role))
	}
	if strings.Join(got, ",") != "alice-bot@ml-team/*/viewer,bot@ml-team/*/viewer,bot@ml-team/vision/contributor" {
		t.Fatalf("grants on vision: %v", got)
	}

	// Grants survive deactivation and reactivation.
	h.must(200, "POST", "/v1/workspaces/ml-team/service-accounts/bot/deactivate", "")
	fresh := decode[admin.ServiceAccountWithKey](t, h.must(200, "POST", "/v1/workspaces/ml-team/service-accounts/bot/reactivate", "")).APIKey
	if rec = h.LiveRecord(t, fresh.Key); rec.Roles["vision"] != keystore.RoleContributor {
		t.Fatalf("roles after reactivation: %v", rec.Roles)
	}

	h.fail(404, admin.CodeNotFound, "PUT", "/v1/workspaces/other/projects/vision/service-accounts/bot", `{"role": "viewer"}`)
	h.fail(404, admin.CodeNotFound, "PUT", grants+"vision/service-accounts/nobody", `{"role": "viewer"}`)
	h.must(204, "DELETE", grants+"vision/service-accounts/bot", "")
	h.fail(404, admin.CodeNotFound, "DELETE", grants+"vision/service-accounts/bot", "")
	if rec = h.LiveRecord(t, fresh.Key); rec.Roles["vision"] != "" {
		t.Fatalf("roles in redis after unassign: %v", rec.Roles)
	}
}
