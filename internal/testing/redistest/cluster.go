package redistest

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// ClusterNodeTimeout is the cluster-node-timeout of a test Cluster: a primary that
// does not answer for that long is failed over by its replica.
const ClusterNodeTimeout = 1000 * time.Millisecond

// Cluster ports: a node's bus port is its port + clusterBusOffset. Both are taken below
// the usual ephemeral range (32768 and up), so that no outgoing connection holds them.
const (
	clusterBusOffset = 10000
	clusterPortMin   = 12000
	clusterPortMax   = 22000
	// clusterCreateTimeout bounds redis-cli --cluster create.
	clusterCreateTimeout = 30 * time.Second
)

// Cluster is a Redis Cluster of three primaries, each with one replica, on loopback,
// stopped when the test ends.
type Cluster struct {
	t testing.TB
	// Nodes are the six nodes; which are primaries changes with failovers.
	Nodes []*Server
}

// StartCluster starts six cluster nodes, joins them with redis-cli --cluster create
// (three primaries, one replica each), and waits until the cluster is healthy and
// every replica is in sync, so that a primary killed from then on is failed over.
func StartCluster(t testing.TB) *Cluster {
	t.Helper()
	SkipShort(t)
	if _, err := exec.LookPath("redis-cli"); err != nil {
		t.Fatalf("redis-cli is required to create a test cluster and was not found on PATH: %v", err)
	}
	c := &Cluster{t: t}
	addrs := make([]string, 0, 6)
	for range 6 {
		s := startServer(t, &Server{t: t, Port: clusterPort(t), dir: t.TempDir(), args: []string{
			"--cluster-enabled", "yes", "--cluster-config-file", "nodes.conf",
			"--cluster-node-timeout", strconv.FormatInt(ClusterNodeTimeout.Milliseconds(), 10),
			// A replica fails over whatever the age of its data: the test decides when
			// the replicas are in sync.
			"--cluster-replica-validity-factor", "0",
			"--repl-diskless-sync-delay", "0"}})
		c.Nodes = append(c.Nodes, s)
		addrs = append(addrs, s.Addr())
	}
	args := append(append([]string{"--cluster", "create"}, addrs...), "--cluster-replicas", "1", "--cluster-yes")
	// redis-cli waits for the nodes to meet without a limit of its own.
	ctx, cancel := context.WithTimeout(context.Background(), clusterCreateTimeout)
	defer cancel()
	if out, err := exec.CommandContext(ctx, "redis-cli", args...).CombinedOutput(); err != nil {
		t.Fatalf("redis-cli --cluster create: %v\n%s", err, out)
	}
	c.WaitHealthy(30 * time.Second)
	return c
}

// clusterPort returns a port whose cluster bus port is free too.
func clusterPort(t testing.TB) int {
	t.Helper()
	for range 100 {
		p := clusterPortMin + rand.IntN(clusterPortMax-clusterPortMin)
		a, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(p)))
		if err != nil {
			continue
		}
		b, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(p+clusterBusOffset)))
		_ = a.Close()
		if err != nil {
			continue
		}
		_ = b.Close()
		return p
	}
	t.Fatal("redistest: no free pair of cluster ports found")
	return 0
}

// URL is the redis+cluster URL naming every node.
func (c *Cluster) URL() string {
	u := "redis+cluster://" + c.Nodes[0].Addr()
	for i, n := range c.Nodes[1:] {
		sep := "&"
		if i == 0 {
			sep = "?"
		}
		u += sep + "addr=" + n.Addr()
	}
	return u
}

// Client returns a cluster client, closed when the test ends.
func (c *Cluster) Client() *redis.ClusterClient {
	addrs := make([]string, len(c.Nodes))
	for i, n := range c.Nodes {
		addrs[i] = n.Addr()
	}
	cc := redis.NewClusterClient(&redis.ClusterOptions{Addrs: addrs, MaintNotificationsConfig: Options("").MaintNotificationsConfig})
	c.t.Cleanup(func() { _ = cc.Close() })
	return cc
}

