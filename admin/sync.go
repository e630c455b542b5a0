package admin

import (
	"context"
	"net/http"
	"strconv"
	"strings"
	"sync"

	"github.com/sagate/sagate/keystore"
)

// SyncHeader is the header of every answer to a request that committed a change: whether
// the change has reached Redis, from which sidecars read. Its value is "applied", or
// `pending; reason="redis unreachable"` (or reason="redis sync failed") when the change is
// committed in the store but Redis did not take it: the admin retries until it does, and
// until then sidecars may act on the old state (a revoked key may still work).
const SyncHeader = "Sagate-Sync"

// syncHeaderValue is the SyncHeader value of a report; "" when nothing was committed.
func syncHeaderValue(r *keystore.SyncReport) string {
	switch r.State() {
	case keystore.SyncApplied:
		return string(keystore.SyncApplied)
	case keystore.SyncPending:
		return string(keystore.SyncPending) + "; reason=" + strconv.Quote(r.Reason())
	}
	return ""
}

// syncWriter sets SyncHeader from the request's report when the answer's header is
// written: the handler has committed (or not) by then.
type syncWriter struct {
	http.ResponseWriter
	report *keystore.SyncReport
	once   sync.Once
}

func (w *syncWriter) setHeader() {
	w.once.Do(func() {
		if v := syncHeaderValue(w.report); v != "" {
			w.Header().Set(SyncHeader, v)
		}
	})
}

func (w *syncWriter) WriteHeader(code int) {
	w.setHeader()
	w.ResponseWriter.WriteHeader(code)
}

func (w *syncWriter) Write(b []byte) (int, error) {
	w.setHeader()
	return w.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController reach the underlying writer.
func (w *syncWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// SyncStatus is what the admin said about a change reaching Redis (SyncHeader). The
// zero value means the answers carried no SyncHeader: nothing was committed.
type SyncStatus struct {
	State  string `json:"state"`            // "", "applied" or "pending"
	Reason string `json:"reason,omitempty"` // when pending: "redis unreachable" or "redis sync failed"
}

// Pending reports whether a committed change has not reached Redis yet.
func (s SyncStatus) Pending() bool { return s.State == string(keystore.SyncPending) }

// Notice describes a pending change for a person ("not yet at the sidecars: Redis
// unreachable, retrying"); "" when nothing is pending.
func (s SyncStatus) Notice() string {
	if !s.Pending() {
		return ""
	}
	reason := s.Reason
	if reason == "" {
		reason = keystore.SyncReasonFailed
	}
	if strings.HasPrefix(reason, "redis") {
		reason = "Redis" + reason[len("redis"):]
	}
	return "not yet at the sidecars: " + reason + ", retrying"
}

// ParseSyncHeader parses a SyncHeader value; an unknown value is pending with its reason unknown.
func ParseSyncHeader(v string) SyncStatus {
	state, params, _ := strings.Cut(strings.TrimSpace(v), ";")
	st := SyncStatus{State: strings.TrimSpace(state)}
	switch st.State {
	case "":
		return SyncStatus{}
	case string(keystore.SyncApplied):
		return st
	case string(keystore.SyncPending):
	default:
		return SyncStatus{State: string(keystore.SyncPending), Reason: keystore.SyncReasonFailed}
	}
	for p := range strings.SplitSeq(params, ";") {
		k, val, ok := strings.Cut(strings.TrimSpace(p), "=")
		if !ok || strings.TrimSpace(k) != "reason" {
			continue
		}
		if uq, err := strconv.Unquote(strings.TrimSpace(val)); err == nil {
			st.Reason = uq
		} else {
			st.Reason = strings.TrimSpace(val)
		}
	}
	return st
}

// syncTracker collects the SyncHeader of the answers to calls made with one context.
type syncTracker struct {
	mu sync.Mutex
	st *SyncStatus
}

type syncTrackerKey struct{}

// TrackSync returns a context that, used with the Client's calls, fills the returned
// status from their answers' SyncHeader: "pending" once any call's change did not reach
// Redis, else "applied" once any call committed. Read it after the calls return.
func TrackSync(ctx context.Context) (context.Context, *SyncStatus) {
	st := &SyncStatus{}
	return context.WithValue(ctx, syncTrackerKey{}, &syncTracker{st: st}), st
}

// noteSync records an answer's SyncHeader in ctx's tracker, if any.
func noteSync(ctx context.Context, h http.Header) {
	t, ok := ctx.Value(syncTrackerKey{}).(*syncTracker)
	if !ok {
		return
	}
	got := ParseSyncHeader(h.Get(SyncHeader))
	t.mu.Lock()
	defer t.mu.Unlock()
	if got.State == "" || t.st.Pending() {
		return
	}
	*t.st = got
}

var _ http.ResponseWriter = (*syncWriter)(nil)
