package bench

import (
	"bufio"
	"fmt"
	"io"
	"math"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Histogram is the cumulative buckets of one Prometheus histogram: Count[i] values
// were at most LE[i] (LE ascending, the last +Inf).
type Histogram struct {
	LE    []float64
	Count []float64
}

// ParseHistogram reads the buckets of the histogram called name from a Prometheus
// text exposition.
func ParseHistogram(r io.Reader, name string) (Histogram, error) {
	var h Histogram
	prefix := name + `_bucket{le="`
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64*1024), 1024*1024)
	for sc.Scan() {
		line := sc.Text()
		rest, ok := strings.CutPrefix(line, prefix)
		if !ok {
			continue
		}
		le, count, ok := strings.Cut(rest, `"} `)
		if !ok {
			return h, fmt.Errorf("unreadable bucket line %q", line)
		}
		bound, err := strconv.ParseFloat(le, 64)
		if le == "+Inf" {
			bound, err = math.Inf(1), nil
		}
		if err != nil {
			return h, fmt.Errorf("bucket bound in %q: %w", line, err)
		}
		n, err := strconv.ParseFloat(count, 64)
		if err != nil {
			return h, fmt.Errorf("bucket count in %q: %w", line, err)
		}
		h.LE = append(h.LE, bound)
		h.Count = append(h.Count, n)
	}
	if err := sc.Err(); err != nil {
		return h, fmt.Errorf("reading metrics: %w", err)
	}
	if len(h.LE) == 0 {
		return h, fmt.Errorf("no %s histogram in the metrics", name)
	}
	return h, nil
}

// FetchHistogram reads the histogram called name from the metrics page at url.
func FetchHistogram(url, name string) (Histogram, error) {
	hc := &http.Client{Timeout: 5 * time.Second}
	resp, err := hc.Get(url)
	if err != nil {
		return Histogram{}, fmt.Errorf("fetching %s: %w", url, err)
	}
	defer func() { _ = resp.Body.Close() }()
	if resp.StatusCode != http.StatusOK {
		return Histogram{}, fmt.Errorf("fetching %s: status %d", url, resp.StatusCode)
	}
	return ParseHistogram(resp.Body, name)
}

// Sub returns h minus an earlier reading of the same histogram (same buckets).
func (h Histogram) Sub(earlier Histogram) (Histogram, error) {
	if len(earlier.LE) != len(h.LE) {
		return Histogram{}, fmt.Errorf("histograms with %d and %d buckets", len(h.LE), len(earlier.LE))
	}
	out := Histogram{LE: h.LE, Count: make([]float64, len(h.Count))}
	for i := range h.Count {
		out.Count[i] = h.Count[i] - earlier.Count[i]
	}
	return out, nil
}

// Add returns the sum of two readings with the same buckets (e.g. of two processes).
func (h Histogram) Add(other Histogram) (Histogram, error) {
	if len(h.LE) == 0 {
		return other, nil
	}
	neg := Histogram{LE: other.LE, Count: make([]float64, len(other.Count))}
	for i, c := range other.Count {
		neg.Count[i] = -c
	}
	return h.Sub(neg)
}

// Total is the number of values observed.
func (h Histogram) Total() float64 {
	if len(h.Count) == 0 {
		return 0
	}
	return h.Count[len(h.Count)-1]
}

// Quantile returns the upper bound of the bucket holding the p-th percentile (0 < p
// ≤ 100): at least p% of the values were at most that. +Inf if they fell past the
// last finite bound; NaN when nothing was observed.
func (h Histogram) Quantile(p float64) float64 {
	total := h.Total()
	if total <= 0 {
		return math.NaN()
	}
	need := math.Ceil(p / 100 * total)
	for i, c := range h.Count {
		if c >= need {
			return h.LE[i]
		}
	}
	return math.Inf(1)
}
