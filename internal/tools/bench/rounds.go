package bench

import (
	"bufio"
	"fmt"
	"io"
	"math"
	"slices"
	"strconv"
	"strings"
)

// Configuration names used by scripts/bench.sh; Summarize needs Plain, the others are optional.
const (
	Plain        = "plain"        // Caddy reverse_proxy, no auth
	SagateWarm   = "sagate-warm"  // sagate, every key in the local cache
	SagateRedis  = "sagate-redis" // sagate, every request a Redis lookup
	ForwardAuth  = "forward_auth" // forward_auth to authsvc, one Redis GET per request
	BasicAuth    = "basic_auth"   // Caddy basic_auth, one user (bcrypt, Caddy's hash cache)
	Headers      = "headers"      // no check: reverse_proxy header_up sets sagate's identity headers
	roundColumns = 10
)

// Round is one wrk run against one configuration.
type Round struct {
	Config       string
	Round        int
	Requests     int64
	DurationUS   int64
	P50US, P99US int64
	Non2xx       int64 // responses with a status ≥ 400
	SockErrors   int64 // connect, read, write and timeout errors
	CaddyTicks   int64 // Caddy's utime+stime over the run
	AuxTicks     int64 // the auth service's utime+stime over the run (forward_auth), else 0
}

// ParseRounds reads rounds, one per line (see report's doc); blank lines and lines
// starting with # are skipped.
func ParseRounds(r io.Reader) ([]Round, error) {
	var out []Round
	sc := bufio.NewScanner(r)
	for line := 1; sc.Scan(); line++ {
		f := strings.Fields(sc.Text())
		if len(f) == 0 || strings.HasPrefix(f[0], "#") {
			continue
		}
		if len(f) != roundColumns {
			return nil, fmt.Errorf("rounds line %d: %d fields, want %d", line, len(f), roundColumns)
		}
		var n [roundColumns - 1]int64
		for i := range n {
			v, err := strconv.ParseInt(f[i+1], 10, 64)
			if err != nil || v < 0 {
				return nil, fmt.Errorf("rounds line %d field %d: %q is not a count", line, i+2, f[i+1])
			}
			n[i] = v
		}
		if n[1] == 0 || n[2] == 0 {
			return nil, fmt.Errorf("rounds line %d: no request or no duration", line)
		}
		out = append(out, Round{Config: f[0], Round: int(n[0]), Requests: n[1], DurationUS: n[2],
			P50US: n[3], P99US: n[4], Non2xx: n[5], SockErrors: n[6], CaddyTicks: n[7], AuxTicks: n[8]})
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("reading rounds: %w", err)
	}
	return out, nil
}

// Row is the summary of one configuration over its rounds.
type Row struct {
	Config           string
	Rounds           int
	ReqPerSec        float64 // median of the rounds
	P50US, P99US     float64 // medians of the rounds
	CaddyCPUPerReqUS float64
	AuxCPUPerReqUS   float64
	Failed           int64 // non-2xx plus socket errors, over every round
	Ratio            float64
	CPUDeltaUS       float64 // Caddy CPU per request minus plain's
	// PairedRatio and PairedCPUDeltaUS compare with plain round by round: the median,
	// over the rounds both ran, of this configuration's req/s ÷ plain's and of its Caddy
	// CPU per request − plain's. The configurations of a round run back to back, so
	// these cancel what the machine does between rounds (see Summary.Paired).
	PairedRatio      float64
	PairedCPUDeltaUS float64
}

// Summary is every configuration's row, in the order first seen.
type Summary struct {
	Rows   []Row
	rounds map[string]map[int]Round // config → round number → its run
	hz     int                      // clock ticks per second of the CPU counters
}

// Paired returns the median, over the rounds that both a and b ran, of a's req/s ÷
// b's and of a's Caddy CPU per request − b's (µs), and whether they had a round in
// common. On a machine whose speed changes from minute to minute the ratio of two
// configurations' medians mixes rounds run in different states; within one round they
// ran seconds apart.
func (s Summary) Paired(a, b string) (ratio, cpuDeltaUS float64, ok bool) {
	usPerTick := 1e6 / float64(s.hz)
	ratio, ok = s.pairedMedian(a, b, func(ra, rb Round) float64 { return ra.rate() / rb.rate() })
	cpuDeltaUS, _ = s.pairedMedian(a, b, func(ra, rb Round) float64 {
		return (ra.cpuPerRequest() - rb.cpuPerRequest()) * usPerTick
	})
	return ratio, cpuDeltaUS, ok
}

