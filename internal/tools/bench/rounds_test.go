package bench

import (
	"bytes"
	"math"
	"strings"
	"testing"
)

const sampleRounds = `# config round requests duration_us p50_us p99_us non2xx sockerr caddy_ticks aux_ticks
plain 1 100000 10000000 3000 9000 0 0 700 0
sagate-warm 1 98000 10000000 3100 9500 0 0 700 0
plain 2 120000 10000000 2800 8000 0 0 800 0
sagate-warm 2 118000 10000000 2900 8600 0 0 830 0
plain 3 110000 10000000 2900 8500 0 0 750 0
sagate-warm 3 99000 10000000 3000 9000 0 0 700 0
forward_auth 1 50000 10000000 6000 20000 0 0 600 400
sagate-redis 1 80000 10000000 4000 12000 5 0 900 0
`

func TestParseRounds(t *testing.T) {
	rs, err := ParseRounds(strings.NewReader(sampleRounds))
	if err != nil {
		t.Fatal(err)
	}
	if len(rs) != 8 {
		t.Fatalf("parsed %d rounds, want 8", len(rs))
	}
	want := Round{Config: ForwardAuth, Round: 1, Requests: 50000, DurationUS: 10000000, P50US: 6000, P99US: 20000, CaddyTicks: 600, AuxTicks: 400}
	if rs[6] != want {
		t.Errorf("round 7 = %+v, want %+v", rs[6], want)
	}
	for _, tc := range []struct{ name, text, wantErr string }{
		{"short line", "plain 1 2 3\n", "4 fields"},
		{"negative", "plain 1 -5 10 1 1 0 0 1 0\n", "not a count"},
		{"text", "plain 1 x 10 1 1 0 0 1 0\n", "not a count"},
		{"no requests", "plain 1 0 10 1 1 0 0 1 0\n", "no request"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParseRounds(strings.NewReader(tc.text))
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("ParseRounds: %v, want an error with %q", err, tc.wantErr)
			}
		})
	}
}

func near(a, b float64) bool { return math.Abs(a-b) < 1e-6 }

func TestSummarize(t *testing.T) {
	rs, s := summarizeText(t, sampleRounds)
	if got := len(s.Rows); got != 4 {
		t.Fatalf("%d rows, want 4", got)
	}
	for _, tc := range []struct {
		config                  string
		reqs, ratio, cpu, delta float64
		p50, p99                float64
		aux                     float64
		failed                  int64
	}{
		// plain: rates 10000, 12000, 11000 → median 11000; CPU 2250 ticks × 10 ms / 330000 requests.
		{Plain, 11000, 1, 2250 * 1e4 / 330000.0, 0, 2900, 8500, 0, 0},
		{SagateWarm, 9900, 0.9, 2230 * 1e4 / 315000.0, 2230*1e4/315000.0 - 2250*1e4/330000.0, 3000, 9000, 0, 0},
		{ForwardAuth, 5000, 5000 / 11000.0, 600 * 1e4 / 50000.0, 600*1e4/50000.0 - 2250*1e4/330000.0, 6000, 20000, 400 * 1e4 / 50000.0, 0},
		{SagateRedis, 8000, 8000 / 11000.0, 900 * 1e4 / 80000.0, 900*1e4/80000.0 - 2250*1e4/330000.0, 4000, 12000, 0, 5},
	} {
		r, ok := s.Row(tc.config)
		if !ok {
			t.Fatalf("no row for %s", tc.config)
		}
		if !near(r.ReqPerSec, tc.reqs) || !near(r.Ratio, tc.ratio) || !near(r.CaddyCPUPerReqUS, tc.cpu) ||
			!near(r.CPUDeltaUS, tc.delta) || r.P50US != tc.p50 || r.P99US != tc.p99 || !near(r.AuxCPUPerReqUS, tc.aux) || r.Failed != tc.failed {
			t.Errorf("%s: %+v, want req/s %v ratio %v cpu %v delta %v p50 %v p99 %v aux %v failed %d",
				tc.config, r, tc.reqs, tc.ratio, tc.cpu, tc.delta, tc.p50, tc.p99, tc.aux, tc.failed)
		}
	}
	// Round by round against plain.
	for _, tc := range []struct {
		config       string
		ratio, delta float64
	}{
		{Plain, 1, 0},
		{SagateWarm, 0.98, 700*1e4/99000.0 - 750*1e4/110000.0},
		{ForwardAuth, 0.5, 120 - 70}, // round 1 only
	} {
		r, _ := s.Row(tc.config)
		if !near(r.PairedRatio, tc.ratio) || !near(r.PairedCPUDeltaUS, tc.delta) {
			t.Errorf("%s paired: ratio %v, CPU delta %v; want %v, %v", tc.config, r.PairedRatio, r.PairedCPUDeltaUS, tc.ratio, tc.delta)
		}
	}
	if _, _, ok := s.Paired(SagateWarm, "no-such-config"); ok {
		t.Error("Paired with a configuration that ran no round: want not ok")
	}
	if _, err := Summarize(rs[6:7], 100); err == nil {
		t.Error("Summarize without plain rounds: want an error")
	}
	if _, err := Summarize(rs, 0); err == nil {
		t.Error("Summarize with hz 0: want an error")
	}
}

