package redisops

import (
	"bufio"
	"context"
	"fmt"
	"strconv"
	"strings"
	"sync"

	"github.com/redis/go-redis/v9"
)

// NoEviction is the maxmemory-policy under which Redis never evicts a key: a write
// that would need memory fails instead. It is the only policy sagate is safe under.
const NoEviction = "noeviction"

// EvictionRisk is what a Redis server (every master of a Cluster) says about evicting
// keys when it runs out of memory: whether it may evict sagate's keys, and why.
type EvictionRisk struct {
	// MayEvict: some server has a memory limit and a policy other than noeviction.
	MayEvict bool
	// Policy is the maxmemory-policy of a server that may evict (of the first one
	// that answered, if none may).
	Policy string
	// MaxMemory is that server's maxmemory in bytes (0: no limit).
	MaxMemory int64
}

// Warning says what is wrong and what to do, for a log line or a readiness report;
// "" when Redis may not evict.
func (r EvictionRisk) Warning() string {
	if !r.MayEvict {
		return ""
	}
	return fmt.Sprintf("redis may evict sagate's keys: maxmemory %d bytes with maxmemory-policy %s; "+
		"set maxmemory-policy noeviction or give sagate its own Redis", r.MaxMemory, r.Policy)
}

// CheckEviction reads INFO memory from rdb (from every master of a *redis.ClusterClient)
// and reports whether Redis may evict sagate's keys: it may when maxmemory is set (not
// 0) and maxmemory-policy is anything but noeviction. An allkeys-* policy evicts any
// key once memory is full, so another application's writes can push out sagate's
// records, its epoch and its events stream. A volatile-* policy evicts only keys that
// carry a TTL, which sagate's records of expiring keys and its tombstones do: a valid
// key that expires later can lose its record, and a revoked key its tombstone. An
// evicted record reads as "no such key", and the sidecars would refuse a valid key
// while the epoch says Redis is complete; so while Redis may evict, the sidecars take
// a missing record as "cannot tell" (keystore/keycache).
//
// It uses INFO, not CONFIG GET: a least-privilege ACL user (a sidecar's) may not be
// allowed CONFIG.
func CheckEviction(ctx context.Context, rdb redis.UniversalClient) (EvictionRisk, error) {
	cc, ok := rdb.(*redis.ClusterClient)
	if !ok {
		return evictionRiskOf(ctx, rdb)
	}
	var (
		mu    sync.Mutex // ForEachMaster calls fn concurrently
		risk  EvictionRisk
		first = true
	)
	err := cc.ForEachMaster(ctx, func(ctx context.Context, c *redis.Client) error {
		r, err := evictionRiskOf(ctx, c)
		if err != nil {
			return err
		}
		mu.Lock()
		defer mu.Unlock()
		if first || (r.MayEvict && !risk.MayEvict) {
			risk, first = r, false
		}
		return nil
	})
	if err != nil {
		return EvictionRisk{}, err
	}
	return risk, nil
}

// evictionRiskOf reads INFO memory from one server.
func evictionRiskOf(ctx context.Context, rdb redis.Cmdable) (EvictionRisk, error) {
	info, err := rdb.Info(ctx, "memory").Result()
	if err != nil {
		return EvictionRisk{}, fmt.Errorf("reading redis INFO memory: %w", err)
	}
	return ParseEvictionInfo(info)
}

// ParseEvictionInfo reads the maxmemory and maxmemory_policy fields of the text of an
// INFO memory reply; see CheckEviction.
func ParseEvictionInfo(info string) (EvictionRisk, error) {
	var (
		r                 EvictionRisk
		gotMax, gotPolicy bool
	)
	sc := bufio.NewScanner(strings.NewReader(info))
	for sc.Scan() {
		name, value, ok := strings.Cut(strings.TrimSpace(sc.Text()), ":")
		if !ok {
			continue
		}
		switch name {
		case "maxmemory":
			n, err := strconv.ParseInt(value, 10, 64)
			if err != nil {
				return EvictionRisk{}, fmt.Errorf("redis INFO memory: maxmemory %q: %w", value, err)
			}
			r.MaxMemory, gotMax = n, true
		case "maxmemory_policy":
			r.Policy, gotPolicy = value, true
		}
	}
	if !gotMax || !gotPolicy {
		return EvictionRisk{}, fmt.Errorf("redis INFO memory: no maxmemory or maxmemory_policy field")
	}
	r.MayEvict = r.MaxMemory > 0 && r.Policy != NoEviction
	return r, nil
}
