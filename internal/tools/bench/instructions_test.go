package bench

import (
	"bytes"
	"strings"
	"testing"
)

// dump makes a one-function profile: total instructions, of which own are the
// middleware's and next its call to the next handler.
func dump(requests int, total, own, next int64, bytes, objects uint64) InstrDump {
	cg := &Callgrind{Total: total, Funcs: map[string]*CallgrindFunc{}}
	if own > 0 || next > 0 {
		cg.Funcs["mw.ServeHTTP"] = &CallgrindFunc{Self: own, Calls: map[string]int64{"next.ServeHTTP'2": next}}
	}
	return InstrDump{Requests: requests, Profile: cg,
		Before: MemCounters{TotalAlloc: 1000, Mallocs: 10},
		After:  MemCounters{TotalAlloc: 1000 + bytes, Mallocs: 10 + objects}}
}

func TestSummarizeInstructions(t *testing.T) {
	dumps := map[string][]InstrDump{
		Plain: {dump(1000, 200_000_000, 0, 0, 5_000_000, 50_000), dump(1000, 202_000_000, 0, 0, 5_000_000, 50_000),
			dump(1000, 230_000_000, 0, 0, 5_000_000, 50_000)},
		SagateWarm: {dump(2000, 440_000_000, 16_000_000, 400_000_000, 10_500_000, 104_000),
			dump(2000, 446_000_000, 16_400_000, 400_000_000, 10_500_000, 104_000)},
	}
	rows, err := SummarizeInstructions([]string{Plain, SagateWarm}, dumps, "mw.ServeHTTP", "next.ServeHTTP")
	if err != nil {
		t.Fatal(err)
	}
	want := []InstrRow{
		{Config: Plain, Dumps: 3, PerRequest: 202_000, Min: 200_000, Max: 230_000, Bytes: 5000, Allocs: 50},
		{Config: SagateWarm, Dumps: 2, PerRequest: 221_500, Min: 220_000, Max: 223_000, Own: 8100, OwnFound: true,
			Bytes: 5250, Allocs: 52},
	}
	for i := range want {
		if rows[i] != want[i] {
			t.Errorf("row %d:\n got %+v\nwant %+v", i, rows[i], want[i])
		}
	}

	var buf bytes.Buffer
	if err := WriteInstructions(&buf, rows); err != nil {
		t.Fatal(err)
	}
	out := buf.String()
	for _, w := range []string{
		"| plain | 3 | 202000 | 200000–230000 | 1.000× | +0 | – | 5000 | 50.0 |",
		"| sagate-warm | 2 | 221500 | 220000–223000 | 1.097× | +19500 | 8100 | 5250 | 52.0 |",
		"INSTRUCTIONS sagate-warm vs plain: +19500 per request (+9.7 %); " +
			"the middleware's own code 8100 (4.0 %), the rest +11400 outside it; heap +250 bytes, +2.0 objects per request",
	} {
		if !strings.Contains(out, w) {
			t.Errorf("output lacks %q:\n%s", w, out)
		}
	}
}

func TestSummarizeInstructionsErrors(t *testing.T) {
	bad := dump(1000, 1, 0, 0, 0, 0)
	bad.After.TotalAlloc = 0
	tests := []struct {
		name  string
		dumps map[string][]InstrDump
		want  string
	}{
		{"missing configuration", map[string][]InstrDump{}, "no dump"},
		{"no requests", map[string][]InstrDump{Plain: {dump(0, 1, 0, 0, 0, 0)}}, "without requests"},
		{"restarted process", map[string][]InstrDump{Plain: {bad}}, "went backwards"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := SummarizeInstructions([]string{Plain}, tt.dumps, "mw.ServeHTTP")
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %v, want one containing %q", err, tt.want)
			}
		})
	}
	if err := WriteInstructions(&bytes.Buffer{}, []InstrRow{{Config: SagateWarm, PerRequest: 1}}); err == nil {
		t.Error("a table without plain: no error")
	}
}

func TestParseDebugVars(t *testing.T) {
	m, err := ParseDebugVars(strings.NewReader(`{"cmdline": ["caddy"], "memstats": {"Alloc": 5, "TotalAlloc": 123456, "Mallocs": 789, "PauseNs": [1, 2]}}`))
	if err != nil || m != (MemCounters{TotalAlloc: 123456, Mallocs: 789}) {
		t.Errorf("got %+v, %v", m, err)
	}
	if _, err := ParseDebugVars(strings.NewReader(`{"cmdline": []}`)); err == nil {
		t.Error("no memstats: no error")
	}
	if _, err := ParseDebugVars(strings.NewReader(`{`)); err == nil {
		t.Error("truncated JSON: no error")
	}
}
