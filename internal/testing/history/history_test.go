package history

import (
	"slices"
	"testing"
	"time"
)

func TestHistoryPossible(t *testing.T) {
	t0 := time.Unix(1000, 0)
	at := func(s float64) time.Time { return t0.Add(time.Duration(s * float64(time.Second))) }
	h := New(true)
	h.Ack(h.Change(false, at(10)), at(11)) // revoke sent at 10, acknowledged at 11
	h.Change(true, at(20))                 // never acknowledged
	const window = time.Second
	tests := []struct {
		name     string
		from, to float64
		want     []bool
	}{
		{"before the revoke", 1, 9, []bool{true}},
		{"while the revoke is sent", 9, 10.5, []bool{true, false}},
		{"inside the propagation window", 11.5, 11.6, []bool{true, false}},
		{"after the window", 12.5, 13, []bool{false}},
		{"change in flight", 21, 30, []bool{false, true}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, want := sortBools(h.Possible(at(tt.from), at(tt.to), window)), sortBools(tt.want)
			if !slices.Equal(got, want) {
				t.Fatalf("possible = %v, want %v", got, want)
			}
		})
	}
}

// sortBools returns b sorted, false first.
func sortBools(b []bool) []bool {
	out := slices.Clone(b)
	slices.SortFunc(out, func(x, y bool) int {
		switch {
		case x == y:
			return 0
		case !x:
			return -1
		}
		return 1
	})
	return out
}

// TestAckWithin: a change acknowledged with an allowance leaves the old value possible
// for the window plus the allowance after the acknowledgement.
func TestAckWithin(t *testing.T) {
	t0 := time.Unix(1000, 0)
	at := func(s float64) time.Time { return t0.Add(time.Duration(s * float64(time.Second))) }
	h := New(true)
	h.AckWithin(h.Change(false, at(10)), at(11), 5*time.Second)
	for _, tt := range []struct {
		at   float64
		want []bool
	}{{16.5, []bool{true, false}}, {17.5, []bool{false}}} {
		if got := h.Possible(at(tt.at), at(tt.at), time.Second); !slices.Equal(got, tt.want) {
			t.Errorf("possible at %v = %v, want %v", tt.at, got, tt.want)
		}
	}
}