// WaitHealthy waits until every running node reports cluster_state:ok, every
// running replica is in sync with its primary, and every slot is served by a
// running primary.
func (c *Cluster) WaitHealthy(timeout time.Duration) {
	c.t.Helper()
	waitFor(c.t, timeout, "a healthy cluster", func() error {
		for _, n := range c.Nodes {
			if !n.Running() {
				continue
			}
			if st := infoField(n, "cluster", "cluster_state"); st != "ok" {
				return fmt.Errorf("%s: cluster_state %q", n, st)
			}
			role := infoField(n, "replication", "role")
			if role == "slave" {
				if st := infoField(n, "replication", "master_link_status"); st != "up" {
					return fmt.Errorf("%s: master_link_status %q", n, st)
				}
			}
		}
		for _, slot := range []int{0, 5461, 10923, 16383} {
			if p, err := c.primaryOfSlot(slot); err != nil {
				return err
			} else if !p.Running() {
				return fmt.Errorf("slot %d served by %s, which is down", slot, p)
			}
		}
		return nil
	})
}

// PrimaryFor returns the node that serves key's slot now, as the running nodes see it.
func (c *Cluster) PrimaryFor(key string) *Server {
	c.t.Helper()
	slot, err := c.keySlot(key)
	if err != nil {
		c.t.Fatalf("redistest: finding the slot of %q: %v", key, err)
	}
	p, err := c.primaryOfSlot(slot)
	if err != nil {
		c.t.Fatalf("redistest: finding the primary of %q: %v", key, err)
	}
	return p
}

// ReplicaOf returns the running node that replicates from primary, as the cluster
// sees it (CLUSTER NODES, asked of primary first, then of the other running nodes):
// the node that takes primary's slots over when primary is killed. It fails the test
// if there is none.
func (c *Cluster) ReplicaOf(primary *Server) *Server {
	c.t.Helper()
	var r *Server
	waitFor(c.t, 10*time.Second, "a replica of "+primary.String(), func() error {
		var err error
		r, err = c.replicaOf(primary)
		return err
	})
	return r
}

// replicaOf is ReplicaOf, once.
func (c *Cluster) replicaOf(primary *Server) (*Server, error) {
	askers := append([]*Server{primary}, c.Nodes...)
	for _, n := range askers {
		if !n.Running() {
			continue
		}
		nodes, err := clusterNodes(n)
		if err != nil {
			continue
		}
		var id string
		for _, e := range nodes {
			if e.addr == primary.Addr() {
				id = e.id
			}
		}
		if id == "" {
			return nil, fmt.Errorf("%s does not know %s", n, primary)
		}
		for _, e := range nodes {
			if e.master != id || !e.flags["slave"] || e.flags["fail"] || e.flags["fail?"] {
				continue
			}
			for _, m := range c.Nodes {
				if m.Addr() == e.addr && m.Running() {
					return m, nil
				}
			}
		}
		return nil, fmt.Errorf("%s knows no running replica of %s", n, primary)
	}
	return nil, fmt.Errorf("no running node answered CLUSTER NODES")
}

// clusterNode is one line of CLUSTER NODES.
type clusterNode struct {
	id, addr, master string
	flags            map[string]bool
}

// clusterNodes asks n for CLUSTER NODES.
func clusterNodes(n *Server) ([]clusterNode, error) {
	cl := redis.NewClient(Options(n.Addr()))
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	out, err := cl.ClusterNodes(ctx).Result()
	if err != nil {
		return nil, err
	}
	var nodes []clusterNode
	for _, line := range strings.Split(out, "\n") {
		// <id> <ip:port@cport[,hostname]> <flags> <master id or -> ...
		f := strings.Fields(line)
		if len(f) < 4 {
			continue
		}
		addr, _, _ := strings.Cut(f[1], "@")
		e := clusterNode{id: f[0], addr: addr, master: f[3], flags: map[string]bool{}}
		for _, fl := range strings.Split(f[2], ",") {
			e.flags[fl] = true
		}
		nodes = append(nodes, e)
	}
	return nodes, nil
}

// cutMasterauth is the password a replica cut off by CutReplication offers its primary,
// which has none: the primary refuses the AUTH, and the replica cannot sync again.
const cutMasterauth = "redistest-replication-cut"

