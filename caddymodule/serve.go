package caddymodule

import (
	"context"
	"io"
	"net/http"
	"slices"
	"time"
	"unsafe"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/sagate/sagate/caddymodule/httpauth"
	"github.com/sagate/sagate/caddymodule/ratelimit"
	"github.com/sagate/sagate/keystore/keycache"
	"github.com/sagate/sagate/keystore/wire"
)

// ServeHTTP lets the request through to next only with a live key that may
// address the request's workspace and project; see the package doc for refusals.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request, next caddyhttp.Handler) error {
	start := h.timeNow()
	repl, _ := r.Context().Value(caddy.ReplacerCtxKey).(*caddy.Replacer)

	// The path first: the project may be read from it, and what is decided on must
	// be the path the upstream reads.
	var d decision
	var project string
	if err := h.cleanPath(r, repl); err != nil {
		d = decision{reason: reasonBadPath, err: err}
	} else {
		// The project comes from the request's headers as the client sent them:
		// evaluate it before any header is touched.
		if h.hasProj && repl != nil {
			project = repl.ReplaceAll(h.Project, "")
		}
		h.decide(r.Context(), &d, r.Header, project, start)
		if d.reason == reasonNone {
			d.limit(start)
		}
	}
	// time.Since reads only the monotonic clock: one clock read instead of two.
	// Requests are a few hundred bytes apart: the address spreads them over the shards.
	metrics.verify.observe(time.Since(start), uintptr(unsafe.Pointer(r))>>8)
	if d.reason != reasonNone {
		metrics.byResult[reasonSpecs[d.reason].result].Inc()
		if h.shadow {
			return h.serveShadow(w, r, d, next)
		}
		h.logRefusal(r, d)
		if h.HandleErrors {
			return h.replies[d.reason].handOver(w, repl, d.reason, d.retryAfter)
		}
		h.replies[d.reason].write(w, d.retryAfter)
		return nil
	}
	metrics.byResult[resultAllowed].Inc()

	id := newIdentity(&d.entry, project, d.role)
	h.injectIdentity(r, id)
	if h.shadow {
		r.Header[DecisionHeader] = []string{decisionAllow}
	}
	if h.asserter != nil {
		if err := h.assert(r, id, start); err != nil {
			return err
		}
	}
	if repl != nil {
		setPlaceholders(repl, id, h.hasProj)
	}
	h.cache.RecordUse(&d.entry, start)
	return h.serveWatched(w, r, next, &d, project)
}

// reasonNone marks an allowed decision.
const reasonNone = numReasons

// decision is the outcome of checking one request.
type decision struct {
	reason reason         // reasonNone: allowed
	entry  keycache.Entry // not Found: no such key
	role   wire.Role
	source keycache.Source
	err    error        // a lookup failure, for the log; never holds the key
	hash   wire.KeyHash // the key's hash, when allowed
	// retryAfter is how long a request refused by the rate limit should wait.
	retryAfter time.Duration
}

// limiter holds the rate limits of every handler of the process: an account's keys
// share one bucket whichever site they call, and a config reload keeps the buckets.
var limiter = ratelimit.New()

// limit applies the rate limit of the allowed decision's account at now: over it, the
// decision becomes reasonRateLimited. Refused requests never reach it, so they do not
// use the account's requests. It does not allocate.
func (d *decision) limit(now time.Time) {
	lim := d.entry.Limit()
	if !lim.Limited() {
		return
	}
	if ok, wait := limiter.Allow(d.entry.ServiceAccountID(), lim, now); !ok {
		d.reason, d.retryAfter = reasonRateLimited, wait
	}
}

