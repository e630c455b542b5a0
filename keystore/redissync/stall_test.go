package redissync

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"

	"github.com/sagate/sagate/internal/testing/redistest"
	"github.com/sagate/sagate/keystore"
	"github.com/sagate/sagate/keystore/redisurl"
	"github.com/sagate/sagate/keystore/wire"
)

// TestSentinelStalledPrimary: the primary stops answering (SIGSTOP) past Sentinel's
// down-after, the replica is promoted, and the old primary resumes: until the Sentinels
// turn it into a replica it still takes writes on the connections opened to it. Every
// revocation that Apply reports written (nil) must then be on the primary the Sentinels
// name at that moment; one written only to the deposed primary would come back to life
// when it resynchronises from the new one. Revocations are applied from several
// goroutines from the stall until the old primary is a replica again; the others must
// fail (the change stays pending, in the outbox), and every one of them reaches the new
// primary once the Syncer has re-applied the outbox.
//
// It runs twice: as is, and with the Sentinel that the client listens to for
// +switch-master killed first (a failover it then learns of only when it asks again).
func TestSentinelStalledPrimary(t *testing.T) {
	t.Run("sentinels up", func(t *testing.T) { testStalledPrimary(t, false) })
	t.Run("subscribed sentinel down", func(t *testing.T) { testStalledPrimary(t, true) })
}

func testStalledPrimary(t *testing.T, killSubscribed bool) {
	ss := redistest.StartSentinel(t)
	opts, err := redisurl.Parse(ss.URL())
	if err != nil {
		t.Fatal(err)
	}
	rdb := opts.Client()
	t.Cleanup(func() { _ = rdb.Close() })
	src := newMemSource()
	const keys = 400
	for i := range keys {
		src.put(testHash(i), testRecord(i))
	}
	core, logs := observer.New(zap.WarnLevel)
	s := newSyncer(t, rdb, src, Config{Logger: zap.New(core)})
	startRun(t, s)
	waitFor(t, "the initial sync", func() bool { return s.Ready(context.Background()) == nil })
	// The set's primary has a replica and no min-replicas-to-write: the admin says so.
	if logs.FilterMessageSnippet("no min-replicas-to-write").Len() != 1 {
		t.Errorf("no warning about the missing min-replicas-to-write; logged: %v", logs.All())
	}

	old := ss.Primary()
	if killSubscribed {
		killSubscribedSentinel(t, ss)
	}
	ctx, stop := context.WithCancel(context.Background())
	var (
		wg      sync.WaitGroup
		mu      sync.Mutex
		next    int
		applied []keystore.KeyHash
		pending []keystore.KeyHash
	)
	for range 4 {
		wg.Go(func() {
			for ctx.Err() == nil {
				mu.Lock()
				n := next
				next++
				mu.Unlock()
				if n >= keys {
					return
				}
				h := testHash(n)
				rev := src.removePending(h)
				err := s.Apply(context.Background(), keystore.Change{Rev: rev, Action: "test.revoke", Hashes: []keystore.KeyHash{h}})
				if err != nil {
					mu.Lock()
					pending = append(pending, h)
					mu.Unlock()
					time.Sleep(100 * time.Millisecond)
					continue
				}
				// Acknowledged: the primary the Sentinels name now must hold it.
				if p := ss.Primary(); p != nil && !tombstoneOn(t, p.Client(), h) {
					t.Errorf("revocation %d acknowledged at %s but missing from the primary the sentinels name (%v; the old one is %v)",
						n, time.Now().Format("15:04:05.000"), p, old)
				}
				mu.Lock()
				applied = append(applied, h)
				mu.Unlock()
				time.Sleep(100 * time.Millisecond)
			}
		})
	}
	time.Sleep(200 * time.Millisecond)
	old.Freeze()
	p := ss.WaitPromoted(old, 30*time.Second)
	old.Thaw()
	waitFor(t, "the old primary to become a replica", func() bool { return roleOf(old) == "slave" })
	stop()
	wg.Wait()
	t.Logf("%d revocations acknowledged, %d pending around the stall", len(applied), len(pending))
	newRdb := p.Client()
	for _, h := range append(applied, pending...) {
		waitFor(t, "every revocation on the new primary", func() bool { return tombstoneOn(t, newRdb, h) })
	}
}

// tombstoneOn reports whether c holds a tombstone for h.
func tombstoneOn(t *testing.T, c *redis.Client, h keystore.KeyHash) bool {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	b, err := c.Get(ctx, wire.RedisKey(h)).Bytes()
	if errors.Is(err, redis.Nil) || err != nil {
		return false
	}
	r, err := wire.OpenRecord(verifier(t), h, b)
	return err == nil && r.State == keystore.KeyRevoked
}

// roleOf returns the role s reports in INFO replication ("" when it does not answer).
func roleOf(s *redistest.Server) string {
	c := redis.NewClient(redistest.Options(s.Addr()))
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	info, err := c.Info(ctx, "replication").Result()
	if err != nil {
		return ""
	}
	for _, line := range strings.Split(info, "\n") {
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), "role:"); ok {
			return v
		}
	}
	return ""
}

// killSubscribedSentinel kills the Sentinels that hold a subscriber (the clients' own
// +switch-master listeners), at most one.
func killSubscribedSentinel(t *testing.T, ss *redistest.SentinelSet) {
	t.Helper()
	for _, sn := range ss.Sentinels {
		c := redis.NewClient(redistest.Options(sn.Addr()))
		list, err := c.ClientList(context.Background()).Result()
		_ = c.Close()
		if err != nil {
			t.Fatal(err)
		}
		if strings.Contains(list, "cmd=subscribe") {
			sn.Kill()
			return
		}
	}
	t.Fatal("no sentinel holds a subscriber")
}