// CutReplication cuts the replication link from primary to its replica (ReplicaOf) and
// returns the replica: writes primary acknowledges from then on never reach the
// replica, as Redis' asynchronous replication allows, while the replica stays a
// replica of primary in the cluster and is still promoted when primary is killed
// (cluster-replica-validity-factor is 0: the age of its data does not matter).
//
// REPLICAOF is refused in cluster mode, so the replica cannot be pointed at a proxy
// (see SentinelSet.ReplicateFrom); instead the replica is given a masterauth that
// primary, whose default user has no password, refuses ("AUTH <password> called
// without any password configured for the default user"), primary drops its
// replication connection (CLIENT KILL TYPE replica), and CutReplication waits until
// the replica reports its link down and primary no replica connected. The replica
// retries once a second and fails at AUTH each time, before asking for any data.
//
// The replica keeps that masterauth. It does not matter once the replica is promoted
// (a primary authenticates to no one, and the cluster bus does not use it), but
// should the node become a replica again (e.g. by CLUSTER FAILOVER on a restarted
// old primary) it could not sync, and WaitHealthy would time out: CONFIG SET
// masterauth "" on it first.
func (c *Cluster) CutReplication(primary *Server) *Server {
	c.t.Helper()
	replica := c.ReplicaOf(primary)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	rc := redis.NewClient(Options(replica.Addr()))
	defer rc.Close()
	if err := rc.ConfigSet(ctx, "masterauth", cutMasterauth).Err(); err != nil {
		c.t.Fatalf("redistest: CONFIG SET masterauth on %v: %v", replica, err)
	}
	pc := redis.NewClient(Options(primary.Addr()))
	defer pc.Close()
	if err := pc.ClientKillByFilter(ctx, "TYPE", "replica").Err(); err != nil {
		c.t.Fatalf("redistest: CLIENT KILL TYPE replica on %v: %v", primary, err)
	}
	waitFor(c.t, 10*time.Second, "replication from "+primary.String()+" to "+replica.String()+" cut", func() error {
		if st := infoField(replica, "replication", "master_link_status"); st != "down" {
			return fmt.Errorf("%s: master_link_status %q", replica, st)
		}
		if n := infoField(primary, "replication", "connected_slaves"); n != "0" {
			return fmt.Errorf("%s: connected_slaves %q", primary, n)
		}
		return nil
	})
	return replica
}

// primaryOfSlot asks a running node which node serves slot.
func (c *Cluster) primaryOfSlot(slot int) (*Server, error) {
	for _, n := range c.Nodes {
		if !n.Running() {
			continue
		}
		cl := redis.NewClient(Options(n.Addr()))
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		slots, err := cl.ClusterSlots(ctx).Result()
		cancel()
		_ = cl.Close()
		if err != nil {
			continue
		}
		for _, s := range slots {
			if slot < s.Start || slot > s.End || len(s.Nodes) == 0 {
				continue
			}
			for _, m := range c.Nodes {
				if m.Addr() == s.Nodes[0].Addr {
					return m, nil
				}
			}
			return nil, fmt.Errorf("slot %d served by unknown node %s", slot, s.Nodes[0].Addr)
		}
		return nil, fmt.Errorf("slot %d not served (per %s)", slot, n)
	}
	return nil, fmt.Errorf("no running node answered CLUSTER SLOTS")
}

// keySlot asks a running node for key's hash slot (CLUSTER KEYSLOT).
func (c *Cluster) keySlot(key string) (int, error) {
	for _, n := range c.Nodes {
		if !n.Running() {
			continue
		}
		cl := redis.NewClient(Options(n.Addr()))
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		slot, err := cl.ClusterKeySlot(ctx, key).Result()
		cancel()
		_ = cl.Close()
		if err == nil {
			return int(slot), nil
		}
	}
	return 0, fmt.Errorf("no running node answered CLUSTER KEYSLOT")
}

// WaitReplica waits until s is a replica in sync with its primary (after a failover,
// the cluster makes the old primary one when it is back).
func (c *Cluster) WaitReplica(s *Server, timeout time.Duration) {
	c.t.Helper()
	waitReplicaUp(c.t, s, timeout)
}
