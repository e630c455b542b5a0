package redisurl

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/redis/go-redis/v9"
)

// ErrNotPrimary is returned by CheckPrimary when the server the client writes to is not
// a primary, or (with Sentinel) not the one the Sentinels name: writes must be refused.
var ErrNotPrimary = errors.New("redis: the server is not the primary (deposed by a failover?)")

// Primary is what CheckPrimary found about the server a client writes to.
type Primary struct {
	// Sentinel: the client follows Redis Sentinel, which promotes a replica when the
	// primary stops answering; a change the replicas did not get may then be lost.
	Sentinel bool
	// Replicas is how many replicas are connected to the primary.
	Replicas int
	// MinReplicas: the primary stops taking writes when too few replicas follow it
	// (redis.conf min-replicas-to-write with min-replicas-max-lag), Redis' own guard
	// against writes that a failover discards.
	MinReplicas bool
}

// Unguarded reports whether the primary has replicas but keeps taking writes when
// none of them follows (no min-replicas-to-write): deposed by a failover (a long pause,
// a network split), it then takes writes that the failover discards. sagate waits for
// a replica on each change (WAIT), which keeps it from acknowledging such a write, but
// the write itself still lands there.
func (p Primary) Unguarded() bool { return p.Replicas > 0 && !p.MinReplicas }

// CheckPrimary makes sure the client rdb writes to the primary and describes it. On a
// client built for a sentinel URL it first asks the Sentinels which server is the
// primary and closes the client's connections to any other (sentinel.go), so that the
// INFO replication that follows runs on the primary they name, which must say
// "role:master" (else ErrNotPrimary). INFO, not ROLE or CONFIG GET: both are
// "dangerous" commands that sagate's least-privilege Redis users may not run. On a
// Cluster client it checks nothing and returns the zero Primary: a Cluster's deposed
// primaries stop taking writes by themselves. A doctor's check and the admin's warning
// at start use Unguarded.
func CheckPrimary(ctx context.Context, rdb redis.UniversalClient) (Primary, error) {
	var p Primary
	c, ok := rdb.(*redis.Client)
	if !ok {
		return p, nil
	}
	if g := guardOf(c); g != nil {
		p.Sentinel = true
		addr, err := g.named(ctx)
		if err != nil {
			return p, err
		}
		g.follow(addr)
	}
	info, err := c.Info(ctx, "replication").Result()
	if err != nil {
		return p, fmt.Errorf("redis: reading the primary's replication state: %w", err)
	}
	role := ""
	for _, line := range strings.Split(info, "\n") {
		k, v, _ := strings.Cut(strings.TrimSpace(line), ":")
		switch k {
		case "role":
			role = v
		case "connected_slaves":
			p.Replicas, _ = strconv.Atoi(v)
		case "min_slaves_good_slaves": // present only with min-replicas-to-write set
			p.MinReplicas = true
		}
	}
	if role != "master" {
		return p, ErrNotPrimary
	}
	return p, nil
}
