package redisops

import (
	"crypto/sha256"
	"encoding/hex"
	"strings"

	"github.com/sagate/sagate/keystore/wire"
)

// Redis ACL users for least privilege (Redis 6.2+ ACL syntax; the key permissions
// %R~ and %W~ need Redis 7). Signatures already keep a sidecar from minting what the
// admin did not sign; these users also keep a sidecar's Redis credentials from
// deleting or replaying what the admin wrote, and keep the admin's from reaching
// anything outside sagate's keys.
//
// A sidecar reads records, the epoch and revision markers and the events stream, and
// writes nothing but its use reports (HSET sagate:lastused). The admin reads and
// writes every sagate:* key, runs its Lua scripts and scans. Neither may run
// server administration commands (CONFIG, FLUSHALL, DEBUG, SHUTDOWN, KEYS, ...).

// Default ACL user names.
const (
	DefaultSidecarACLUser = "sagate-sidecar"
	DefaultAdminACLUser   = "sagate-admin"
)

// connectionCommands are what go-redis sends on a new connection or to keep the
// pool: HELLO (with AUTH), AUTH, SELECT for a database other than 0, CLIENT SETNAME,
// PING; and, for Redis Cluster clients, READONLY, the slot map and COMMAND (which
// commands read, where their keys are). Not CLIENT
// SETINFO (library name and version), which go-redis also sends but does without
// when refused, and which Redis 7.0 does not know (an ACL naming it fails there).
var connectionCommands = []string{
	"+hello", "+auth", "+ping", "+select", "+client|setname",
	"+readonly", "+cluster|slots", "+cluster|shards", "+command",
}

// SidecarACLRules returns the rules of a sidecar's Redis user, after the password:
//
//   - GET of sagate:key:*, sagate:epoch, sagate:rev and, on a Cluster, the shard
//     markers sagate:rev:* (read-only key permission);
//   - XREAD and XREVRANGE of sagate:events (the events follower);
//   - HSET of sagate:lastused (write-only key permission: use reports);
//   - CLIENT ID and CLIENT UNBLOCK (the follower's connection, unblocked on Close);
//   - INFO (the check that Redis does not evict keys);
//   - connectionCommands.
func SidecarACLRules() []string {
	rules := []string{
		"resetkeys", "resetchannels", "-@all",
		"+get", "+xread", "+xrevrange", "+hset",
		"+client|id", "+client|unblock", "+info",
	}
	rules = append(rules, connectionCommands...)
	return append(rules,
		"%R~"+wire.RedisKeyPrefix+"*", "%R~"+wire.RedisEpoch, "%R~"+wire.RedisRev, "%R~"+wire.RedisShardRevPrefix+"*", "%R~"+wire.RedisEvents,
		"%W~"+wire.RedisLastUsed)
}

// AdminACLRules returns the rules of the admin's Redis user, after the password:
// every read and write command, scripts (EVAL, EVALSHA, SCRIPT) and transactions,
// on sagate:* keys only, but none of the dangerous ones (server administration,
// FLUSHALL, KEYS, CONFIG, ...) nor FUNCTION (sagate uses none); INFO and DBSIZE, which
// the admin's health and eviction checks use; PSUBSCRIBE to the keyspace notifications
// of the record keys (KeyspacePattern), the admin's watch for writes it did not make;
// and connectionCommands. Without CONFIG the admin cannot turn those notifications on
// itself: the server's notify-keyspace-events must include K, $ and g.
func AdminACLRules() []string {
	rules := []string{
		"resetkeys", "resetchannels", "-@all",
		"+@read", "+@write", "+@scripting", "+@transaction", "+@connection",
		"-@dangerous",
		"+info", "+dbsize", "+client|id", "+client|unblock", "-function",
		"+psubscribe", "+punsubscribe",
	}
	rules = append(rules, connectionCommands...)
	return append(rules, "~sagate:*", "&"+KeyspacePattern)
}

// KeyspacePattern is the channel pattern of the keyspace notifications of the record
// keys, in every database, which the admin subscribes to.
const KeyspacePattern = "__keyspace@*__:" + wire.RedisKeyPrefix + "*"

// ACLPassword returns the password rule of a user: the SHA-256 of password
// ("#<hex>"), so that the rule never holds the password itself, or, when password
// is empty, the literal placeholder (">" + placeholder) for the operator to replace.
func ACLPassword(password, placeholder string) string {
	if password == "" {
		return ">" + placeholder
	}
	sum := sha256.Sum256([]byte(password))
	return "#" + hex.EncodeToString(sum[:])
}

// ACLSetUser returns the ACL SETUSER command that makes user from scratch ("reset":
// applying it again replaces every earlier rule and password), enabled, with the
// password rule pass (ACLPassword) and rules.
func ACLSetUser(user, pass string, rules []string) string {
	return "ACL SETUSER " + user + " reset on " + pass + " " + strings.Join(rules, " ")
}

// ACLFileUser returns the line of an ACL file (aclfile in redis.conf) for the same
// user.
func ACLFileUser(user, pass string, rules []string) string {
	return "user " + user + " on " + pass + " " + strings.Join(rules, " ")
}
