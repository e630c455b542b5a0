package caddymodule

import (
	"errors"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap/zapcore"
)

// Modes of the handler (Handler.Mode).
const (
	// ModeEnforce refuses what does not pass: the default.
	ModeEnforce = "enforce"
	// ModeShadow decides as ModeEnforce does but forwards every request, telling the
	// upstream what would have happened in DecisionHeader.
	ModeShadow = "shadow"
)

// DecisionHeader tells the upstream, in shadow mode, what enforce mode would have
// done: "allow", or "refuse; status=401; reason=unknown". A client's copy is always
// removed, in every mode: an upstream that reads it must be able to trust it.
const DecisionHeader = "Sagate-Decision"

// sagateHeaders are the headers sagate itself sends the upstream, besides the
// identity headers: removed from every client request, whatever the mode.
var sagateHeaders = []string{DecisionHeader, AssertionHeader}

// reasonNames are the refusals as the shadow metric's reason label and
// DecisionHeader name them: stable, and never anything the client sent.
var reasonNames = [numReasons]string{
	reasonNoKey:       "no_key",
	reasonAmbiguous:   "ambiguous",
	reasonBadPath:     "bad_path",
	reasonMalformed:   "malformed",
	reasonUnknown:     "unknown",
	reasonExpired:     "expired",
	reasonWorkspace:   "workspace",
	reasonNoProject:   "no_project",
	reasonBadProject:  "bad_project",
	reasonNoGrant:     "no_grant",
	reasonLowRole:     "low_role",
	reasonUnavailable: "unavailable",
	reasonRateLimited: "rate_limited",
}

// decisionValues are DecisionHeader's values of the refusals, rendered once.
var decisionValues = func() [numReasons]string {
	var vs [numReasons]string
	for i, spec := range reasonSpecs {
		vs[i] = "refuse; status=" + strconv.Itoa(spec.status) + "; reason=" + reasonNames[i]
	}
	return vs
}()

// decisionAllow is DecisionHeader's value of an allowed request.
const decisionAllow = "allow"

// shadowMetrics count what shadow mode let through that enforce mode would have
// refused. Process-wide, like the other metrics.
var shadowMetrics = struct {
	once     sync.Once
	refusals *prometheus.CounterVec
	byReason [numReasons]prometheus.Counter
}{}

func initShadowMetrics() {
	shadowMetrics.once.Do(func() {
		shadowMetrics.refusals = prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "sagate_shadow_refusals_total",
			Help: "Requests a sagate handler in shadow mode forwarded that enforce mode would have refused, by reason.",
		}, []string{"reason"})
		for i, name := range reasonNames {
			shadowMetrics.byReason[i] = shadowMetrics.refusals.WithLabelValues(name)
		}
	})
}

// registerRolloutMetrics puts the collectors of shadow mode, assertions and closed
// streams on reg; registering them again is not an error.
func registerRolloutMetrics(reg prometheus.Registerer) error {
	initShadowMetrics()
	initStreamMetrics()
	if reg == nil {
		return nil
	}
	for _, c := range []prometheus.Collector{shadowMetrics.refusals, streamMetrics.closed} {
		if err := reg.Register(c); err != nil {
			var are prometheus.AlreadyRegisteredError
			if !errors.As(err, &are) {
				return err
			}
		}
	}
	return nil
}

// validateMode checks Handler.Mode.
func validateMode(mode string) error {
	switch mode {
	case "", ModeEnforce, ModeShadow:
		return nil
	}
	return errors.New(`mode must be "enforce" or "shadow"`)
}

// serveShadow forwards a request that enforce mode would refuse (d): counted, logged
// without secrets, stripped of every identity header the client sent, and marked
// with DecisionHeader. No identity header is set: only keys that pass get them.
func (h *Handler) serveShadow(w http.ResponseWriter, r *http.Request, d decision, next caddyhttp.Handler) error {
	shadowMetrics.byReason[d.reason].Inc()
	h.logShadow(r, d)
	h.stripClient(r)
	r.Header[DecisionHeader] = []string{decisionValues[d.reason]}
	return next.ServeHTTP(w, r)
}

// shadowLogInterval spaces out the info-level log lines of shadow mode: while an API
// without keys is being moved, most requests are would-be refusals. The others are
// logged at debug level; sagate_shadow_refusals_total counts them all.
const shadowLogInterval = time.Second

// logShadow logs a would-be refusal: at info level at most once per
// shadowLogInterval per handler, else at debug level.
func (h *Handler) logShadow(r *http.Request, d decision) {
	level := zapcore.DebugLevel
	if now := time.Now().UnixNano(); h.lastShadowLog != nil {
		last := h.lastShadowLog.Load()
		if now-last >= int64(shadowLogInterval) && h.lastShadowLog.CompareAndSwap(last, now) {
			level = zapcore.InfoLevel
		}
	}
	ce := h.logger.Check(level, "request would be refused (shadow mode: forwarded)")
	if ce == nil {
		return
	}
	ce.Write(h.refusalFields(r, d)...)
}