func TestTargets(t *testing.T) {
	rs, s := summarizeText(t, sampleRounds)
	got := map[string]Target{}
	for _, tg := range Targets(s) {
		got[tg.Name] = tg
	}
	for _, tc := range []struct {
		name          string
		measured, met bool
		value         float64
	}{
		// Round by round: 9800/10000, 11800/12000, 9900/11000 → median 0.98 (the ratio of
		// the medians, 9900/11000 = 0.9, would miss).
		{"sagate warm cache / plain reverse_proxy throughput", true, true, 0.98},
		// 71.43−70, 70.34−66.67, 70.71−68.18 µs → median 2.53.
		{"sagate warm cache: extra Caddy CPU per request", true, true, 700*1e4/99000.0 - 750*1e4/110000.0},
		// 71.43/70, 70.34/66.67, 70.71/68.18 → median 1.037 (≤ 1 + 3/67).
		{"sagate warm cache: Caddy CPU per request ÷ plain's", true, true, (700 * 1e4 / 99000.0) / (750 * 1e4 / 110000.0)},
		// forward_auth ran round 1 only: 9800/5000.
		{"sagate warm cache / forward_auth + auth service throughput", true, true, 9800 / 5000.0},
		// sagate-redis had failed requests: its figures do not count.
		{"sagate every request a Redis lookup / plain throughput", true, false, 8000 / 10000.0},
	} {
		tg, ok := got[tc.name]
		if !ok {
			t.Fatalf("no target %q", tc.name)
		}
		if tg.Measured != tc.measured || tg.Met() != tc.met || !near(tg.Value, tc.value) {
			t.Errorf("%s: measured %v met %v value %v; want %v %v %v", tc.name, tg.Measured, tg.Met(), tg.Value, tc.measured, tc.met, tc.value)
		}
	}

	var buf bytes.Buffer
	if err := WriteTable(&buf, s); err != nil {
		t.Fatal(err)
	}
	if err := WriteTargets(&buf, s); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"| plain | 3 | 11000 | 1.00× | 1.000× |", "| sagate-redis | 1 | 8000 | 0.73× | 0.800× |", "MISSED (5 failed requests)", ": met",
		"Caddy CPU per request ÷ plain's                    1.037 × (≤ 1.045): met"} {
		if !strings.Contains(buf.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, buf.String())
		}
	}

	// Without forward_auth rounds, the targets that need them are not measured.
	only, err := Summarize(rs[:6], 100)
	if err != nil {
		t.Fatal(err)
	}
	for _, tg := range Targets(only) {
		wantMeasured := !strings.Contains(tg.Name, "forward_auth") && !strings.Contains(tg.Name, "Redis lookup")
		if tg.Measured != wantMeasured {
			t.Errorf("%s: measured %v, want %v", tg.Name, tg.Measured, wantMeasured)
		}
	}
	buf.Reset()
	if err := WriteTargets(&buf, only); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(buf.String(), "NOT MEASURED") {
		t.Errorf("targets without forward_auth rounds lack NOT MEASURED:\n%s", buf.String())
	}
}

