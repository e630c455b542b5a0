package main

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/sagate/sagate/admin"
	"github.com/sagate/sagate/admin/admintest"
	"github.com/sagate/sagate/keystore"
)

const pendingNotice = "committed; not yet at the sidecars: Redis unreachable, retrying"

// With Redis down, a mutating command says that its change has not reached the
// sidecars: a notice on stderr, or a "sync" field in a JSON object.
func TestCLISyncNotice(t *testing.T) {
	e := admintest.Start(t, admintest.Options{})
	var issued []string
	t.Cleanup(func() { e.AssertNoSecrets(t, append(issued, e.Token)...) })
	ok(t, e, "", "workspace", "create", "ml-team")
	sa := okJSON[admin.ServiceAccountWithKey](t, e, "ml-team", "sa", "create", "bot")
	k2 := okJSON[newKey](t, e, "ml-team", "key", "create", "bot", "--name", "second").APIKey
	k3 := okJSON[newKey](t, e, "ml-team", "key", "create", "bot", "--name", "third").APIKey
	issued = append(issued, sa.APIKey.Key, k2.Key, k3.Key)
	if r := ok(t, e, "ml-team", "sa", "update", "bot", "--description", "up"); r.stderr != "" {
		t.Fatalf("sa update with redis up: stderr %q", r.stderr)
	}

	e.Redis.Kill()
	r := ok(t, e, "ml-team", "key", "revoke", "bot", sa.APIKey.ID)
	if !strings.Contains(r.stdout, "revoked key") || !strings.Contains(r.stderr, pendingNotice) {
		t.Fatalf("key revoke with redis down: stdout %q stderr %q; want the notice %q", r.stdout, r.stderr, pendingNotice)
	}
	// -o json of a command the API answers with 204: the CLI's object, with a "sync" field.
	r = ok(t, e, "ml-team", "key", "revoke", "bot", k2.ID, "-o", "json")
	var rev struct {
		actionResult
		Sync *admin.SyncStatus `json:"sync"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &rev); err != nil || rev.Action != "revoked" || rev.Sync == nil || rev.Sync.State != "pending" || r.stderr != "" {
		t.Fatalf("key revoke -o json with redis down: stdout %q stderr %q (%v)", r.stdout, r.stderr, err)
	}
	// A table: the table on stdout, the notice on stderr.
	r = ok(t, e, "ml-team", "key", "deactivate", "bot", k3.ID)
	if !strings.Contains(r.stdout, k3.Last6) || !strings.Contains(r.stderr, pendingNotice) {
		t.Fatalf("key deactivate with redis down: stdout %q stderr %q", r.stdout, r.stderr)
	}
	// A JSON object: a "sync" field, nothing on stderr.
	r = ok(t, e, "ml-team", "key", "activate", "bot", k3.ID, "-o", "json")
	var got struct {
		keystore.APIKey
		Sync *admin.SyncStatus `json:"sync"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &got); err != nil {
		t.Fatalf("key activate -o json: %v: %s", err, r.stdout)
	}
	if got.State != keystore.KeyActive || got.Sync == nil || *got.Sync != (admin.SyncStatus{State: "pending", Reason: "redis unreachable"}) || r.stderr != "" {
		t.Fatalf("key activate -o json with redis down: stdout %q stderr %q", r.stdout, r.stderr)
	}
	// A change that touches no key's record has nothing to sync.
	if r := ok(t, e, "ml-team", "sa", "update", "bot", "--description", "down"); r.stderr != "" {
		t.Fatalf("sa update with redis down: stderr %q", r.stderr)
	}
	// Reads say nothing.
	if r := ok(t, e, "ml-team", "sa", "get", "bot"); r.stderr != "" {
		t.Fatalf("sa get with redis down: stderr %q", r.stderr)
	}

	e.Redis.Restart()
	admintest.Eventually(t, 10*time.Second, "redis to be synced again", func() error { return e.Syncer.Ready(t.Context()) })
	e.AssertNotLive(t, sa.APIKey.Key)
	e.AssertNotLive(t, k2.Key)
	e.LiveRecord(t, k3.Key)
	r = ok(t, e, "ml-team", "key", "deactivate", "bot", k3.ID, "-o", "json")
	if strings.Contains(r.stdout, `"sync"`) || r.stderr != "" {
		t.Fatalf("key deactivate -o json with redis back: stdout %q stderr %q", r.stdout, r.stderr)
	}
}
