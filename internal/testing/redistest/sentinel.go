package redistest

import (
	"context"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// SentinelMaster is the name under which a SentinelSet's Sentinels monitor its primary.
const SentinelMaster = "sagatetest"

// Sentinel timings: a primary is deemed down after sentinelDownAfter without an
// answer, and a failover that stalls is retried after sentinelFailoverTimeout.
const (
	sentinelDownAfter       = 1000 * time.Millisecond
	sentinelFailoverTimeout = 5000 * time.Millisecond
)

// SentinelSet is a primary, one replica and three Sentinels (quorum 2), all on
// loopback, stopped when the test ends.
type SentinelSet struct {
	t testing.TB
	// Data are the primary (first, at start) and its replica.
	Data []*Server
	// Sentinels are the three redis-server --sentinel processes.
	Sentinels []*Server
}

// StartSentinel starts a SentinelSet and waits until every Sentinel knows the
// replica and the two other Sentinels, and the replica is in sync: from then on,
// killing the primary makes the Sentinels promote the replica.
func StartSentinel(t testing.TB) *SentinelSet {
	t.Helper()
	ss := &SentinelSet{t: t}
	primary := startServer(t, &Server{t: t, Port: FreePort(t), dir: t.TempDir(), args: []string{"--repl-diskless-sync-delay", "0"}})
	replica := startServer(t, &Server{t: t, Port: FreePort(t), dir: t.TempDir(), args: []string{
		"--repl-diskless-sync-delay", "0", "--replicaof", "127.0.0.1", strconv.Itoa(primary.Port)}})
	ss.Data = []*Server{primary, replica}
	for range 3 {
		dir := t.TempDir()
		conf := filepath.Join(dir, "sentinel.conf")
		cfg := fmt.Sprintf("sentinel monitor %s 127.0.0.1 %d 2\n"+
			"sentinel down-after-milliseconds %s %d\n"+
			"sentinel failover-timeout %s %d\n"+
			"sentinel parallel-syncs %s 1\n",
			SentinelMaster, primary.Port, SentinelMaster, sentinelDownAfter.Milliseconds(),
			SentinelMaster, sentinelFailoverTimeout.Milliseconds(), SentinelMaster)
		if err := os.WriteFile(conf, []byte(cfg), 0o600); err != nil {
			t.Fatalf("writing a sentinel config: %v", err)
		}
		ss.Sentinels = append(ss.Sentinels, startServer(t, &Server{t: t, Port: FreePort(t), dir: dir, conf: conf, args: []string{"--sentinel"}}))
	}
	waitReplicaUp(t, replica, 20*time.Second)
	waitFor(t, 30*time.Second, "every sentinel knows the replica and the other sentinels", func() error {
		for _, s := range ss.Sentinels {
			c := redis.NewSentinelClient(Options(s.Addr()))
			ctx, cancel := context.WithTimeout(context.Background(), time.Second)
			others, err := c.Sentinels(ctx, SentinelMaster).Result()
			var reps []map[string]string
			if err == nil {
				reps, err = c.Replicas(ctx, SentinelMaster).Result()
			}
			cancel()
			_ = c.Close()
			if err != nil {
				return fmt.Errorf("sentinel %s: %w", s.Addr(), err)
			}
			if len(others) != 2 || len(reps) != 1 || strings.Contains(reps[0]["flags"], "down") {
				return fmt.Errorf("sentinel %s knows %d sentinels and %d replicas %v", s.Addr(), len(others), len(reps), reps)
			}
		}
		return nil
	})
	return ss
}

// URL is the redis+sentinel URL of the set, for database 0.
func (ss *SentinelSet) URL() string {
	u := "redis+sentinel://" + ss.Sentinels[0].Addr() + "/0?master_name=" + SentinelMaster
	for _, s := range ss.Sentinels[1:] {
		u += "&addr=" + s.Addr()
	}
	return u
}

// Primary asks the Sentinels which data server is the primary now (nil if they
// name none of them).
func (ss *SentinelSet) Primary() *Server {
	for _, s := range ss.Sentinels {
		c := redis.NewSentinelClient(Options(s.Addr()))
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		addr, err := c.GetMasterAddrByName(ctx, SentinelMaster).Result()
		cancel()
		_ = c.Close()
		if err != nil || len(addr) != 2 {
			continue
		}
		for _, d := range ss.Data {
			if net.JoinHostPort(addr[0], addr[1]) == d.Addr() {
				return d
			}
		}
	}
	return nil
}

// WaitPromoted waits until the Sentinels name a primary other than old and that
// server answers as a primary, and returns it.
func (ss *SentinelSet) WaitPromoted(old *Server, timeout time.Duration) *Server {
	ss.t.Helper()
	var p *Server
	waitFor(ss.t, timeout, "sentinels promote a new primary", func() error {
		p = ss.Primary()
		if p == nil || p == old {
			return fmt.Errorf("sentinels still name %v", p)
		}
		if role := infoField(p, "replication", "role"); role != "master" {
			return fmt.Errorf("%s reports role %q", p, role)
		}
		return nil
	})
	return p
}

// ReplicateFrom makes replica replicate from addr (host:port) instead of from the
// primary, and waits until it is in sync: addr is meant to be a TCP proxy in front of
// the primary that the test can stall or cut, so that a write the primary acknowledged
// never reaches the replica, as Redis' asynchronous replication allows. The replica
// still announces its own port to the primary, so the Sentinels keep finding it,
// talking to it directly and promoting it. They also put back a replica that replicates
// from an address other than the primary's, failover-timeout (5 s) after they see the
// change: run the fault within that, or call ReplicateFrom again.
func (ss *SentinelSet) ReplicateFrom(replica *Server, addr string) {
	ss.t.Helper()
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		ss.t.Fatalf("redistest: replicating from %q: %v", addr, err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	c := redis.NewClient(Options(replica.Addr()))
	defer c.Close()
	if err := c.SlaveOf(ctx, host, port).Err(); err != nil {
		ss.t.Fatalf("redistest: REPLICAOF on %v: %v", replica, err)
	}
	waitFor(ss.t, 10*time.Second, replica.String()+" in sync through "+addr, func() error {
		if h, p := infoField(replica, "replication", "master_host"), infoField(replica, "replication", "master_port"); h != host || p != port {
			return fmt.Errorf("replicating from %s:%s", h, p)
		}
		if st := infoField(replica, "replication", "master_link_status"); st != "up" {
			return fmt.Errorf("master_link_status %q", st)
		}
		return nil
	})
}

// waitReplicaUp waits until the replica s reports its link to the primary up.
func waitReplicaUp(t testing.TB, s *Server, timeout time.Duration) {
	t.Helper()
	waitFor(t, timeout, s.String()+" in sync with its primary", func() error {
		if st := infoField(s, "replication", "master_link_status"); st != "up" {
			return fmt.Errorf("master_link_status %q", st)
		}
		return nil
	})
}

// infoField returns one field of a section of s's INFO, or of CLUSTER INFO for
// section "cluster" ("" on any error).
func infoField(s *Server, section, field string) string {
	o := Options(s.Addr())
	o.TLSConfig = s.tls
	o.MaxRetries = -1
	c := redis.NewClient(o)
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	var info string
	var err error
	if section == "cluster" {
		info, err = c.ClusterInfo(ctx).Result() // INFO cluster holds cluster_enabled only
	} else {
		info, err = c.Info(ctx, section).Result()
	}
	if err != nil {
		return ""
	}
	for _, line := range strings.Split(info, "\n") {
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), field+":"); ok {
			return v
		}
	}
	return ""
}

// waitFor polls cond until it returns nil, and fails the test with its last error
// after timeout.
func waitFor(t testing.TB, timeout time.Duration, what string, cond func() error) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		err := cond()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("redistest: waiting %s for %s: %v", timeout, what, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// WaitReplica waits until s is a replica in sync with its primary (after a failover,
// the Sentinels make the old primary one when it is back).
func (ss *SentinelSet) WaitReplica(s *Server, timeout time.Duration) {
	ss.t.Helper()
	waitReplicaUp(ss.t, s, timeout)
}
