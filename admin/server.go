package admin

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/netip"
	"path"
	"slices"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/redis/go-redis/v9"
	"go.uber.org/zap"

	"github.com/sagate/sagate/keystore"
)

// Readier reports whether a dependency can serve; *redissync.Syncer is one.
type Readier interface {
	Ready(ctx context.Context) error
}

// Config configures a Server.
type Config struct {
	// Token is the token of operator "admin" (SAGATE_ADMIN_TOKEN), presented as a Bearer
	// credential. At least MinTokenLen characters and MinTokenBits of estimated entropy
	// (CheckToken); required unless OperatorsFile is set. It is never logged.
	Token string
	// OperatorsFile names more operator tokens, one "NAME TOKEN" or "NAME sha256:HEX" a
	// line. It must be open to its owner only (mode 0600 or stricter). It is checked every
	// OperatorsFileInterval while serving, and what it says then applies: a line that does
	// not parse is skipped (and logged with its number); a file that is gone or cannot be
	// read means no operator of the file. "": Token only.
	OperatorsFile string
	// OperatorsFileInterval is how often the operators file is checked for changes.
	// Default: DefaultOperatorsFileInterval (2s).
	OperatorsFileInterval time.Duration
	// ProxyUserHeader names the header in which an authenticating proxy sends a person's
	// name. "": no people. Honoured only from TrustedProxies; from anywhere else it is 401.
	ProxyUserHeader string
	// TrustedProxies are the addresses ProxyUserHeader is taken from.
	TrustedProxies []netip.Prefix
	// Service does the work. Required.
	Service *keystore.Service
	// Syncer is asked by /readyz whether Redis is reachable and synced. nil: /readyz checks the store only.
	Syncer Readier
	// Redis, if set, is asked whether it may evict sagate's keys (redisops.CheckEviction):
	// at Serve, every 10s while serving, and on each /readyz. The answer is logged when
	// it changes, exported as sagate_redis_may_evict and listed in /readyz's warnings
	// (evict.go). nil: not checked.
	Redis redis.UniversalClient
	// Logger for the access log and failures. Default: zap.NewNop().
	Logger *zap.Logger
	// Registry receives the admin's metrics (and the Go and process collectors) and is
	// served on /metrics. Pass the same registry to keystore.ServiceOptions.Registerer and
	// redissync.Config.Registerer. Default: a new registry.
	Registry *prometheus.Registry
	// MaxBodyBytes bounds a request body; larger is 413. Default: DefaultMaxBodyBytes (64 KiB).
	MaxBodyBytes int64
	// Console serves the web console (package admin/console) under /console/. Default: off.
	Console bool
	// ConsoleSecureCookies marks the console's cookies Secure on requests that arrived
	// over plain HTTP too, for a console behind a proxy that terminates TLS
	// (console.Config.SecureCookies). Cookies of requests over TLS are always Secure.
	// Default: false.
	ConsoleSecureCookies bool
}

// Server is the admin HTTP API as an http.Handler. It is safe for concurrent use.
type Server struct {
	svc      *keystore.Service
	syncer   Readier
	log      *zap.Logger
	registry *prometheus.Registry
	metrics  *metrics
	evict    *evictWatch
	maxBody  int64
	mux      *http.ServeMux
	ops      *operators // only hashes are kept, so that no token can leak from a dump of the struct
	opsEvery time.Duration
	patterns []string // every pattern registered on mux, in order

	userHeader     string
	trustedProxies []netip.Prefix
	apiRoutes      []string // every /v1 pattern, in the order registered
}

