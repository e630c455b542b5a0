package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/sagate/sagate/keystore/redisops"
	"github.com/sagate/sagate/keystore/redisurl"
	"github.com/sagate/sagate/keystore/wire"
)

// doctorNow is the local clock the skew check compares with Redis TIME; tests move it.
var doctorNow = time.Now

// Clock skew limits between a host and Redis: sidecars enforce expiry by their own clock
// and the event lag they report includes the skew.
const (
	skewWarn = 250 * time.Millisecond
	skewFail = 2 * time.Second
)

// eventsCatchUp is how long the events check waits for the newest event to reach the
// revision marker: the admin raises the marker just before it appends the event.
const eventsCatchUp = 3 * time.Second

// probeKey is a key record that never exists (not a key hash): DEL of it changes
// nothing, and tells whether the user may write records.
const probeKey = wire.RedisKeyPrefix + "doctor-probe"

// Fixes shared by several checks.
const (
	fixSidecarUser = "create the least-privilege users with `sagate redis-acl | redis-cli` (as a Redis admin) and put the sagate-sidecar user in the sidecar's redis URL: redis://sagate-sidecar:PASSWORD@HOST:6379/0"
	fixAdminUser   = "create the least-privilege users with `sagate redis-acl | redis-cli` (as a Redis admin) and put the sagate-admin user in serve's --redis: redis://sagate-admin:PASSWORD@HOST:6379/0"
	fixPublicKey   = "set the sidecar's signing_keys to the admin's public key: `sagate signing-key public FILE` on an admin host prints it (the admin also logs it at start)"
	fixNoAdmin     = "start sagate serve with this Redis as --redis: its full sync at start writes the markers and a resync event"
)

// redisChecks checks the Redis at rawURL for role; tk holds the public keys to verify
// with (nil: the signatures are not checked, the keys already failed).
func redisChecks(ctx context.Context, rawURL, role string, tk *trustedKeys) []check {
	opts, err := redisurl.Parse(rawURL)
	if err != nil {
		return []check{{Name: "redis", Status: statusFail, Detail: err.Error(),
			Fix: "use a redis URL: redis://USER:PASSWORD@HOST:6379/0, rediss:// for TLS, redis+sentinel://, redis+cluster:// (docs/deployment.md)"}}
	}
	rdb := opts.Client()
	defer rdb.Close()
	reach := reachCheck(ctx, opts, rdb)
	checks := []check{reach}
	if reach.Status == statusFail {
		return checks
	}
	checks = append(checks, permissionChecks(ctx, rdb, role)...)
	clock, redisTime := clockCheck(ctx, rdb)
	checks = append(checks, clock)
	if tk != nil {
		checks = append(checks, signatureChecks(ctx, rdb, tk, role, redisTime)...)
	}
	checks = append(checks, evictionCheck(ctx, rdb))
	if role == roleAdmin {
		checks = append(checks, replicationCheck(ctx, rdb))
	}
	return checks
}

// bounded returns ctx bounded by doctorTimeout.
func bounded(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(ctx, doctorTimeout)
}

// isNoPerm reports whether err is Redis' refusal of a command or key by the user's ACL.
func isNoPerm(err error) bool {
	return err != nil && strings.HasPrefix(err.Error(), "NOPERM")
}

// reachCheck pings Redis and reads its version and role.
func reachCheck(ctx context.Context, opts redisurl.Options, rdb redis.UniversalClient) check {
	c := check{Name: "redis"}
	if err := opts.CheckTLS(ctx, rdb); err != nil {
		c.Status, c.Detail = statusFail, err.Error()
		c.Fix = "check tls_ca_file (the CA that signed the Redis server's certificate), tls_server_name, and tls_cert_file/tls_key_file if Redis requires client certificates"
		return c
	}
	ctx, cancel := bounded(ctx)
	defer cancel()
	start := time.Now()
	err := rdb.Ping(ctx).Err()
	rtt := time.Since(start)
	if err != nil {
		c.Status, c.Detail = statusFail, "no answer: "+err.Error()
		switch {
		case strings.Contains(err.Error(), "WRONGPASS"), strings.Contains(err.Error(), "NOAUTH"):
			c.Fix = "the URL's user or password is wrong: give the user and password of `sagate redis-acl` (redis://USER:PASSWORD@HOST:PORT/0)"
		default:
			c.Fix = "start Redis, or open the network path from this host to it (firewall: its port, 6379 or 6380 for TLS); check the URL's host and port"
		}
		return c
	}
	info, err := rdb.Info(ctx, "server", "replication").Result()
	if err != nil {
		c.Status, c.Detail = statusWarn, fmt.Sprintf("answers (%s round trip), but INFO is refused: %v", round(rtt), err)
		c.Fix = "allow INFO to this user (sagate redis-acl's users have it): the version and eviction checks need it"
		return c
	}
	fields := infoFields(info)
	version := fields["redis_version"]
	c.Status = statusOK
	c.Detail = fmt.Sprintf("Redis %s (%s, %s), %s round trip", version, fields["redis_mode"], fields["role"], round(rtt))
	major, _, _ := strings.Cut(version, ".")
	switch n, _ := strconv.Atoi(major); {
	case fields["role"] == "slave":
		c.Status = statusFail
		c.Fix = "point the URL at the primary (or at Sentinel: redis+sentinel://…?master_name=NAME): a replica may lag behind a revocation and refuses the admin's writes"
	case n < 5:
		c.Status = statusFail
		c.Fix = "upgrade Redis to 7 or later: sagate needs streams (5.0) and ACL key permissions (7.0)"
	case n < 7:
		c.Status = statusWarn
		c.Fix = "upgrade Redis to 7 or later: the least-privilege users of sagate redis-acl need its key permissions"
	}
	return c
}