// PairedCPURatio returns the median, over the rounds that both a and b ran, of a's
// Caddy CPU per request ÷ b's, and whether they had a round in common (with CPU
// counted for b).
func (s Summary) PairedCPURatio(a, b string) (float64, bool) {
	return s.pairedMedian(a, b, func(ra, rb Round) float64 { return ra.cpuPerRequest() / rb.cpuPerRequest() })
}

// pairedMedian returns the median of f over the rounds that both a and b ran, leaving
// out values that are not finite (a round with no CPU counted), and whether any was left.
func (s Summary) pairedMedian(a, b string, f func(ra, rb Round) float64) (float64, bool) {
	var vs []float64
	for n, ra := range s.rounds[a] {
		rb, found := s.rounds[b][n]
		if !found {
			continue
		}
		if v := f(ra, rb); !math.IsInf(v, 0) && !math.IsNaN(v) {
			vs = append(vs, v)
		}
	}
	if len(vs) == 0 {
		return 0, false
	}
	return median(vs), true
}

// cpuPerRequest is the round's Caddy CPU ticks per request (ParseRounds refuses a
// round without requests).
func (r Round) cpuPerRequest() float64 { return float64(r.CaddyTicks) / float64(r.Requests) }

// rate is the round's requests per second.
func (r Round) rate() float64 { return float64(r.Requests) / (float64(r.DurationUS) / 1e6) }

// Row returns the row of a configuration.
func (s Summary) Row(config string) (Row, bool) {
	for _, r := range s.Rows {
		if r.Config == config {
			return r, true
		}
	}
	return Row{}, false
}

// Summarize folds rounds into rows; hz is the clock tick rate of the CPU counters.
func Summarize(rounds []Round, hz int) (Summary, error) {
	if hz <= 0 {
		return Summary{}, fmt.Errorf("summarizing rounds: clock tick rate %d", hz)
	}
	var order []string
	by := map[string][]Round{}
	s := Summary{rounds: map[string]map[int]Round{}, hz: hz}
	for _, r := range rounds {
		if _, ok := by[r.Config]; !ok {
			order = append(order, r.Config)
			s.rounds[r.Config] = map[int]Round{}
		}
		by[r.Config] = append(by[r.Config], r)
		s.rounds[r.Config][r.Round] = r
	}
	if _, ok := by[Plain]; !ok {
		return Summary{}, fmt.Errorf("summarizing rounds: no %q rounds to compare with", Plain)
	}
	usPerTick := 1e6 / float64(hz)
	for _, c := range order {
		rs := by[c]
		row := Row{Config: c, Rounds: len(rs)}
		var rates, p50, p99 []float64
		var reqs, ticks, aux int64
		for _, r := range rs {
			rates = append(rates, r.rate())
			p50 = append(p50, float64(r.P50US))
			p99 = append(p99, float64(r.P99US))
			reqs += r.Requests
			ticks += r.CaddyTicks
			aux += r.AuxTicks
			row.Failed += r.Non2xx + r.SockErrors
		}
		row.ReqPerSec, row.P50US, row.P99US = median(rates), median(p50), median(p99)
		row.CaddyCPUPerReqUS = float64(ticks) * usPerTick / float64(reqs)
		row.AuxCPUPerReqUS = float64(aux) * usPerTick / float64(reqs)
		s.Rows = append(s.Rows, row)
	}
	plain, _ := s.Row(Plain)
	for i := range s.Rows {
		r := &s.Rows[i]
		r.Ratio = r.ReqPerSec / plain.ReqPerSec
		r.CPUDeltaUS = r.CaddyCPUPerReqUS - plain.CaddyCPUPerReqUS
		r.PairedRatio, r.PairedCPUDeltaUS, _ = s.Paired(r.Config, Plain)
	}
	return s, nil
}

// median returns the median of vs (the mean of the middle two for an even count).
func median(vs []float64) float64 {
	if len(vs) == 0 {
		return 0
	}
	vs = slices.Clone(vs)
	slices.Sort(vs)
	m := len(vs) / 2
	if len(vs)%2 == 1 {
		return vs[m]
	}
	return (vs[m-1] + vs[m]) / 2
}