// NewServer validates cfg and returns the admin API handler.
func NewServer(cfg Config) (*Server, error) {
	if cfg.Service == nil {
		return nil, errors.New("creating admin server: no keystore service")
	}
	if cfg.Token == "" && cfg.OperatorsFile == "" {
		return nil, errors.New("creating admin server: no admin token and no operators file")
	}
	if cfg.Token != "" {
		if err := CheckToken(cfg.Token); err != nil {
			return nil, fmt.Errorf("creating admin server: %w", err)
		}
	}
	s := &Server{
		svc:      cfg.Service,
		syncer:   cfg.Syncer,
		log:      cfg.Logger,
		registry: cfg.Registry,
		maxBody:  cfg.MaxBodyBytes,
		mux:      http.NewServeMux(),

		userHeader:     http.CanonicalHeaderKey(cfg.ProxyUserHeader),
		trustedProxies: cfg.TrustedProxies,
	}
	if s.log == nil {
		s.log = zap.NewNop()
	}
	if s.userHeader != "" && len(s.trustedProxies) == 0 {
		return nil, errors.New("creating admin server: a proxy user header needs trusted proxies")
	}
	ops, err := newOperators(cfg.Token, cfg.OperatorsFile, s.log)
	if err != nil {
		return nil, fmt.Errorf("creating admin server: %w", err)
	}
	s.ops = ops
	s.opsEvery = cfg.OperatorsFileInterval
	if s.opsEvery <= 0 {
		s.opsEvery = DefaultOperatorsFileInterval
	}
	if s.registry == nil {
		s.registry = prometheus.NewRegistry()
	}
	if s.maxBody <= 0 {
		s.maxBody = DefaultMaxBodyBytes
	}
	m, err := newMetrics(s.registry)
	if err != nil {
		return nil, fmt.Errorf("creating admin server: registering metrics: %w", err)
	}
	s.metrics = m
	if s.evict, err = newEvictWatch(cfg.Redis, s.registry, s.log); err != nil {
		return nil, fmt.Errorf("creating admin server: registering metrics: %w", err)
	}
	s.routes()
	if cfg.Console {
		if err := s.mountConsole(cfg.ConsoleSecureCookies); err != nil {
			return nil, err
		}
	}
	return s, nil
}

// Routes returns the pattern of every /v1 route ("GET /v1/whoami", …).
func (s *Server) Routes() []string { return slices.Clone(s.apiRoutes) }

// Registry returns the registry served on /metrics.
func (s *Server) Registry() *prometheus.Registry { return s.registry }

// routes registers every route of the admin HTTP API (v1).
func (s *Server) routes() {
	const (
		ws   = "/v1/workspaces/{ws}"
		sa   = ws + "/service-accounts/{sa}"
		key  = sa + "/keys/{key}"
		proj = ws + "/projects/{project}/service-accounts"
	)
	s.handle("POST /v1/workspaces", s.createWorkspace)
	s.handle("GET /v1/workspaces", s.listWorkspaces)
	s.handle("PATCH "+ws, s.updateWorkspace)
	s.handle("POST "+ws+"/service-accounts", s.createServiceAccount)
	s.handle("GET "+ws+"/service-accounts", s.listServiceAccounts)
	s.handle("GET "+sa, s.getServiceAccount)
	s.handle("PATCH "+sa, s.updateServiceAccount)
	s.handle("DELETE "+sa, s.deleteServiceAccount)
	s.handle("POST "+sa+"/deactivate", s.deactivateServiceAccount)
	s.handle("POST "+sa+"/reactivate", s.reactivateServiceAccount)
	s.handle("GET "+sa+"/projects", s.listAccountGrants)
	s.handle("POST "+sa+"/keys", s.createKey)
	s.handle("GET "+sa+"/keys", s.listKeys)
	s.handle("POST "+sa+"/keys/revoke-all", s.revokeAllKeys)
	s.handle("POST "+key+"/rotate", s.rotateKey)
	s.handle("POST "+key+"/deactivate", s.deactivateKey)
	s.handle("POST "+key+"/activate", s.activateKey)
	s.handle("DELETE "+key, s.revokeKey)
	s.handle("PUT "+proj+"/{sa}", s.setGrant)
	s.handle("DELETE "+proj+"/{sa}", s.removeGrant)
	s.handle("GET "+proj, s.listGrants)
	s.handle("GET /v1/audit", s.listAudit)
	s.accessRoutes()
	s.groupRoutes()
	s.keyReadRoutes()

	s.open(OpenAPIPath, http.HandlerFunc(serveOpenAPI))
	s.open("/healthz", http.HandlerFunc(s.healthz))
	s.open("/readyz", http.HandlerFunc(s.readyz))
	s.open("/metrics", promhttp.HandlerFor(s.registry, promhttp.HandlerOpts{Registry: s.registry}))
}

// open registers a GET route that needs no token and sets no audit actor.
func (s *Server) open(path string, h http.Handler) {
	s.patterns = append(s.patterns, "GET "+path)
	s.mux.Handle("GET "+path, h)
}

// apiFunc handles one /v1 route; an error becomes the JSON error answer.
type apiFunc func(w http.ResponseWriter, r *http.Request) error

