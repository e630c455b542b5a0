package bench

import (
	"encoding/json"
	"fmt"
	"io"
	"slices"
)

// InstrDump is one measured batch of requests against one configuration: its callgrind
// dump (counters zeroed before the batch, dumped after it) and the Go heap counters of
// the process before and after (MemStats.TotalAlloc and Mallocs, from /debug/vars).
type InstrDump struct {
	Requests      int
	Profile       *Callgrind
	Before, After MemCounters
}

// MemCounters are the cumulative allocation counters of a Go process.
type MemCounters struct {
	TotalAlloc uint64 // bytes
	Mallocs    uint64 // objects
}

// ParseDebugVars reads the allocation counters from an expvar /debug/vars document
// (Caddy's admin endpoint serves one).
func ParseDebugVars(r io.Reader) (MemCounters, error) {
	var doc struct {
		Memstats *struct {
			TotalAlloc uint64
			Mallocs    uint64
		} `json:"memstats"`
	}
	if err := json.NewDecoder(r).Decode(&doc); err != nil {
		return MemCounters{}, fmt.Errorf("reading /debug/vars: %w", err)
	}
	if doc.Memstats == nil {
		return MemCounters{}, fmt.Errorf("reading /debug/vars: no memstats")
	}
	return MemCounters{TotalAlloc: doc.Memstats.TotalAlloc, Mallocs: doc.Memstats.Mallocs}, nil
}

// InstrRow is one configuration's figures per request, medians over its dumps.
type InstrRow struct {
	Config     string
	Dumps      int
	PerRequest float64 // instructions executed by the whole process
	Min, Max   float64 // over the dumps
	Own        float64 // the middleware's own instructions (Own of the dump); 0 where it never ran
	OwnFound   bool
	Bytes      float64 // bytes allocated on the Go heap
	Allocs     float64 // objects allocated on the Go heap
}

// SummarizeInstructions turns dumps (by configuration) into rows, in the order of
// configs. own and next name the middleware measured on its own (see Callgrind.Own).
func SummarizeInstructions(configs []string, dumps map[string][]InstrDump, own string, next ...string) ([]InstrRow, error) {
	var rows []InstrRow
	for _, c := range configs {
		ds := dumps[c]
		if len(ds) == 0 {
			return nil, fmt.Errorf("configuration %s: no dump", c)
		}
		var per, mine, bytes, allocs []float64
		found := false
		for _, d := range ds {
			if d.Requests <= 0 || d.Profile == nil {
				return nil, fmt.Errorf("configuration %s: a dump without requests or profile", c)
			}
			if d.After.TotalAlloc < d.Before.TotalAlloc || d.After.Mallocs < d.Before.Mallocs {
				return nil, fmt.Errorf("configuration %s: heap counters went backwards (a restarted process?)", c)
			}
			n := float64(d.Requests)
			per = append(per, float64(d.Profile.Total)/n)
			o, k := d.Profile.Own(own, next...)
			found = found || k > 0
			mine = append(mine, float64(o)/n)
			bytes = append(bytes, float64(d.After.TotalAlloc-d.Before.TotalAlloc)/n)
			allocs = append(allocs, float64(d.After.Mallocs-d.Before.Mallocs)/n)
		}
		rows = append(rows, InstrRow{Config: c, Dumps: len(ds), PerRequest: median(per),
			Min: slices.Min(per), Max: slices.Max(per), Own: median(mine), OwnFound: found,
			Bytes: median(bytes), Allocs: median(allocs)})
	}
	return rows, nil
}

// WriteInstructions prints the rows as a table with differences to Plain, then one
// INSTRUCTIONS line per other configuration. The counts are user-space instructions:
// the kernel's share of a request (the network system calls) is in none of them, so a
// share of plain's count is not the same share of plain's CPU time.
func WriteInstructions(w io.Writer, rows []InstrRow) error {
	var base *InstrRow
	for i := range rows {
		if rows[i].Config == Plain {
			base = &rows[i]
		}
	}
	if base == nil {
		return fmt.Errorf("no %s configuration to compare with", Plain)
	}
	if _, err := fmt.Fprintln(w, "| configuration | dumps | instructions/request | range | × plain | Δ vs plain | of which the middleware's own | heap bytes/request | heap objects/request |\n"+
		"| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"); err != nil {
		return err
	}
	for _, r := range rows {
		own := "–"
		if r.OwnFound {
			own = fmt.Sprintf("%.0f", r.Own)
		}
		if _, err := fmt.Fprintf(w, "| %s | %d | %.0f | %.0f–%.0f | %.3f× | %+.0f | %s | %.0f | %.1f |\n",
			r.Config, r.Dumps, r.PerRequest, r.Min, r.Max, r.PerRequest/base.PerRequest,
			r.PerRequest-base.PerRequest, own, r.Bytes, r.Allocs); err != nil {
			return err
		}
	}
	for _, r := range rows {
		if r.Config == Plain {
			continue
		}
		d := r.PerRequest - base.PerRequest
		line := fmt.Sprintf("INSTRUCTIONS %s vs plain: %+.0f per request (%+.1f %%)", r.Config, d, 100*d/base.PerRequest)
		if r.OwnFound {
			line += fmt.Sprintf("; the middleware's own code %.0f (%.1f %%), the rest %+.0f outside it",
				r.Own, 100*r.Own/base.PerRequest, d-r.Own)
		}
		line += fmt.Sprintf("; heap %+.0f bytes, %+.1f objects per request", r.Bytes-base.Bytes, r.Allocs-base.Allocs)
		if _, err := fmt.Fprintln(w, line); err != nil {
			return err
		}
	}
	return nil
}
