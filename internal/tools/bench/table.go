package bench

import (
	"fmt"
	"io"
)

// WriteTable writes the summary as a Markdown table.
func WriteTable(w io.Writer, s Summary) error {
	if _, err := fmt.Fprintln(w, "| configuration | rounds | req/s | × plain | × plain, paired | p50 | p99 | Caddy CPU/req | Δ CPU vs plain | Δ CPU, paired | auth service CPU/req | failed |"); err != nil {
		return fmt.Errorf("writing the table: %w", err)
	}
	if _, err := fmt.Fprintln(w, "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"); err != nil {
		return fmt.Errorf("writing the table: %w", err)
	}
	for _, r := range s.Rows {
		aux := "–"
		if r.AuxCPUPerReqUS > 0 {
			aux = fmt.Sprintf("%.1f µs", r.AuxCPUPerReqUS)
		}
		_, err := fmt.Fprintf(w, "| %s | %d | %.0f | %.2f× | %.3f× | %.0f µs | %.0f µs | %.1f µs | %+.1f µs | %+.1f µs | %s | %d |\n",
			r.Config, r.Rounds, r.ReqPerSec, r.Ratio, r.PairedRatio, r.P50US, r.P99US, r.CaddyCPUPerReqUS, r.CPUDeltaUS,
			r.PairedCPUDeltaUS, aux, r.Failed)
		if err != nil {
			return fmt.Errorf("writing the table: %w", err)
		}
	}
	return nil
}

// The targets' reference machine spends RefPlainCPUUS of Caddy CPU on a plain
// reverse_proxy request, and the target allows sagate with a warm cache RefExtraCPUUS
// on top (BENCHMARKS.md).
const (
	RefPlainCPUUS = 67.0
	RefExtraCPUUS = 3.0
)

// Target is one of sagate's throughput targets (BENCHMARKS.md), checked on a summary.
type Target struct {
	Name     string
	Value    float64
	Unit     string
	Bound    float64
	AtMost   bool  // the value must be ≤ Bound (else ≥)
	Measured bool  // the configurations it needs were run
	Failed   int64 // failed requests in those configurations: the target is then not met
}

// Met reports whether a measured target holds, with no failed request.
func (t Target) Met() bool {
	if !t.Measured || t.Failed > 0 {
		return false
	}
	if t.AtMost {
		return t.Value <= t.Bound
	}
	return t.Value >= t.Bound
}

// Targets returns sagate's end-to-end targets as measured in s, each compared round
// by round (Summary.Paired: the median of the per-round ratios or CPU differences). A
// target whose configurations had failed requests is not met, whatever its value:
// that throughput is not all of allowed requests.
func Targets(s Summary) []Target {
	get := s.Row
	plain, _ := get(Plain)
	warm, _ := get(SagateWarm)
	miss, _ := get(SagateRedis)
	fa, _ := get(ForwardAuth)
	warmRatio, warmCPU, okW := s.Paired(SagateWarm, Plain)
	warmCPURatio, okWC := s.PairedCPURatio(SagateWarm, Plain)
	missRatio, _, okM := s.Paired(SagateRedis, Plain)
	warmFA, _, okWF := s.Paired(SagateWarm, ForwardAuth)
	missFA, _, okMF := s.Paired(SagateRedis, ForwardAuth)
	return []Target{
		{Name: "sagate warm cache / plain reverse_proxy throughput", Value: warmRatio, Unit: "×", Bound: 0.97,
			Measured: okW, Failed: plain.Failed + warm.Failed},
		{Name: "sagate warm cache: extra Caddy CPU per request", Value: warmCPU, Unit: "µs",
			Bound: RefExtraCPUUS, AtMost: true, Measured: okW, Failed: plain.Failed + warm.Failed},
		// The same target as a ratio, the form every target is reported in: its 3 µs on
		// top of the reference machine's 67 µs of Caddy CPU per plain request.
		{Name: "sagate warm cache: Caddy CPU per request ÷ plain's", Value: warmCPURatio, Unit: "×",
			Bound: 1 + RefExtraCPUUS/RefPlainCPUUS, AtMost: true, Measured: okWC, Failed: plain.Failed + warm.Failed},
		{Name: "sagate every request a Redis lookup / plain throughput", Value: missRatio, Unit: "×", Bound: 0.75,
			Measured: okM, Failed: plain.Failed + miss.Failed},
		{Name: "sagate warm cache / forward_auth + auth service throughput", Value: warmFA, Unit: "×", Bound: 1.8,
			Measured: okWF, Failed: warm.Failed + fa.Failed},
		{Name: "sagate every request a Redis lookup / forward_auth + auth service", Value: missFA, Unit: "×", Bound: 1.8,
			Measured: okMF, Failed: miss.Failed + fa.Failed},
	}
}

// WriteTargets writes one line per target: its value, its bound and met/MISSED.
func WriteTargets(w io.Writer, s Summary) error {
	for _, t := range Targets(s) {
		op := "≥"
		if t.AtMost {
			op = "≤"
		}
		verdict := "met"
		switch {
		case !t.Measured:
			verdict = "NOT MEASURED (configuration missing)"
		case t.Failed > 0:
			verdict = fmt.Sprintf("MISSED (%d failed requests)", t.Failed)
		case !t.Met():
			verdict = "MISSED"
		}
		if _, err := fmt.Fprintf(w, "TARGET %-66s %8.3f %s (%s %.4g): %s\n", t.Name, t.Value, t.Unit, op, t.Bound, verdict); err != nil {
			return fmt.Errorf("writing the targets: %w", err)
		}
	}
	return nil
}

// WriteBreakdown writes, when both were measured, how sagate-warm compares with
// headers: the same identity headers reach the upstream in both, so the difference is
// what checking the key costs, and headers' own difference to plain is what carrying
// the identity costs Caddy and the upstream. It writes nothing otherwise.
func WriteBreakdown(w io.Writer, s Summary) error {
	hdrRatio, hdrCPU, okH := s.Paired(Headers, Plain)
	warmRatio, warmCPU, okW := s.Paired(SagateWarm, Headers)
	if !okW || !okH {
		return nil
	}
	_, err := fmt.Fprintf(w, "BREAKDOWN (paired) identity headers alone (header_up, no check) vs plain: %.3f ×, %+.1f µs Caddy CPU/request; "+
		"sagate warm vs identity headers alone (the check itself): %.3f ×, %+.1f µs\n", hdrRatio, hdrCPU, warmRatio, warmCPU)
	if err != nil {
		return fmt.Errorf("writing the breakdown: %w", err)
	}
	return nil
}
