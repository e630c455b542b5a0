package bench

import (
	"math"
	"strings"
	"testing"
)

const sampleMetrics = `# HELP sagate_event_lag_seconds lag
# TYPE sagate_event_lag_seconds histogram
sagate_event_lag_seconds_bucket{le="0.001"} 2
sagate_event_lag_seconds_bucket{le="0.002"} 90
sagate_event_lag_seconds_bucket{le="0.005"} 99
sagate_event_lag_seconds_bucket{le="0.01"} 100
sagate_event_lag_seconds_bucket{le="+Inf"} 100
sagate_event_lag_seconds_sum 0.2
sagate_event_lag_seconds_count 100
sagate_verify_duration_seconds_bucket{le="1e-06"} 7
`

func TestHistogramQuantiles(t *testing.T) {
	h, err := ParseHistogram(strings.NewReader(sampleMetrics), "sagate_event_lag_seconds")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		p    float64
		want float64
	}{{1, 0.001}, {2, 0.001}, {3, 0.002}, {50, 0.002}, {90, 0.002}, {99, 0.005}, {100, 0.01}}
	for _, tt := range tests {
		if got := h.Quantile(tt.p); got != tt.want {
			t.Errorf("p%v = %v, want %v", tt.p, got, tt.want)
		}
	}
	if h.Total() != 100 || len(h.LE) != 5 || !math.IsInf(h.LE[4], 1) {
		t.Fatalf("parsed %+v", h)
	}
	// Two processes, minus an earlier reading: only what happened in between.
	both, err := h.Add(h)
	if err != nil {
		t.Fatal(err)
	}
	diff, err := both.Sub(h)
	if err != nil || diff.Total() != 100 || diff.Quantile(99) != 0.005 {
		t.Fatalf("(h+h)-h: %+v, %v", diff, err)
	}
	if q := (Histogram{LE: h.LE, Count: make([]float64, 5)}).Quantile(50); !math.IsNaN(q) {
		t.Errorf("empty histogram p50 = %v, want NaN", q)
	}
	if _, err := ParseHistogram(strings.NewReader(sampleMetrics), "nope"); err == nil {
		t.Error("a missing histogram parsed")
	}
	if _, err := h.Sub(Histogram{}); err == nil {
		t.Error("subtracting a histogram with other buckets worked")
	}
}
