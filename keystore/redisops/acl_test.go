package redisops_test

import (
	"context"
	"strings"
	"testing"

	"github.com/redis/go-redis/v9"

	"github.com/sagate/sagate/internal/testing/redistest"
	"github.com/sagate/sagate/keystore/redisops"
	"github.com/sagate/sagate/keystore/wire"
)

// setUser runs the ACL SETUSER line of redisops.ACLSetUser on rdb.
func setUser(t *testing.T, rdb *redis.Client, line string) {
	t.Helper()
	var args []any
	for _, f := range strings.Fields(line) {
		args = append(args, f)
	}
	if err := rdb.Do(context.Background(), args...).Err(); err != nil {
		t.Fatalf("%s: %v", line, err)
	}
}

// clientAs returns a client of srv logged in as user.
func clientAs(t *testing.T, srv *redistest.Server, user, pass string) *redis.Client {
	t.Helper()
	o := redistest.Options(srv.Addr())
	o.Username, o.Password = user, pass
	c := redis.NewClient(o)
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// TestACLUsers applies the rules to a real Redis and checks what each user may do.
func TestACLUsers(t *testing.T) {
	srv := redistest.Start(t)
	root := srv.Client()
	ctx := context.Background()
	setUser(t, root, redisops.ACLSetUser("side", redisops.ACLPassword("side-pass", "x"), redisops.SidecarACLRules()))
	setUser(t, root, redisops.ACLSetUser("adm", redisops.ACLPassword("adm-pass", "x"), redisops.AdminACLRules()))
	// Applying again replaces, not adds.
	setUser(t, root, redisops.ACLSetUser("side", redisops.ACLPassword("side-pass", "x"), redisops.SidecarACLRules()))
	for _, k := range []string{"sagate:key:x", wire.RedisEpoch, wire.RedisRev, wire.ShardRevKey(0), "other"} {
		root.Set(ctx, k, "v", 0)
	}
	root.XAdd(ctx, &redis.XAddArgs{Stream: wire.RedisEvents, Values: []any{"seq", "1"}})
	side, adm := clientAs(t, srv, "side", "side-pass"), clientAs(t, srv, "adm", "adm-pass")

	tests := []struct {
		who     string
		c       *redis.Client
		args    []any
		allowed bool
	}{
		{"sidecar", side, []any{"GET", "sagate:key:x"}, true},
		{"sidecar", side, []any{"GET", wire.RedisEpoch}, true},
		{"sidecar", side, []any{"GET", wire.RedisRev}, true},
		{"sidecar", side, []any{"GET", wire.ShardRevKey(0)}, true},
		{"sidecar", side, []any{"XREVRANGE", wire.RedisEvents, "+", "-", "COUNT", "1"}, true},
		{"sidecar", side, []any{"XREAD", "COUNT", "1", "STREAMS", wire.RedisEvents, "0-0"}, true},
		{"sidecar", side, []any{"HSET", wire.RedisLastUsed, "key_1", "1"}, true},
		{"sidecar", side, []any{"INFO", "memory"}, true},
		{"sidecar", side, []any{"CLIENT", "ID"}, true},
		{"sidecar", side, []any{"PING"}, true},
		{"sidecar", side, []any{"SET", "sagate:key:x", "forged"}, false},
		{"sidecar", side, []any{"DEL", "sagate:key:x"}, false},
		{"sidecar", side, []any{"SET", wire.RedisEpoch, "forged"}, false},
		{"sidecar", side, []any{"SET", wire.RedisRev, "forged"}, false},
		{"sidecar", side, []any{"DEL", wire.RedisRev}, false},
		{"sidecar", side, []any{"SET", wire.ShardRevKey(0), "forged"}, false},
		{"sidecar", side, []any{"XADD", wire.RedisEvents, "*", "seq", "2"}, false},
		{"sidecar", side, []any{"XTRIM", wire.RedisEvents, "MAXLEN", "0"}, false},
		{"sidecar", side, []any{"EVAL", "return 1", "0"}, false},
		{"sidecar", side, []any{"HGETALL", wire.RedisLastUsed}, false},
		{"sidecar", side, []any{"HDEL", wire.RedisLastUsed, "key_1"}, false},
		{"sidecar", side, []any{"GET", "other"}, false},
		{"sidecar", side, []any{"FLUSHALL"}, false},
		{"sidecar", side, []any{"CONFIG", "GET", "maxmemory"}, false},
		{"sidecar", side, []any{"CLIENT", "KILL", "TYPE", "normal"}, false},
		{"admin", adm, []any{"SET", "sagate:key:x", "v"}, true},
		{"admin", adm, []any{"EVAL", "return redis.call('GET', KEYS[1])", "1", wire.RedisEpoch}, true},
		{"admin", adm, []any{"XADD", wire.RedisEvents, "*", "seq", "2"}, true},
		{"admin", adm, []any{"SCAN", "0", "MATCH", "sagate:key:*"}, true},
		{"admin", adm, []any{"HGETALL", wire.RedisLastUsed}, true},
		{"admin", adm, []any{"DEL", "sagate:key:x"}, true},
		{"admin", adm, []any{"INFO", "memory"}, true},
		{"admin", adm, []any{"DBSIZE"}, true},
		{"admin", adm, []any{"GET", "other"}, false},
		{"admin", adm, []any{"EVAL", "return redis.call('GET', KEYS[1])", "1", "other"}, false},
		{"admin", adm, []any{"FLUSHALL"}, false},
		{"admin", adm, []any{"KEYS", "*"}, false},
		{"admin", adm, []any{"CONFIG", "SET", "maxmemory", "1"}, false},
		{"admin", adm, []any{"FUNCTION", "FLUSH"}, false},
	}
	// The admin's watch: keyspace notifications of the record keys, and no other channel.
	for _, tc := range []struct {
		pattern string
		allowed bool
	}{{redisops.KeyspacePattern, true}, {"__keyspace@*__:*", false}, {"__keyevent@*__:set", false}} {
		ps := adm.PSubscribe(ctx, tc.pattern)
		_, err := ps.Receive(ctx)
		_ = ps.Close()
		if got := err == nil; got != tc.allowed || err != nil && !strings.Contains(err.Error(), "NOPERM") {
			t.Errorf("admin PSUBSCRIBE %s: %v, want allowed %v", tc.pattern, err, tc.allowed)
		}
	}
	for _, tt := range tests {
		err := tt.c.Do(ctx, tt.args...).Err()
		if err == redis.Nil {
			err = nil
		}
		denied := err != nil && strings.Contains(err.Error(), "NOPERM")
		if tt.allowed && err != nil {
			t.Errorf("%s %v: %v, want allowed", tt.who, tt.args, err)
		}
		if !tt.allowed && !denied {
			t.Errorf("%s %v: %v, want NOPERM", tt.who, tt.args, err)
		}
	}
}

func TestACLPassword(t *testing.T) {
	if got := redisops.ACLPassword("", "CHANGE-ME"); got != ">CHANGE-ME" {
		t.Errorf("no password: %q", got)
	}
	got := redisops.ACLPassword("s3cret", "CHANGE-ME")
	if !strings.HasPrefix(got, "#") || len(got) != 65 || strings.Contains(got, "s3cret") {
		t.Errorf("password rule %q, want #<sha256 hex> without the password", got)
	}
	line := redisops.ACLFileUser("u", got, []string{"-@all", "+get"})
	if line != "user u on "+got+" -@all +get" {
		t.Errorf("ACL file line %q", line)
	}
}