// infoFields parses an INFO reply into name → value.
func infoFields(info string) map[string]string {
	m := map[string]string{}
	sc := bufio.NewScanner(strings.NewReader(info))
	for sc.Scan() {
		if k, v, ok := strings.Cut(strings.TrimSpace(sc.Text()), ":"); ok {
			m[k] = v
		}
	}
	return m
}

// round rounds d for display.
func round(d time.Duration) time.Duration {
	if d < time.Millisecond {
		return d.Round(10 * time.Microsecond)
	}
	return d.Round(100 * time.Microsecond)
}

// permissionChecks probes what the Redis user may do, with commands that change
// nothing, against what role needs and must not have.
func permissionChecks(ctx context.Context, rdb redis.UniversalClient, role string) []check {
	run := func(args ...any) error {
		ctx, cancel := bounded(ctx)
		defer cancel()
		err := rdb.Do(ctx, args...).Err()
		if errors.Is(err, redis.Nil) {
			return nil
		}
		return err
	}
	type probe struct {
		what string
		args []any
	}
	needs := []probe{
		{"read the epoch marker", []any{"GET", wire.RedisEpoch}},
		{"read the revision marker", []any{"GET", wire.RedisRev}},
		{"read key records", []any{"GET", probeKey}},
		{"read the events stream", []any{"XREVRANGE", wire.RedisEvents, "+", "-", "COUNT", "1"}},
	}
	if role == roleAdmin {
		needs = append(needs,
			probe{"write key records", []any{"DEL", probeKey}},
			probe{"run scripts", []any{"EVAL", "return 1", "0"}},
			probe{"scan sagate's keys", []any{"SCAN", "0", "MATCH", probeKey, "COUNT", "1"}})
	}
	var missing []string
	for _, p := range needs {
		if err := run(p.args...); err != nil {
			missing = append(missing, fmt.Sprintf("%s (%s: %v)", p.what, p.args[0], err))
		}
	}
	c := check{Name: "redis user", Status: statusOK}
	fix := fixSidecarUser
	if role == roleAdmin {
		fix = fixAdminUser
	}
	if len(missing) > 0 {
		c.Status, c.Fix = statusFail, fix
		c.Detail = "may not " + strings.Join(missing, "; ")
		return []check{c}
	}
	var extra []string
	if role == roleSidecar {
		// A sidecar's credentials must not be able to delete or replay what the admin wrote.
		if err := run("DEL", probeKey); !isNoPerm(err) {
			c.Status, c.Fix = statusFail, fixSidecarUser
			c.Detail = "may write key records (DEL " + probeKey + " was not refused): a stolen sidecar credential could delete or replay records"
			return []check{c}
		}
		extra = append(extra, "key record writes refused (NOPERM)")
	}
	if err := run("CONFIG", "GET", "maxmemory-policy"); !isNoPerm(err) {
		c.Status, c.Fix = statusWarn, fix
		c.Detail = "may run server administration commands (CONFIG was not refused): more than " + role + " needs"
		return []check{c}
	}
	extra = append(extra, "administration commands refused")
	c.Detail = "has what a " + role + " needs; " + strings.Join(extra, ", ")
	return []check{c}
}

