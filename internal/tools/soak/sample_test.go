package main

import (
	"os"
	"testing"
)

func TestThirdsAndProblems(t *testing.T) {
	mk := func(rss []int64, g []int) []sample {
		var s []sample
		for i := range rss {
			s = append(s, sample{rssKB: rss[i], goroutines: g[i]})
		}
		return s
	}
	tol := flatness{rssFrac: 0.25, rssSlack: 8 << 10, gFrac: 0.25, gSlack: 10}
	tests := []struct {
		name     string
		s        []sample
		problems int
	}{
		{"flat", mk([]int64{50000, 52000, 51000, 50500, 51500, 50800}, []int{60, 62, 61, 60, 63, 61}), 0},
		{"memory leak", mk([]int64{50000, 50000, 80000, 100000, 120000, 140000}, []int{60, 60, 60, 60, 60, 60}), 1},
		{"goroutine leak", mk([]int64{50000, 50000, 50000, 50000, 50000, 50000}, []int{60, 60, 120, 200, 300, 400}), 1},
		{"both", mk([]int64{50000, 50000, 80000, 100000, 120000, 140000}, []int{60, 60, 120, 200, 300, 400}), 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g, err := thirds(tt.s)
			if err != nil {
				t.Fatal(err)
			}
			if p := g.problems(tol); len(p) != tt.problems {
				t.Fatalf("problems = %q, want %d", p, tt.problems)
			}
		})
	}
	if _, err := thirds(mk([]int64{1, 2}, []int{1, 2})); err == nil {
		t.Fatal("two samples judged")
	}
}

func TestParseGoroutineHeader(t *testing.T) {
	tests := []struct {
		line string
		want int
		ok   bool
	}{
		{"goroutine profile: total 42\n", 42, true},
		{"goroutine profile: total x\n", 0, false},
		{"<html>", 0, false},
	}
	for _, tt := range tests {
		got, err := parseGoroutineHeader(tt.line)
		if (err == nil) != tt.ok || got != tt.want {
			t.Errorf("parseGoroutineHeader(%q) = %d, %v", tt.line, got, err)
		}
	}
}

func TestReadRSSOfSelf(t *testing.T) {
	kb, err := readRSS(os.Getpid())
	if err != nil || kb <= 0 {
		t.Fatalf("readRSS(self) = %d, %v", kb, err)
	}
}