// decide checks the request's credentials. It does not allocate on a cache hit.
//
// A key's characters and checksum (wire.CheckKey) are checked only when the local
// cache cannot answer for its hash, before Redis is asked: every key the cache knows,
// and every hash it holds a "no such key" for, passed that check when it was issued or
// first looked up, and no other text has the same SHA-256. The answer for every key is
// the one checking it first gives, and a cache hit does not pay for it.
func (h *Handler) decide(ctx context.Context, d *decision, hdr http.Header, project string, now time.Time) {
	key, cred := httpauth.BearerToken(hdr)
	switch cred {
	case httpauth.CredNone:
		*d = decision{reason: reasonNoKey}
		return
	case httpauth.CredAmbiguous:
		*d = decision{reason: reasonAmbiguous}
		return
	case httpauth.CredMalformed:
		*d = decision{reason: reasonMalformed}
		return
	}
	hash := wire.HashKey(key)
	var ok bool
	if d.entry, d.source, ok = h.cache.LookupLocal(hash, h.policy, now); ok {
		h.decideEntry(d, hash, project, now)
		return
	}
	if wire.CheckKey(key) != nil {
		*d = decision{reason: reasonMalformed}
		return
	}
	h.decideHash(ctx, d, hash, project, now)
}

// decideHash checks the key of hash h for project at now, into d. A decision is
// filled in place: it is a few hundred bytes, which a return by value copies at each level.
func (h *Handler) decideHash(ctx context.Context, d *decision, hash wire.KeyHash, project string, now time.Time) {
	var err error
	d.entry, d.source, err = h.cache.LookupAt(ctx, hash, h.policy, now)
	if err != nil {
		// Whatever went wrong, this key was not checked: never 200, never 401.
		*d = decision{reason: reasonUnavailable, source: d.source, err: err}
		return
	}
	h.decideEntry(d, hash, project, now)
}

// decideEntry decides on d.entry, the lookup's answer (from d.source) for the key of
// hash h, for project at now.
func (h *Handler) decideEntry(d *decision, hash wire.KeyHash, project string, now time.Time) {
	d.reason, d.role = h.refusal(&d.entry, project, now)
	d.err, d.hash, d.retryAfter = nil, wire.KeyHash{}, 0
	if d.reason == reasonNone {
		d.hash = hash
	} else if !d.entry.Found() {
		d.entry = keycache.Entry{}
	}
}

// refusal is why e, the lookup's answer for a key, refuses a request for project at
// now; reasonNone if it lets it in, with the role it has in project (none on a site
// without projects).
func (h *Handler) refusal(e *keycache.Entry, project string, now time.Time) (reason, wire.Role) {
	switch {
	case !e.Found():
		return reasonUnknown, ""
	case !e.Live(now):
		if e.State() == wire.KeyActive {
			return reasonExpired, ""
		}
		return reasonUnknown, ""
	case !h.anyWorkspace && !slices.Contains(h.workspaces, e.Workspace()):
		return reasonWorkspace, ""
	case !h.hasProj:
		return reasonNone, ""
	case project == "":
		return reasonNoProject, ""
	case !validProject(project):
		return reasonBadProject, ""
	}
	role, ok := e.RoleFor(project)
	switch {
	case !ok:
		return reasonNoGrant, ""
	case !role.AtLeast(h.minRole):
		return reasonLowRole, ""
	}
	return reasonNone, role
}

// validProject reports whether p is a project name a grant can exist for:
// ^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$ (keystore.ValidateProject, without "*", which
// names no project of its own, and without the error it allocates).
func validProject(p string) bool {
	if p == "" || len(p) > 128 || !isAlnum(p[0]) {
		return false
	}
	for i := 1; i < len(p); i++ {
		if c := p[i]; !isAlnum(c) && c != '.' && c != '_' && c != '-' {
			return false
		}
	}
	return true
}

func isAlnum(c byte) bool {
	return ('0' <= c && c <= '9') || ('a' <= c && c <= 'z') || ('A' <= c && c <= 'Z')
}

// identity holds the values an allowed request is given, in one allocation per request:
// a later handler that edits a header value in place (request_header's replace does)
// must not change what another request holds. The key id string points into kid.
type identity struct {
	vals [6]string // service account id, name, workspace, key id, project, role
	kid  [keycache.MaxKeyIDLen]byte
}

// Positions in identity.vals.
const (
	idSAID = iota
	idSA
	idWorkspace
	idKeyID
	idProject
	idRole
)

