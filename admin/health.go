package admin

import (
	"context"
	"net/http"
	"time"

	"go.uber.org/zap"
)

// readyTimeout bounds each readiness check.
const readyTimeout = 2 * time.Second

// healthBody answers /healthz and /readyz.
type healthBody struct {
	Status string            `json:"status"`           // "ok", "ready" or "not_ready"
	Checks map[string]string `json:"checks,omitempty"` // part → "ok" or "unavailable"
	// SyncBacklog is the number of committed changes (by any admin on the store) that Redis
	// has not confirmed for more than 2 s, when not 0.
	SyncBacklog int64 `json:"sync_backlog,omitempty"`
	// Warnings name what is wrong but does not make the admin unready (readyz).
	Warnings []string `json:"warnings,omitempty"`
}

// backlogger is a Readier that also counts the changes Redis has not taken; *redissync.Syncer is one.
type backlogger interface {
	Backlog() int64
}

// healthz answers 200 while the process serves.
func (s *Server) healthz(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, healthBody{Status: "ok"})
}

// readyz answers 200 when the store answers and Redis is reachable and synced (epoch
// marker present), else 503 naming the part that is not. Causes go to the log, not to
// this unauthenticated answer. A non-zero sync backlog (changes committed that Redis
// has not taken) is shown as "sync_backlog" and checks.sync "backlog", without a 503.
// A Redis that may evict sagate's keys is listed in warnings and leaves the answer 200
// (evict.go says why).
func (s *Server) readyz(w http.ResponseWriter, r *http.Request) {
	body := healthBody{Status: "ready", Checks: map[string]string{}}
	check := func(name string, f func(context.Context) error) {
		ctx, cancel := context.WithTimeout(r.Context(), readyTimeout)
		defer cancel()
		if err := f(ctx); err != nil {
			s.log.Warn("readiness check failed", zap.String("part", name), zap.Error(err))
			body.Checks[name] = "unavailable"
			body.Status = "not_ready"
			return
		}
		body.Checks[name] = "ok"
	}
	check("store", s.svc.Ping)
	if s.syncer != nil {
		check("redis", s.syncer.Ready)
		if b, ok := s.syncer.(backlogger); ok {
			if n := b.Backlog(); n > 0 {
				// Said, not failed: the admin still commits changes, and the syncer
				// retries; the redis check says whether Redis is reachable.
				body.SyncBacklog = n
				body.Checks["sync"] = "backlog"
			}
		}
	}
	if risk, ok := s.evict.check(r.Context()); ok && risk.MayEvict {
		body.Warnings = append(body.Warnings, risk.Warning())
	}
	status := http.StatusOK
	if body.Status != "ready" {
		status = http.StatusServiceUnavailable
	}
	writeJSON(w, status, body)
}
