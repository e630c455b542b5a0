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
	slot := int(keySlot(key))
	p, err := c.primaryOfSlot(slot)
	if err != nil {
		c.t.Fatalf("redistest: finding the primary of %q: %v", key, err)
	}
	return p
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

// keySlot is Redis Cluster's hash slot of key (CRC16 of its hash tag, mod 16384).
func keySlot(key string) uint16 {
	if i := strings.IndexByte(key, '{'); i >= 0 {
		if j := strings.IndexByte(key[i+1:], '}'); j > 0 {
			key = key[i+1 : i+1+j]
		}
	}
	var crc uint16
	for i := 0; i < len(key); i++ {
		crc ^= uint16(key[i]) << 8
		for range 8 {
			if crc&0x8000 != 0 {
				crc = crc<<1 ^ 0x1021
			} else {
				crc <<= 1
			}
		}
	}
	return crc % 16384
}
