package redissync

import (
	"context"
	"errors"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/sagate/sagate/keystore"
	"github.com/sagate/sagate/keystore/wire"
)

func TestReady(t *testing.T) {
	e := newEnv(t, Config{})
	ctx := context.Background()
	if err := e.s.Ready(ctx); !errors.Is(err, ErrNoEpoch) {
		t.Fatalf("Ready on an empty redis: %v, want ErrNoEpoch", err)
	}
	if _, err := e.s.Reconcile(ctx); err != nil {
		t.Fatal(err)
	}
	if err := e.s.Ready(ctx); err != nil {
		t.Fatalf("Ready after a full sync: %v", err)
	}
	e.srv.Kill()
	if err := e.s.Ready(ctx); err == nil || errors.Is(err, ErrNoEpoch) {
		t.Fatalf("Ready with redis down: %v, want a connection error", err)
	}
}

func TestMetrics(t *testing.T) {
	reg := prometheus.NewRegistry()
	e := newEnv(t, Config{Registerer: reg})
	// A second Syncer on the same registry shares the collectors instead of failing.
	other := newSyncer(t, e.rdb, e.src, Config{Registerer: reg})
	ctx := context.Background()
	e.fill(3)
	if _, err := e.s.Reconcile(ctx); err != nil {
		t.Fatal(err)
	}
	rev := e.src.remove(testHash(1))
	if err := other.Apply(ctx, keystore.Change{Rev: rev, Hashes: []keystore.KeyHash{testHash(1)}}); err != nil {
		t.Fatal(err)
	}
	e.rdb.Del(ctx, wire.RedisKey(testHash(2)))
	if _, err := e.s.Reconcile(ctx); err != nil {
		t.Fatal(err)
	}
	e.srv.Kill()
	if _, err := e.s.Reconcile(ctx); err == nil {
		t.Fatal("Reconcile succeeded with redis down")
	}

	if got := testutil.ToFloat64(e.s.m.reconciles.WithLabelValues("ok")); got != 2 {
		t.Errorf("reconciles ok = %v, want 2", got)
	}
	if got := testutil.ToFloat64(e.s.m.reconciles.WithLabelValues("error")); got != 1 {
		t.Errorf("reconciles error = %v, want 1", got)
	}
	if got := testutil.ToFloat64(e.s.m.repaired); got != 1 {
		t.Errorf("records repaired = %v, want 1", got)
	}
	if got := testutil.ToFloat64(e.s.m.redisErrors); got < 1 {
		t.Errorf("redis errors = %v, want ≥ 1", got)
	}
	if got := testutil.ToFloat64(e.s.m.lastSuccess); got <= 0 {
		t.Errorf("last success = %v, want a timestamp", got)
	}
	families, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	counts := map[string]uint64{}
	for _, f := range families {
		if f.GetName() != "sagate_sync_duration_seconds" {
			continue
		}
		for _, m := range f.GetMetric() {
			counts[m.GetLabel()[0].GetValue()] = m.GetHistogram().GetSampleCount()
		}
	}
	if counts["apply"] != 1 || counts["reconcile"] != 3 {
		t.Errorf("sync duration samples %v, want apply 1, reconcile 3", counts)
	}
}
