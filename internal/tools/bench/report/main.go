// Command report prints the load table of `make bench` from the rounds the harness
// recorded, one line per wrk run:
//
//	config round requests duration_us p50_us p99_us non2xx sockerr caddy_ticks aux_ticks
//
// (tab or space separated; ticks are /proc utime+stime of Caddy and of the auxiliary
// process, the forward_auth auth service, over the run). Throughput is the median of
// the rounds' req/s; latencies the median of the rounds' p50 and p99; CPU per request
// the sum of ticks over the sum of requests. Ratios are to the "plain" configuration,
// both as the ratio of the medians and "paired": the median over rounds of each
// round's ratio (and CPU difference), which the TARGET lines use.
//
//	report -hz 100 rounds.tsv
package main

import (
	"flag"
	"fmt"
	"io"
	"log"
	"os"

	"github.com/sagate/sagate/internal/tools/bench"
)

func main() {
	hz := flag.Int("hz", 100, "clock ticks per second of /proc/<pid>/stat (getconf CLK_TCK)")
	flag.Parse()
	if flag.NArg() != 1 {
		log.Fatal("usage: report [-hz N] ROUNDS_FILE")
	}
	f, err := os.Open(flag.Arg(0))
	if err != nil {
		log.Fatalf("report: %v", err)
	}
	defer f.Close()
	rounds, err := bench.ParseRounds(f)
	if err != nil {
		log.Fatalf("report: %v", err)
	}
	sum, err := bench.Summarize(rounds, *hz)
	if err != nil {
		log.Fatalf("report: %v", err)
	}
	if err := write(os.Stdout, sum); err != nil {
		log.Fatalf("report: %v", err)
	}
}

func write(w io.Writer, sum bench.Summary) error {
	if err := bench.WriteTable(w, sum); err != nil {
		return err
	}
	_, err := fmt.Fprintln(w)
	if err != nil {
		return err
	}
	if err := bench.WriteBreakdown(w, sum); err != nil {
		return err
	}
	return bench.WriteTargets(w, sum)
}