// clockCheck compares the local clock with Redis' (TIME, or INFO's server_time_usec
// for a user denied TIME, as sagate redis-acl's sidecar user is), allowing for the round
// trip; it returns Redis' time too (zero when neither could be read).
func clockCheck(ctx context.Context, rdb redis.UniversalClient) (check, time.Time) {
	c := check{Name: "clock"}
	ctx, cancel := bounded(ctx)
	defer cancel()
	t0 := doctorNow()
	rt, err := rdb.Time(ctx).Result()
	t1 := doctorNow()
	if isNoPerm(err) {
		t0 = doctorNow()
		rt, err = infoTime(ctx, rdb)
		t1 = doctorNow()
	}
	if err != nil {
		c.Status, c.Detail = statusWarn, "cannot read Redis' time: "+err.Error()
		c.Fix = "allow TIME or INFO to this user (sagate redis-acl's users have INFO)"
		return c, time.Time{}
	}
	mid := t0.Add(t1.Sub(t0) / 2)
	skew := rt.Sub(mid)
	abs := max(skew, -skew)
	c.Status = statusOK
	c.Detail = fmt.Sprintf("%s off Redis' clock (±%s)", round(skew), round(t1.Sub(t0)/2))
	fix := "run NTP on this host and on the Redis host (chrony or systemd-timesyncd): sidecars enforce key expiry by their own clock, and the event lag they report includes the skew"
	switch {
	case abs > skewFail:
		c.Status, c.Fix = statusFail, fix
	case abs > skewWarn:
		c.Status, c.Fix = statusWarn, fix
	}
	return c, rt
}

// infoTime reads Redis' clock from INFO server's server_time_usec.
func infoTime(ctx context.Context, rdb redis.UniversalClient) (time.Time, error) {
	info, err := rdb.Info(ctx, "server").Result()
	if err != nil {
		return time.Time{}, err
	}
	us, err := strconv.ParseInt(infoFields(info)["server_time_usec"], 10, 64)
	if err != nil {
		return time.Time{}, fmt.Errorf("INFO server has no server_time_usec (Redis before 6.2?)")
	}
	return time.UnixMicro(us), nil
}

// evictionCheck reads whether Redis may evict sagate's keys (redisops.CheckEviction).
func evictionCheck(ctx context.Context, rdb redis.UniversalClient) check {
	c := check{Name: "eviction"}
	ctx, cancel := bounded(ctx)
	defer cancel()
	risk, err := redisops.CheckEviction(ctx, rdb)
	switch {
	case err != nil:
		c.Status, c.Detail = statusWarn, "not checked: "+err.Error()
		c.Fix = "allow INFO to this user (sagate redis-acl's users have it)"
	case risk.MayEvict:
		c.Status, c.Detail = statusFail, risk.Warning()
		c.Fix = "in redis.conf: maxmemory-policy noeviction (or no maxmemory); or give sagate a Redis of its own"
	default:
		c.Status = statusOK
		c.Detail = fmt.Sprintf("maxmemory-policy %s, maxmemory %d: sagate's keys are never evicted", risk.Policy, risk.MaxMemory)
	}
	return c
}

// replicationCheck warns when a primary has replicas but no min-replicas-to-write: a
// failover may then lose writes it acknowledged (the admin repairs them from the store,
// but only once it notices).
func replicationCheck(ctx context.Context, rdb redis.UniversalClient) check {
	c := check{Name: "replication", Status: statusOK}
	var (
		mu       sync.Mutex
		unguard  []string
		replicas int
	)
	err := forEachPrimary(ctx, rdb, func(ctx context.Context, node redis.Cmdable) error {
		info, err := node.Info(ctx, "replication").Result()
		if err != nil {
			return err
		}
		f := infoFields(info)
		n, _ := strconv.Atoi(f["connected_slaves"])
		mu.Lock()
		defer mu.Unlock()
		replicas += n
		if _, guarded := f["min_slaves_good_slaves"]; n > 0 && !guarded {
			unguard = append(unguard, fmt.Sprintf("%s replica(s)", f["connected_slaves"]))
		}
		return nil
	})
	switch {
	case err != nil:
		c.Status, c.Detail = statusWarn, "not checked: "+err.Error()
		c.Fix = "allow INFO to this user (sagate redis-acl's users have it)"
	case len(unguard) > 0:
		c.Status = statusWarn
		c.Detail = "a primary with " + strings.Join(unguard, ", ") + " has min-replicas-to-write off: a failover can lose writes it acknowledged, until the admin's next check repairs them"
		c.Fix = "in the primaries' redis.conf: min-replicas-to-write 1 and min-replicas-max-lag 10"
	case replicas == 0:
		c.Detail = "no replicas"
	default:
		c.Detail = fmt.Sprintf("%d replica(s), min-replicas-to-write set", replicas)
	}
	return c
}

// forEachPrimary runs fn on every primary of a Cluster, or once on any other client
// (which talks to its primary).
func forEachPrimary(ctx context.Context, rdb redis.UniversalClient, fn func(context.Context, redis.Cmdable) error) error {
	ctx, cancel := bounded(ctx)
	defer cancel()
	if cc, ok := rdb.(*redis.ClusterClient); ok {
		return cc.ForEachMaster(ctx, func(ctx context.Context, c *redis.Client) error { return fn(ctx, c) })
	}
	return fn(ctx, rdb)
}
