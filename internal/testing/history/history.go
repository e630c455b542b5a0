// Package history keeps what an admin acknowledged, so that load tests (the soak, the
// chaos test) can tell a right answer of a sidecar from a wrong one: a History is the
// sequence of values one thing (a key's liveness, an account's role in a project) took
// through acknowledged changes, and says which of them a sidecar could rightly act on at
// a given time. It is not safe for concurrent use: callers guard it.
package history

import (
	"fmt"
	"math"
	"strings"
	"time"
)

// Never is the end of a change that has not been acknowledged (or whose answer was
// lost): its old value may stay in effect for ever.
var Never = time.Unix(math.MaxInt32, 0)

// History is the values one thing took. A value is "possible" at time t when the admin
// may have had it in effect at t, as a sidecar could see it: from the moment the change
// that set it was sent, until the change that replaced it was acknowledged plus the
// propagation window (plus the change's own extra allowance, see AckWithin).
type History[T comparable] struct {
	vals  []T
	sent  []time.Time     // sent[i]: when the change that set vals[i] was sent (vals[0]: zero)
	acked []time.Time     // acked[i]: when that change was acknowledged (Never: not yet)
	extra []time.Duration // extra[i]: allowance added to the window for that change
}

// New returns a history whose first value is v, in effect since ever.
func New[T comparable](v T) *History[T] {
	return &History[T]{vals: []T{v}, sent: []time.Time{{}}, acked: []time.Time{{}}, extra: []time.Duration{0}}
}

// Change records a change to v sent at sent; it returns its index for Ack.
func (h *History[T]) Change(v T, sent time.Time) int {
	h.vals = append(h.vals, v)
	h.sent = append(h.sent, sent)
	h.acked = append(h.acked, Never)
	h.extra = append(h.extra, 0)
	return len(h.vals) - 1
}

// Ack records when change i was acknowledged.
func (h *History[T]) Ack(i int, at time.Time) { h.acked[i] = at }

// AckWithin records when change i was acknowledged, and that it may take extra more
// than the window to be in effect (a change acknowledged as not yet in Redis).
func (h *History[T]) AckWithin(i int, at time.Time, extra time.Duration) {
	h.acked[i], h.extra[i] = at, extra
}

// Acked reports whether the latest change was acknowledged (or there was none): only
// then is Last the value in effect for sure.
func (h *History[T]) Acked() bool { return !h.acked[len(h.acked)-1].Equal(Never) }

// Last is the value of the latest change.
func (h *History[T]) Last() T { return h.vals[len(h.vals)-1] }

// Possible returns the values that may have been in effect at some time in [from, to],
// with window the propagation allowance after an acknowledgement.
func (h *History[T]) Possible(from, to time.Time, window time.Duration) []T {
	var out []T
	for j := range h.vals {
		start := h.sent[j]
		end := Never
		if j+1 < len(h.vals) && !h.acked[j+1].Equal(Never) {
			end = h.acked[j+1].Add(window + h.extra[j+1])
		}
		if !start.After(to) && !end.Before(from) && !Contains(out, h.vals[j]) {
			out = append(out, h.vals[j])
		}
	}
	return out
}

// Contains reports whether s holds v.
func Contains[T comparable](s []T, v T) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}

// String lists the values with when each change was sent and acknowledged, for a
// report of a wrong answer.
func (h *History[T]) String() string {
	var b strings.Builder
	for j, v := range h.vals {
		if j == 0 {
			fmt.Fprintf(&b, "%v", v)
			continue
		}
		acked := "never"
		if !h.acked[j].Equal(Never) {
			acked = h.acked[j].Format("15:04:05.000")
			if h.extra[j] > 0 {
				acked += fmt.Sprintf(" (+%v)", h.extra[j])
			}
		}
		fmt.Fprintf(&b, "; %v sent %s acked %s", v, h.sent[j].Format("15:04:05.000"), acked)
	}
	return b.String()
}
