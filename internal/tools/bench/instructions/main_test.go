package main

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"
)

// TestReadConfig: batches are read in numeric order (10 after 2), the final dump that
// callgrind writes at exit (no batch number) is left out, and each batch takes its
// own /debug/vars files.
func TestReadConfig(t *testing.T) {
	dir := t.TempDir()
	write := func(name, text string) {
		t.Helper()
		if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	for _, k := range []int{2, 10, 1} {
		write(fmt.Sprintf("cg-sagate-warm.4242.out.%d", k), fmt.Sprintf("events: Ir\nfn=(1) f\n1 %d\ntotals: %d\n", k, k*1000))
		write(fmt.Sprintf("vars-sagate-warm.%d.before.json", k), `{"memstats": {"TotalAlloc": 100, "Mallocs": 1}}`)
		write(fmt.Sprintf("vars-sagate-warm.%d.after.json", k), fmt.Sprintf(`{"memstats": {"TotalAlloc": %d, "Mallocs": 2}}`, 100+k))
	}
	write("cg-sagate-warm.4242.out", "events: Ir\nfn=(1) f\n1 5\ntotals: 999999\n") // at exit
	write("cg-plain.4243.out.1", "events: Ir\nfn=(1) f\n1 5\ntotals: 5\n")          // another configuration

	ds, err := readConfig(dir, "sagate-warm", 10)
	if err != nil {
		t.Fatal(err)
	}
	var totals, bytes []int64
	for _, d := range ds {
		totals = append(totals, d.Profile.Total)
		bytes = append(bytes, int64(d.After.TotalAlloc-d.Before.TotalAlloc))
	}
	if fmt.Sprint(totals) != "[1000 2000 10000]" || fmt.Sprint(bytes) != "[1 2 10]" {
		t.Errorf("totals %v, heap bytes %v; want [1000 2000 10000] and [1 2 10]", totals, bytes)
	}

	if _, err := readConfig(dir, "headers", 10); err == nil {
		t.Error("a configuration without dumps: no error")
	}
	if err := os.Remove(filepath.Join(dir, "vars-sagate-warm.10.after.json")); err != nil {
		t.Fatal(err)
	}
	if _, err := readConfig(dir, "sagate-warm", 10); err == nil {
		t.Error("a batch without its /debug/vars: no error")
	}
}
