package main

import (
	"bufio"
	"context"
	"fmt"
	"net/http"
	"os"
	"strconv"
	"strings"
	"time"
)

// sample is one reading of the sidecar's resources.
type sample struct {
	at         time.Time
	rssKB      int64
	goroutines int
}

// readRSS returns VmRSS (kB) of pid from /proc/<pid>/status.
func readRSS(pid int) (int64, error) {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, fmt.Errorf("reading the sidecar's memory: %w", err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "VmRSS:"); ok {
			fs := strings.Fields(v)
			if len(fs) != 2 || fs[1] != "kB" {
				return 0, fmt.Errorf("reading the sidecar's memory: unexpected VmRSS %q", v)
			}
			return strconv.ParseInt(fs[0], 10, 64)
		}
	}
	return 0, fmt.Errorf("reading the sidecar's memory: no VmRSS in /proc/%d/status", pid)
}

// readGoroutines returns the goroutine count from a Caddy admin endpoint's pprof
// ("goroutine profile: total N").
func readGoroutines(ctx context.Context, adminAddr string) (int, error) {
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+adminAddr+"/debug/pprof/goroutine?debug=1", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, fmt.Errorf("reading the sidecar's goroutines: %w", err)
	}
	defer resp.Body.Close()
	line, err := bufio.NewReader(resp.Body).ReadString('\n')
	if err != nil || resp.StatusCode != http.StatusOK {
		return 0, fmt.Errorf("reading the sidecar's goroutines: %s %v", resp.Status, err)
	}
	return parseGoroutineHeader(line)
}

// parseGoroutineHeader reads N from "goroutine profile: total N".
func parseGoroutineHeader(line string) (int, error) {
	rest, ok := strings.CutPrefix(strings.TrimSpace(line), "goroutine profile: total ")
	if !ok {
		return 0, fmt.Errorf("unexpected goroutine profile header %q", line)
	}
	return strconv.Atoi(rest)
}

// growth compares the mean of the first and the last third of the samples.
type growth struct {
	firstRSS, lastRSS float64 // kB
	firstG, lastG     float64
}

// thirds computes growth; it needs at least 3 samples.
func thirds(s []sample) (growth, error) {
	if len(s) < 3 {
		return growth{}, fmt.Errorf("only %d resource samples: the run was too short to judge growth", len(s))
	}
	n := len(s) / 3
	mean := func(part []sample) (rss, g float64) {
		for _, x := range part {
			rss += float64(x.rssKB)
			g += float64(x.goroutines)
		}
		return rss / float64(len(part)), g / float64(len(part))
	}
	var gr growth
	gr.firstRSS, gr.firstG = mean(s[:n])
	gr.lastRSS, gr.lastG = mean(s[len(s)-n:])
	return gr, nil
}

// flatness is how much growth from the first to the last third the soak tolerates.
type flatness struct {
	rssFrac  float64 // fraction of the first third's RSS
	rssSlack float64 // kB allowed on top (allocator and GC noise)
	gFrac    float64
	gSlack   float64
}

// problems lists what grew beyond the tolerance.
func (g growth) problems(f flatness) []string {
	var out []string
	if g.lastRSS > g.firstRSS*(1+f.rssFrac)+f.rssSlack {
		out = append(out, fmt.Sprintf("RSS grew from %.1f MB to %.1f MB", g.firstRSS/1024, g.lastRSS/1024))
	}
	if g.lastG > g.firstG*(1+f.gFrac)+f.gSlack {
		out = append(out, fmt.Sprintf("goroutines grew from %.0f to %.0f", g.firstG, g.lastG))
	}
	return out
}