// handle registers an API route: it sets SyncHeader on the answer when the request
// committed a change, and answers errors. The caller's principal is in the request's
// context (ServeHTTP).
func (s *Server) handle(pattern string, f apiFunc) {
	s.patterns = append(s.patterns, pattern)
	s.apiRoutes = append(s.apiRoutes, pattern)
	s.mux.HandleFunc(pattern, func(w http.ResponseWriter, r *http.Request) {
		var err error
		if len(r.Header.Values(ActorHeader)) > 0 {
			err = badRequest(ActorHeader + " is not accepted: the audit trail records the authenticated caller; drop the header")
		} else {
			ctx, report := keystore.WithSyncReport(r.Context())
			r = r.WithContext(ctx)
			w = &syncWriter{ResponseWriter: w, report: report}
			err = f(w, r)
		}
		if err != nil {
			s.writeError(w, r, err)
		}
	})
}

// ServeHTTP authenticates /v1 requests (a sak_ key is checked live here, once for every
// route), refuses state changes a browser was made to send from another site
// (crossSite), routes them, and records each in the metrics and the access log.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	sw := &statusWriter{ResponseWriter: w}
	h, pattern := s.mux.Handler(r)
	r.Pattern = pattern // for the log and metrics of requests that stop before the mux
	defer func() {
		if p := recover(); p != nil {
			if p == http.ErrAbortHandler {
				panic(p)
			}
			s.log.Error("admin handler panicked", zap.String("route", routeOf(r)), zap.Any("panic", p))
			if sw.status == 0 {
				writeErrorBody(sw, http.StatusInternalServerError, CodeInternal, "internal error; see the admin's logs")
			}
		}
		s.observe(r, sw.status, start)
	}()
	if needsToken(r.URL.Path) {
		p, err := s.authenticate(r)
		var ae *authError
		switch {
		case errors.As(err, &ae):
			unauthenticated(sw, ae.msg)
			return
		case err != nil:
			s.writeError(sw, r, err)
			return
		}
		r = r.WithContext(keystore.WithPrincipal(r.Context(), p))
		if pattern != "" {
			if err := crossSite(r); err != nil {
				s.writeError(sw, r, err)
				return
			}
		}
	}
	if pattern == "" {
		s.unrouted(sw, r, h)
		return
	}
	s.mux.ServeHTTP(sw, r)
}

// needsToken reports whether path is under /v1, after the cleaning the mux applies, and
// is not OpenAPIPath (see serveOpenAPI for why the description is open).
func needsToken(p string) bool {
	p = path.Clean("/" + p)
	return (p == "/v1" || strings.HasPrefix(p, "/v1/")) && p != OpenAPIPath
}

// unrouted answers a request that matched no pattern: the mux's 404 and 405 become JSON
// errors (405 keeps its Allow header); anything else the mux answers (a redirect to the
// cleaned path) passes through.
func (s *Server) unrouted(w http.ResponseWriter, r *http.Request, h http.Handler) {
	rec := &captureWriter{header: http.Header{}}
	h.ServeHTTP(rec, r)
	switch rec.status {
	case http.StatusNotFound:
		writeErrorBody(w, http.StatusNotFound, CodeNotFound, "no such route")
	case http.StatusMethodNotAllowed:
		allow := rec.header.Get("Allow")
		w.Header().Set("Allow", allow)
		writeErrorBody(w, http.StatusMethodNotAllowed, CodeMethodNotAllowed, "method not allowed; allowed: "+allow)
	default:
		for k, v := range rec.header {
			w.Header()[k] = v
		}
		w.WriteHeader(rec.status)
		_, _ = w.Write(rec.body.Bytes())
	}
}

// captureWriter records an answer instead of sending it.
type captureWriter struct {
	header http.Header
	status int
	body   bytes.Buffer
}

func (c *captureWriter) Header() http.Header { return c.header }
func (c *captureWriter) WriteHeader(code int) {
	if c.status == 0 {
		c.status = code
	}
}
func (c *captureWriter) Write(b []byte) (int, error) {
	if c.status == 0 {
		c.status = http.StatusOK
	}
	return c.body.Write(b)
}

// Interface guards.
var (
	_ http.Handler        = (*Server)(nil)
	_ http.ResponseWriter = (*captureWriter)(nil)
)
