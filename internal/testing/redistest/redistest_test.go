package redistest

import (
	"context"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

func TestStartRestart(t *testing.T) {
	s := Start(t)
	c := s.Client()
	ctx := context.Background()
	if err := c.Set(ctx, "k", "v", 0).Err(); err != nil {
		t.Fatal(err)
	}
	s.Restart()
	if n, err := c.Exists(ctx, "k").Result(); err != nil || n != 0 {
		t.Fatalf("after restart: exists=%d err=%v, want an empty server", n, err)
	}
	s.Kill()
	if err := c.Ping(ctx).Err(); err == nil {
		t.Fatal("ping succeeded after Kill")
	}
}

func TestSentinelPromotesReplica(t *testing.T) {
	ss := StartSentinel(t)
	old := ss.Primary()
	if old != ss.Data[0] {
		t.Fatalf("sentinels name %v as primary, want %v", old, ss.Data[0])
	}
	ctx := context.Background()
	if err := old.Client().Set(ctx, "k", "v", 0).Err(); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 5*time.Second, "the write replicated", func() error {
		return ss.Data[1].Client().Get(ctx, "k").Err()
	})
	old.Kill()
	p := ss.WaitPromoted(old, 30*time.Second)
	if v, err := p.Client().Get(ctx, "k").Result(); err != nil || v != "v" {
		t.Fatalf("new primary: k = %q, %v", v, err)
	}
}

func TestClusterFailsOver(t *testing.T) {
	c := StartCluster(t)
	cc := c.Client()
	ctx := context.Background()
	if err := cc.Set(ctx, "k", "v", 0).Err(); err != nil {
		t.Fatal(err)
	}
	old := c.PrimaryFor("k")
	old.Kill()
	c.WaitHealthy(30 * time.Second)
	if p := c.PrimaryFor("k"); p == old {
		t.Fatalf("slot of k still served by the killed %v", old)
	}
}

func TestTLSServer(t *testing.T) {
	p := NewPKI(t)
	s := StartTLS(t, p)
	if err := s.Client().Ping(context.Background()).Err(); err != nil {
		t.Fatalf("ping over TLS: %v", err)
	}
	// Without a client certificate the server refuses the client.
	o := Options(s.Addr())
	o.TLSConfig = p.ClientTLS(t)
	o.TLSConfig.Certificates = nil
	o.MaxRetries = -1
	c := redis.NewClient(o)
	defer c.Close()
	if err := c.Ping(context.Background()).Err(); err == nil {
		t.Fatal("ping without a client certificate succeeded")
	}
}

func TestSaveAndRestartKeepingData(t *testing.T) {
	s := Start(t)
	c := s.Client()
	ctx := context.Background()
	if err := c.Set(ctx, "saved", "v", 0).Err(); err != nil {
		t.Fatal(err)
	}
	s.Save()
	if err := c.Set(ctx, "after", "v", 0).Err(); err != nil {
		t.Fatal(err)
	}
	s.KillAndRestartKeepingData()
	if v, err := c.Get(ctx, "saved").Result(); err != nil || v != "v" {
		t.Errorf("after the restart from the snapshot: saved = %q, %v", v, err)
	}
	if n := c.Exists(ctx, "after").Val(); n != 0 {
		t.Error("a key written after the snapshot survived the kill")
	}
	s.Restart()
	if n := c.Exists(ctx, "saved").Val(); n != 0 {
		t.Error("Restart kept the snapshot's data")
	}
}
