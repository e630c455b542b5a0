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
	rs, err := ParseRounds(strings.NewReader(sampleRounds))
	if err != nil {
		t.Fatal(err)
	}
	s, err := Summarize(rs, 100)
	if err != nil {
		t.Fatal(err)
	}
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
	if _, err := Summarize(rs[6:7], 100); err == nil {
		t.Error("Summarize without plain rounds: want an error")
	}
	if _, err := Summarize(rs, 0); err == nil {
		t.Error("Summarize with hz 0: want an error")
	}
}

func TestTargets(t *testing.T) {
	rs, err := ParseRounds(strings.NewReader(sampleRounds))
	if err != nil {
		t.Fatal(err)
	}
	s, err := Summarize(rs, 100)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]Target{}
	for _, tg := range Targets(s) {
		got[tg.Name] = tg
	}
	for _, tc := range []struct {
		name          string
		measured, met bool
		value         float64
	}{
		{"sagate warm cache / plain reverse_proxy throughput", true, false, 0.9},
		{"sagate warm cache / forward_auth + auth service throughput", true, true, 9900 / 5000.0},
		// sagate-redis had failed requests: its figures do not count.
		{"sagate every request a Redis lookup / plain throughput", true, false, 8000 / 11000.0},
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
	for _, want := range []string{"| plain | 3 | 11000 | 1.00× |", "| sagate-redis | 1 | 8000 | 0.73× |", "MISSED", "MISSED (5 failed requests)", ": met"} {
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
	rs, err := ParseRounds(strings.NewReader(sampleRounds + `headers 1 100000 10000000 3000 9000 0 0 760 0
headers 2 100000 10000000 3000 9000 0 0 760 0
`))
	if err != nil {
		t.Fatal(err)
	}
	s, err := Summarize(rs, 100)
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := WriteBreakdown(&buf, s); err != nil {
		t.Fatal(err)
	}
	// plain: 11000 req/s and 2250 ticks over 330000 requests (68.2 µs); headers: 10000
	// req/s, 76.0 µs; sagate-warm: 9900 req/s, 2230 ticks over 315000 requests (70.8 µs).
	want := "BREAKDOWN identity headers alone (request_header, no check) vs plain: 0.91 ×, +7.8 µs Caddy CPU/request; " +
		"sagate warm vs identity headers alone (the check itself): 0.99 ×, -5.2 µs\n"
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
