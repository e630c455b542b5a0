package caddymodule

import (
	"fmt"
	"testing"

	"github.com/caddyserver/caddy/v2"
	"github.com/prometheus/client_golang/prometheus"
)

// A reload that replaces the shared cache (other cache settings) keeps the cache
// counters where they were: the old cache's counts stay in the totals.
func TestCaddyCacheCountersSurviveCacheReplacement(t *testing.T) {
	st := newStore(t)
	up := newUpstream(t)
	s1 := newSidecarURL(t)
	config := func(size int) string {
		return globalOptions + fmt.Sprintf(`
%s {
	sagate %s {
		%s
		cache_size %d
	}
	reverse_proxy %s
}
`, s1.url, st.sidecarURL(), trustedAny(t), size, up.URL)
	}
	reg := prometheus.NewRegistry()
	if err := registerMetrics(reg); err != nil {
		t.Fatal(err)
	}
	lookups := func() float64 {
		t.Helper()
		mfs, err := reg.Gather()
		if err != nil {
			t.Fatal(err)
		}
		var n float64
		for _, mf := range mfs {
			switch mf.GetName() {
			case "sagate_cache_hits_total", "sagate_cache_misses_total":
				n += mf.GetMetric()[0].GetCounter().GetValue()
			}
		}
		return n
	}

	loadCaddy(t, config(1000))
	first := sharedCaches()
	a := st.newAccount("alice", "ml-team", nil)
	s1.waitStatus(t, "allowed", a.key, 200)
	s1.waitStatus(t, "allowed again", a.key, 200)
	before := lookups()
	if before < 2 {
		t.Fatalf("%v cache lookups counted after two requests", before)
	}

	loadCaddy(t, config(2000))
	if second := sharedCaches(); len(second) != 1 || second[0] == first[0] {
		t.Fatal("the reload with another cache_size kept the old cache")
	}
	if after := lookups(); after < before {
		t.Fatalf("cache lookups went from %v to %v when the reload replaced the cache", before, after)
	}
	s1.waitStatus(t, "allowed after the reload", a.key, 200)
	if after := lookups(); after < before+1 {
		t.Fatalf("cache lookups %v after a request on the new cache, want at least %v", after, before+1)
	}
	if err := caddy.Stop(); err != nil {
		t.Fatal(err)
	}
	if after := lookups(); after < before+1 {
		t.Fatalf("cache lookups went down to %v when the last config stopped", after)
	}
}