// newIdentity returns the identity of an allowed request.
func newIdentity(e *keycache.Entry, project string, role wire.Role) *identity {
	id := &identity{vals: [6]string{e.ServiceAccountID(), e.ServiceAccount(), e.Workspace(), "", project, string(role)}}
	if n := copy(id.kid[:], e.KeyIDBytes()); n > 0 {
		// kid is never written again: the string is as immutable as any other, and
		// shares the identity's allocation instead of making one more per request.
		id.vals[idKeyID] = unsafe.String(&id.kid[0], n)
	}
	return id
}

// injectIdentity removes every identity header the client sent (stripClient) and
// sets sagate's.
func (h *Handler) injectIdentity(r *http.Request, id *identity) {
	h.stripClient(r)
	// Each slice has cap == len, so that an append copies.
	v := &id.vals
	for _, s := range h.inject {
		r.Header[s.name] = v[s.at : s.at+1 : s.at+1]
	}
}

// stripClient removes every identity header the client sent (and their names from
// Connection), in the headers and the trailers, and drops Authorization unless
// configured not to.
func (h *Handler) stripClient(r *http.Request) {
	hdr := r.Header
	h.strip.Sanitize(hdr)
	if r.Trailer != nil {
		// Declared trailers would reach the upstream after the body: net/http fills
		// r.Trailer with what the client sends once the body has been read, so the
		// trailers are cleaned again at the body's end (and now, for what is known).
		h.strip.Sanitize(r.Trailer)
		r.Body = &trailerSanitizer{ReadCloser: r.Body, trailer: r.Trailer, strip: h.strip}
	}
	if !h.ForwardAuthorization {
		delete(hdr, "Authorization")
	}
}

// logRefusal logs a refused request at debug level (and a lookup failure at warn).
// Only the key's last six characters are logged, never the key.
func (h *Handler) logRefusal(r *http.Request, d decision) {
	level := zapcore.DebugLevel
	if d.reason == reasonUnavailable && h.warnAllowed() {
		level = zapcore.WarnLevel
	}
	if d.err == errStalePath {
		level = zapcore.WarnLevel // a configuration problem, not a client's
	}
	ce := h.logger.Check(level, "request refused")
	if ce == nil {
		return
	}
	ce.Write(h.refusalFields(r, d)...)
}

// refusalFields are the log fields of a refusal: no key, only its last six characters.
func (h *Handler) refusalFields(r *http.Request, d decision) []zap.Field {
	fields := []zap.Field{
		zap.String("result", resultNames[reasonSpecs[d.reason].result]),
		zap.String("reason", reasonSpecs[d.reason].description),
		zap.String("remote_ip", r.RemoteAddr),
	}
	if key, cred := httpauth.BearerKey(r.Header); cred == httpauth.CredKey {
		fields = append(fields, zap.String("key_last6", wire.Last6(key)))
	}
	if d.entry.Found() {
		fields = append(fields, zap.String("key_id", d.entry.KeyID()), zap.String("service_account_id", d.entry.ServiceAccountID()))
	}
	if d.err != nil {
		fields = append(fields, zap.Error(d.err))
	}
	return fields
}

// trailerSanitizer strips identity headers from a request's trailers when its body
// has been read to the end, which is when net/http fills them in. Only requests that
// declare trailers pay for it.
type trailerSanitizer struct {
	io.ReadCloser
	trailer http.Header
	strip   httpauth.Sanitizer
}

func (t *trailerSanitizer) Read(p []byte) (int, error) {
	n, err := t.ReadCloser.Read(p)
	if err == io.EOF {
		t.strip.Sanitize(t.trailer)
	}
	return n, err
}

// warnInterval spaces out the warnings of 503 answers: during a Redis outage every
// request is one, and a warning each would flood the log. The others stay at debug
// level, and sagate_decisions_total{result="unavailable"} counts them all.
const warnInterval = time.Second

// warnAllowed reports whether a 503 may be logged at warn level now (at most once per
// warnInterval per handler).
func (h *Handler) warnAllowed() bool {
	if h.lastWarn == nil {
		return true
	}
	now := time.Now().UnixNano()
	last := h.lastWarn.Load()
	return now-last >= int64(warnInterval) && h.lastWarn.CompareAndSwap(last, now)
}
