package caddymodule

import (
	"math"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
)

// TestDurationHistogram: sagate_verify_duration_seconds reads as the
// prometheus.Histogram it replaces, fed the same observations on any shard.
func TestDurationHistogram(t *testing.T) {
	bounds := [verifyBuckets]time.Duration{
		time.Microsecond, 2500 * time.Nanosecond, 5 * time.Microsecond, 10 * time.Microsecond, 25 * time.Microsecond,
		100 * time.Microsecond, 500 * time.Microsecond, time.Millisecond, 5 * time.Millisecond, 25 * time.Millisecond,
		100 * time.Millisecond, 250 * time.Millisecond, time.Second,
	}
	got := newDurationHistogram("h_seconds", "help", bounds)
	var fl []float64
	for _, b := range bounds {
		fl = append(fl, b.Seconds())
	}
	want := prometheus.NewHistogram(prometheus.HistogramOpts{Name: "h_seconds", Help: "help", Buckets: fl})
	for i, d := range []time.Duration{0, 700 * time.Nanosecond, time.Microsecond, time.Microsecond + 1, 2 * time.Microsecond,
		40 * time.Microsecond, 3 * time.Millisecond, time.Second, 2 * time.Second, time.Minute} {
		got.observe(d, uintptr(i*37))
		want.Observe(d.Seconds())
	}
	gotH, wantH := histogramOf(t, got), histogramOf(t, want)
	if gotH.GetSampleCount() != wantH.GetSampleCount() || math.Abs(gotH.GetSampleSum()-wantH.GetSampleSum()) > 1e-9 ||
		len(gotH.GetBucket()) != len(wantH.GetBucket()) {
		t.Fatalf("got %v, want %v", gotH, wantH)
	}
	for i, b := range gotH.GetBucket() {
		if w := wantH.GetBucket()[i]; b.GetUpperBound() != w.GetUpperBound() || b.GetCumulativeCount() != w.GetCumulativeCount() {
			t.Fatalf("bucket %d: got %v, want %v", i, b, w)
		}
	}
}

// histogramOf returns the one histogram c collects.
func histogramOf(t *testing.T, c prometheus.Collector) *dto.Histogram {
	t.Helper()
	ch := make(chan prometheus.Metric, 2)
	c.Collect(ch)
	close(ch)
	var ms []*dto.Metric
	for m := range ch {
		var pb dto.Metric
		if err := m.Write(&pb); err != nil {
			t.Fatal(err)
		}
		ms = append(ms, &pb)
	}
	if len(ms) != 1 || ms[0].GetHistogram() == nil {
		t.Fatalf("collected %v, want one histogram", ms)
	}
	return ms[0].GetHistogram()
}

// BenchmarkVerifyObserve compares an observation of sagate_verify_duration_seconds
// with prometheus.Histogram's, from one goroutine and from every core.
func BenchmarkVerifyObserve(b *testing.B) {
	initMetrics()
	var bounds []float64
	for _, d := range metrics.verify.bounds {
		bounds = append(bounds, d.Seconds())
	}
	prom := prometheus.NewHistogram(prometheus.HistogramOpts{Name: "h_seconds", Help: "help", Buckets: bounds})
	const d = 900 * time.Nanosecond // a cache hit's
	b.Run("durationHistogram", func(b *testing.B) {
		for i := uintptr(0); b.Loop(); i++ {
			metrics.verify.observe(d, i)
		}
	})
	b.Run("prometheus", func(b *testing.B) {
		for b.Loop() {
			prom.Observe(d.Seconds())
		}
	})
	b.Run("durationHistogram/parallel", func(b *testing.B) {
		var g atomic.Uintptr
		b.RunParallel(func(pb *testing.PB) {
			// Each goroutine its own requests, as each connection has.
			for i := g.Add(1) * 3; pb.Next(); i += histogramShards {
				metrics.verify.observe(d, i)
			}
		})
	})
	b.Run("prometheus/parallel", func(b *testing.B) {
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				prom.Observe(d.Seconds())
			}
		})
	})
}
