package redissync

import (
	"math/rand/v2"
	"testing"
)

// TestEntryTable: puts, gets, updates in place and deletes (with each's drops) agree
// with a Go map, with keys drawn from a small range so that probes collide and
// deletions move entries back.
func TestEntryTable(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	tab, ref := newEntryTable(rng.Uint64()), map[uint64]digestEntry{}
	check := func(step int) {
		t.Helper()
		if tab.len() != len(ref) {
			t.Fatalf("step %d: %d entries, want %d", step, tab.len(), len(ref))
		}
		for k, want := range ref {
			if got := tab.get(k); got == nil || *got != want {
				t.Fatalf("step %d: entry %d is %v, want %v", step, k, got, want)
			}
		}
	}
	for step := range 20000 {
		k := rng.Uint64N(3000)
		switch op := rng.IntN(10); {
		case op < 5:
			e := digestEntry{content: rng.Uint64(), value: rng.Uint64()}
			tab.put(k, e)
			ref[k] = e
		case op < 8:
			tab.delete(k)
			delete(ref, k)
		default:
			if e := tab.get(k); e != nil {
				e.value++
				r := ref[k]
				r.value++
				ref[k] = r
			} else if _, ok := ref[k]; ok {
				t.Fatalf("step %d: entry %d missing", step, k)
			}
		}
		if step%1000 == 0 {
			check(step)
		}
	}
	check(-1)
	tab.each(func(k uint64, e *digestEntry) bool {
		e.content++
		return k%2 == 0
	})
	for k, e := range ref {
		if k%2 == 0 {
			delete(ref, k)
		} else {
			e.content++
			ref[k] = e
		}
	}
	check(-2)
}

// BenchmarkEntryTableGet: lookups in batches of 1,000 in a table of 10M entries (far
// larger than the caches), with and without touching the batch's cells first.
func BenchmarkEntryTableGet(b *testing.B) {
	rng := rand.New(rand.NewPCG(1, 2))
	tab := newEntryTable(rng.Uint64())
	keys := make([]uint64, 10_000_000)
	for i := range keys {
		keys[i] = rng.Uint64() | 1
		tab.put(keys[i], digestEntry{value: uint64(i)})
	}
	for _, touch := range []bool{false, true} {
		b.Run(map[bool]string{false: "plain", true: "touched"}[touch], func(b *testing.B) {
			var n, off int
			for b.Loop() {
				batch := keys[off : off+1000] // in no order of the table's
				off = (off + 1000) % len(keys)
				if touch {
					tab.touch(batch)
				}
				for _, k := range batch {
					if tab.get(k) != nil {
						n++
					}
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*1000), "ns/get")
		})
	}
}
