// Command instructions prints the instructions-per-request table of `make bench`
// from callgrind dumps: for each configuration, Caddy ran under valgrind's callgrind
// with its counters zeroed before and dumped after each batch of -n requests, and its
// /debug/vars read before and after each batch. Instructions executed do not depend on
// what else the machine is doing, so configurations compare to within a fraction of
// a per cent where the wall-clock rounds vary by several.
//
// The files of configuration C, batch K, in -dir: cg-C.PID.out.K (callgrind's dump),
// vars-C.K.before.json and vars-C.K.after.json.
//
//	instructions -dir DIR -n 1000 plain sagate-warm headers
//
// The counts are of user-space instructions: the kernel's work for a request (its
// network system calls) is not in them.
package main

import (
	"flag"
	"fmt"
	"log"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	"github.com/sagate/sagate/internal/tools/bench"
)

// The middleware measured on its own, and the call that leaves it (the next handler).
const (
	ownFunc  = "github.com/sagate/sagate/caddymodule.(*Handler).ServeHTTP"
	nextFunc = "github.com/caddyserver/caddy/v2/modules/caddyhttp.HandlerFunc.ServeHTTP"
)

func main() {
	dir := flag.String("dir", "", "directory of the dumps")
	n := flag.Int("n", 0, "requests per batch")
	flag.Parse()
	if *dir == "" || *n <= 0 || flag.NArg() == 0 {
		log.Fatal("usage: instructions -dir DIR -n REQUESTS CONFIG...")
	}
	dumps := map[string][]bench.InstrDump{}
	for _, c := range flag.Args() {
		ds, err := readConfig(*dir, c, *n)
		if err != nil {
			log.Fatalf("instructions: %v", err)
		}
		dumps[c] = ds
	}
	rows, err := bench.SummarizeInstructions(flag.Args(), dumps, ownFunc, nextFunc)
	if err != nil {
		log.Fatalf("instructions: %v", err)
	}
	if err := bench.WriteInstructions(os.Stdout, rows); err != nil {
		log.Fatalf("instructions: %v", err)
	}
}

// readConfig reads every batch of configuration c, in batch order.
func readConfig(dir, c string, n int) ([]bench.InstrDump, error) {
	files, err := filepath.Glob(filepath.Join(dir, "cg-"+c+".*.out.*"))
	if err != nil {
		return nil, err
	}
	batch := func(f string) int {
		k, _ := strconv.Atoi(f[strings.LastIndexByte(f, '.')+1:])
		return k
	}
	sort.Slice(files, func(i, j int) bool { return batch(files[i]) < batch(files[j]) })
	var out []bench.InstrDump
	for _, f := range files {
		k := batch(f)
		if k <= 0 {
			return nil, fmt.Errorf("%s: not a numbered dump", f)
		}
		d := bench.InstrDump{Requests: n}
		if d.Profile, err = readProfile(f); err != nil {
			return nil, err
		}
		for _, side := range []struct {
			name string
			into *bench.MemCounters
		}{{"before", &d.Before}, {"after", &d.After}} {
			if *side.into, err = readVars(filepath.Join(dir, fmt.Sprintf("vars-%s.%d.%s.json", c, k, side.name))); err != nil {
				return nil, err
			}
		}
		out = append(out, d)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("configuration %s: no dump in %s", c, dir)
	}
	return out, nil
}

func readProfile(name string) (*bench.Callgrind, error) {
	f, err := os.Open(name)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	cg, err := bench.ParseCallgrind(f)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	return cg, nil
}

func readVars(name string) (bench.MemCounters, error) {
	f, err := os.Open(name)
	if err != nil {
		return bench.MemCounters{}, err
	}
	defer f.Close()
	m, err := bench.ParseDebugVars(f)
	if err != nil {
		return m, fmt.Errorf("%s: %w", name, err)
	}
	return m, nil
}