func TestBreakdown(t *testing.T) {
	rs, s := summarizeText(t, sampleRounds+`headers 1 100000 10000000 3000 9000 0 0 760 0
headers 2 100000 10000000 3000 9000 0 0 760 0
`)
	var buf bytes.Buffer
	if err := WriteBreakdown(&buf, s); err != nil {
		t.Fatal(err)
	}
	// Paired over rounds 1 and 2 (the mean of the two is their median): headers/plain
	// 10000/10000 and 10000/12000, CPU 76−70 and 76−66.67 µs; sagate-warm/headers
	// 9800/10000 and 11800/10000, CPU 71.43−76 and 70.34−76 µs.
	want := "BREAKDOWN (paired) identity headers alone (header_up, no check) vs plain: 0.917 ×, +7.7 µs Caddy CPU/request; " +
		"sagate warm vs identity headers alone (the check itself): 1.080 ×, -5.1 µs\n"
	if buf.String() != want {
		t.Errorf("breakdown:\n got %q\nwant %q", buf.String(), want)
	}
	// Without headers rounds there is nothing to break down.
	only, err := Summarize(rs[:6], 100)
	if err != nil {
		t.Fatal(err)
	}
	buf.Reset()
	if err := WriteBreakdown(&buf, only); err != nil || buf.Len() != 0 {
		t.Errorf("without headers rounds: %q, %v; want nothing", buf.String(), err)
	}
}

func TestTargetMet(t *testing.T) {
	for _, tc := range []struct {
		name string
		t    Target
		met  bool
	}{
		{"at least, above", Target{Value: 0.98, Bound: 0.97, Measured: true}, true},
		{"at least, below", Target{Value: 0.96, Bound: 0.97, Measured: true}, false},
		{"at most, below", Target{Value: 2.5, Bound: 3, AtMost: true, Measured: true}, true},
		{"at most, above", Target{Value: 3.5, Bound: 3, AtMost: true, Measured: true}, false},
		{"not measured", Target{Value: 1, Bound: 0.97}, false},
		{"failed requests", Target{Value: 1, Bound: 0.97, Measured: true, Failed: 1}, false},
	} {
		if got := tc.t.Met(); got != tc.met {
			t.Errorf("%s: Met() = %v, want %v", tc.name, got, tc.met)
		}
	}
}

// TestPairedCPURatioSkipsRoundsWithoutCPU: a round in which the baseline's CPU counter
// did not move (a tick is 10 ms) has no ratio; it is left out, not counted as infinite.
func TestPairedCPURatioSkipsRoundsWithoutCPU(t *testing.T) {
	rs, s := summarizeText(t, `plain 1 100 1000000 1 1 0 0 0 0
sagate-warm 1 100 1000000 1 1 0 0 10 0
plain 2 100 1000000 1 1 0 0 10 0
sagate-warm 2 100 1000000 1 1 0 0 12 0
plain 3 100 1000000 1 1 0 0 0 0
sagate-warm 3 100 1000000 1 1 0 0 0 0
`)
	if got, ok := s.PairedCPURatio(SagateWarm, Plain); !ok || !near(got, 1.2) {
		t.Fatalf("PairedCPURatio = %v, %v; want 1.2 from round 2 alone", got, ok)
	}
	only, err := Summarize(append(rs[:2:2], rs[4:]...), 100)
	if err != nil {
		t.Fatal(err)
	}
	if got, ok := only.PairedCPURatio(SagateWarm, Plain); ok {
		t.Fatalf("PairedCPURatio without a round with CPU = %v, want not ok", got)
	}
}

// summarizeText parses rounds in ParseRounds' format and summarizes them at 100 ticks/s.
func summarizeText(t *testing.T, text string) ([]Round, Summary) {
	t.Helper()
	rs, err := ParseRounds(strings.NewReader(text))
	if err != nil {
		t.Fatal(err)
	}
	s, err := Summarize(rs, 100)
	if err != nil {
		t.Fatal(err)
	}
	return rs, s
}
