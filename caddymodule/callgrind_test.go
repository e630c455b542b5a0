package caddymodule

import (
	"net/http"
	"os"
	"strconv"
	"syscall"
	"testing"
)

// TestHitLoopCallgrind serves SAGATE_HITLOOP cache hits through ServeHTTP in one call
// of hitLoop, the requests made beforehand, so that callgrind can count a hit's
// instructions (BENCHMARKS.md, "The cache hit, profiled", gives the commands). Without
// SAGATE_HITLOOP it is skipped. It ends the process as soon as it is done: the test's
// cleanup would stop its redis-server, and valgrind's callgrind aborts on the signal of
// a child's exit.
func TestHitLoopCallgrind(t *testing.T) {
	n, _ := strconv.Atoi(os.Getenv("SAGATE_HITLOOP"))
	if n <= 0 {
		t.Skip("SAGATE_HITLOOP is not set")
	}
	f := newHitFixture(t)
	reqs := f.batch(n)
	before := f.h.cache.Stats().Hits
	hitLoop(t, f, reqs)
	if hits := f.h.cache.Stats().Hits - before; hits != uint64(n) {
		t.Fatalf("%d of %d requests were cache hits", hits, n)
	}
	syscall.Exit(0)
}

// hitLoop serves reqs, each a cache hit; callgrind counts its instructions alone
// (--toggle-collect).
//
//go:noinline
func hitLoop(t *testing.T, f *hitFixture, reqs []*http.Request) {
	for _, r := range reqs {
		if err := f.h.ServeHTTP(f.w, r, f.next); err != nil {
			t.Fatal(err)
		}
	}
}
