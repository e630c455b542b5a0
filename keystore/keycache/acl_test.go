package keycache

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"

	"github.com/sagate/sagate/internal/testing/redistest"
	"github.com/sagate/sagate/keystore/redisops"
	"github.com/sagate/sagate/keystore/wire"
)

// TestWithSidecarACLUser runs the cache as the Redis user of redisops.SidecarACLRules:
// lookups, events, use reports and Close all work with no more than those rights.
func TestWithSidecarACLUser(t *testing.T) {
	srv := redistest.Start(t)
	line := redisops.ACLSetUser("sidecar", redisops.ACLPassword("pw", ""), redisops.SidecarACLRules())
	var args []any
	for _, f := range strings.Fields(line) {
		args = append(args, f)
	}
	if err := srv.Client().Do(context.Background(), args...).Err(); err != nil {
		t.Fatalf("applying the sidecar's ACL: %v", err)
	}
	core, logs := observer.New(zap.WarnLevel)
	e := newEnvOn(t, srv, envOpts{user: "sidecar", password: "pw", cfg: Config{Logger: zap.New(core), UsageInterval: time.Millisecond}})

	h, rec := e.putNew()
	ent, src := e.lookup(h)
	if ent == nil || src != SourceRedis || ent.KeyID() != rec.KeyID {
		t.Fatalf("lookup: %+v from %v", ent, src)
	}
	if ent, _ := e.lookup(newHash(t)); ent != nil {
		t.Fatalf("unknown key: %+v", ent)
	}
	e.cache.RecordUse(ent, time.Now())
	eventually(t, "the use report in redis", func() bool { return e.lastUsed(rec.KeyID) != 0 })

	applied := e.cache.Stats().EventsApplied
	e.revoke(h, rec)
	e.waitEvents(applied + 1)
	if ent, _ := e.lookup(h); ent == nil || ent.State() != wire.KeyRevoked {
		t.Fatalf("after the revocation: %+v", ent)
	}
	if id := e.cache.followID.Load(); id == 0 {
		t.Error("the follower has no connection of its own (CLIENT ID refused?)")
	}
	if err := e.cache.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	// Redis logs every command the ACL refused (CLIENT UNBLOCK on Close included);
	// CLIENT SETINFO, which go-redis sends and does without, is left out on purpose.
	denied, err := srv.Client().Do(context.Background(), "ACL", "LOG").Slice()
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range denied {
		if text := fmt.Sprint(d); !strings.Contains(text, "client|setinfo") {
			t.Errorf("refused by the ACL: %s", text)
		}
	}
	for _, l := range logs.All() {
		t.Errorf("logged with the sidecar's rights: %s %v", l.Message, l.ContextMap())
	}
	if st := e.cache.Stats(); st.RedisErrors != 0 {
		t.Errorf("%d redis errors", st.RedisErrors)
	}
}
