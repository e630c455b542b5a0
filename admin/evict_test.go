package admin_test

import (
	"context"
	"net"
	"strings"
	"testing"
	"time"

	"go.uber.org/zap/zapcore"

	"github.com/sagate/sagate/admin/admintest"
	"github.com/sagate/sagate/internal/testing/redistest"
)

type readiness struct {
	Status   string            `json:"status"`
	Checks   map[string]string `json:"checks"`
	Warnings []string          `json:"warnings"`
}

// TestReadinessWarnsOfAnEvictingRedis: on a Redis with maxmemory and allkeys-lru,
// /readyz stays 200 and says so in its warnings, sagate_redis_may_evict is 1 and one
// Warn line is logged; once Redis is set to noeviction, all three say so.
func TestReadinessWarnsOfAnEvictingRedis(t *testing.T) {
	srv := redistest.Start(t, "--maxmemory", "64mb", "--maxmemory-policy", "allkeys-lru")
	h := newHarness(t, admintest.Options{Redis: srv})
	for range 2 {
		got := decode[readiness](t, h.must(200, "GET", "/readyz", ""))
		if got.Status != "ready" || len(got.Warnings) != 1 || !strings.Contains(got.Warnings[0], "allkeys-lru") ||
			!strings.Contains(got.Warnings[0], "noeviction") {
			t.Fatalf("readyz on an evicting redis: %+v", got)
		}
	}
	if body := string(h.must(200, "GET", "/metrics", "").Body); !strings.Contains(body, "\nsagate_redis_may_evict 1\n") {
		t.Errorf("/metrics lacks sagate_redis_may_evict 1")
	}
	if n := h.Logs.FilterMessageSnippet("redis may evict sagate's keys").FilterLevelExact(zapcore.WarnLevel).Len(); n != 1 {
		t.Errorf("%d Warn lines about eviction, want 1", n)
	}

	if err := h.RDB.ConfigSet(context.Background(), "maxmemory-policy", "noeviction").Err(); err != nil {
		t.Fatal(err)
	}
	if got := decode[readiness](t, h.must(200, "GET", "/readyz", "")); got.Status != "ready" || len(got.Warnings) != 0 {
		t.Fatalf("readyz under noeviction: %+v", got)
	}
	if body := string(h.must(200, "GET", "/metrics", "").Body); !strings.Contains(body, "\nsagate_redis_may_evict 0\n") {
		t.Errorf("/metrics lacks sagate_redis_may_evict 0")
	}
	if h.Logs.FilterMessageSnippet("no longer may evict").FilterLevelExact(zapcore.WarnLevel).Len() != 1 {
		t.Errorf("the end of the eviction risk was not logged once at Warn")
	}
}

// TestServeChecksEvictionAtStart: Serve checks at once, without a /readyz, and logs it.
func TestServeChecksEvictionAtStart(t *testing.T) {
	srv := redistest.Start(t, "--maxmemory", "64mb", "--maxmemory-policy", "volatile-lru")
	h := newHarness(t, admintest.Options{Redis: srv})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- h.Server.Serve(ctx, ln) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Serve: %v", err)
		}
	}()
	admintest.Eventually(t, 10*time.Second, "the Warn line of Serve's first check", func() error {
		if h.Logs.FilterMessageSnippet("volatile-lru").FilterLevelExact(zapcore.WarnLevel).Len() == 0 {
			return context.DeadlineExceeded
		}
		return nil
	})
}
