package caddymodule

import (
	"errors"
	"fmt"
	"net/http"
	"slices"
	"sync/atomic"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
	"go.uber.org/zap"

	"github.com/sagate/sagate/caddymodule/httpauth"
	"github.com/sagate/sagate/keystore/keycache"
	"github.com/sagate/sagate/keystore/redisurl"
	"github.com/sagate/sagate/keystore/wire"
)

func init() {
	caddy.RegisterModule(Handler{})
}

// Defaults of the handler's options.
const (
	DefaultRedis         = "redis://127.0.0.1:6379/0"
	DefaultCacheTTL      = keycache.DefaultTTL
	DefaultCacheSize     = keycache.DefaultSize
	DefaultStaleIfError  = 5 * time.Minute
	DefaultNegativeTTL   = keycache.DefaultNegativeTTL
	DefaultLookupTimeout = keycache.DefaultLookupTimeout
	DefaultRealm         = "sagate"
	DefaultMinRole       = wire.RoleViewer
	DefaultNormalizePath = true
	DefaultMergeSlashes  = true
	DefaultEscapedSlash  = EscapedSlashesReject
)

// Handler is the sagate sidecar: it lets through only requests that carry a live
// service-account key in "Authorization: Bearer <key>", and tells the next handler
// who called in identity headers that no client can forge.
//
// First the request path is put in a form every component reads the same way
// (NormalizePath, MergeSlashes, EscapedSlashes), or refused with 400 invalid_request:
// always, an encoded letter, digit or "-._~" is decoded, and an invalid
// percent-encoding or a control character (raw or %00-%1F, %7F) is refused. The
// project placeholder, later handlers and the upstream all read that path.
//
// After a request is allowed, these placeholders are set: {http.auth.user.id} (the
// service account id), {sagate.service_account} (name@workspace),
// {sagate.service_account_id}, {sagate.workspace}, {sagate.key_id}, and with a
// project {sagate.project} and {sagate.role}.
type Handler struct {
	// The Redis holding the admin's key records, as a go-redis URL. Supported:
	// redis://[user:pass@]host:port/db and rediss:// (TLS) and unix:///path.sock
	// (one server, redis.ParseURL); redis+sentinel:// or rediss+sentinel://
	// with ?master_name=NAME and more sentinels as &addr=host:port
	// (redis.ParseFailoverURL); redis+cluster:// or rediss+cluster:// with more
	// seed nodes as &addr=host:port (redis.ParseClusterURL). Query parameters set
	// go-redis options (dial_timeout, pool_size, ...). Default: redis://127.0.0.1:6379/0
	Redis string `json:"redis,omitempty"`

	// The public keys of the admin's signing key, "sagate-ed25519:<base64url>",
	// as `sagate signing-key public FILE` prints them (the admin also logs its
	// key's public half when it starts). Required, no default: every record,
	// marker and event read from Redis must be signed by one of them, and what is
	// not is refused (503, never an answer). Give two while the admin's key is
	// rotated: trust the new key everywhere, switch the admin, drop the old one.
	// Sites that trust different keys never share a cache.
	SigningKeys []string `json:"signing_keys,omitempty"`

	// The workspaces whose keys pass, or ["*"] for any; another workspace's key gets
	// 403 insufficient_scope. Required, no default (Caddyfile: workspace NAME... or *).
	Workspaces []string `json:"workspaces,omitempty"`
	// One more workspace, the single-name form of configs written before Workspaces.
	Workspace string `json:"workspace,omitempty"`

	// The project the request addresses: any placeholder, e.g.
	// {http.request.header.X-Project}, evaluated on the headers as the client sent
	// them and on the path once checked, as the upstream gets it. When set, the
	// key's account needs a grant on that project (or on "*") with a role of at
	// least min_role, and an empty result is refused with 403. Default: empty, no
	// project check.
	Project string `json:"project,omitempty"`

	// Resolve "." and ".." segments in the request path (also %2e-encoded, any
	// case) and forward the resolved path; false refuses them with 400. A ".."
	// above the root and a dot segment with parameters ("..;x") are refused either
	// way. Default: true
	NormalizePath *bool `json:"normalize_path,omitempty"`

	// Merge repeated slashes in the request path ("//" becomes "/"); false refuses
	// them with 400. Default: true
	MergeSlashes *bool `json:"merge_slashes,omitempty"`

	// What %2F, %5C (any case) and a raw backslash in the path get: "reject", 400;
	// "unescape", read as "/" before dots and slashes are handled; "keep", forwarded
	// as data (a backslash as %5C), only for an upstream that never decodes them
	// (the path placeholders still split at them; a piece between them that is
	// empty or a dot segment is refused). Default: reject
	EscapedSlashes string `json:"escaped_slashes,omitempty"`

	// The lowest role that passes: viewer, contributor or owner. Needs project.
	// Default: viewer
	MinRole string `json:"min_role,omitempty"`

	// How long a cached answer from Redis is trusted (events drop it earlier
	// when the key changes). Default: 5m
	CacheTTL caddy.Duration `json:"cache_ttl,omitempty"`

	// How many known keys the local cache holds; "no such key" answers are held
	// apart, in at most cache_size/8 more entries, so that unknown keys never push
	// out a known one. Shared by every site that names the same redis URL and cache
	// settings. Default: 10000
	CacheSize int `json:"cache_size,omitempty"`

	// How long past its freshness a cached key may still answer while Redis cannot
	// (down, slow, or not yet resynced by the admin). A negative value (Caddyfile:
	// "stale_if_error off") disables stale answers: a key Redis cannot confirm gets 503.
	// Default: 5m
	StaleIfError caddy.Duration `json:"stale_if_error,omitempty"`

	// How long "no such key" is remembered. Default: 2s
	NegativeTTL caddy.Duration `json:"negative_ttl,omitempty"`

	// How long one Redis lookup may take before the request gets a stale answer
	// or 503. Default: 100ms
	LookupTimeout caddy.Duration `json:"lookup_timeout,omitempty"`

	// The realm given in WWW-Authenticate. Default: sagate
	Realm string `json:"realm,omitempty"`

	// Forward the client's Authorization header to the next handler. Defaults to
	// false because the upstream needs only the identity headers, and a key that
	// reaches it can leak through its logs.
	ForwardAuthorization bool `json:"forward_authorization,omitempty"`

	// Names of the identity headers set on allowed requests. The default names
	// are always stripped from client requests too, even when renamed here.
	Headers *HeaderNames `json:"headers,omitempty"`

	// Identity headers not to set, by the names of Headers' fields:
	// service_account_id, service_account, workspace, key_id, project, role.
	// Copies the client sent are removed all the same, and the placeholders still
	// carry every value. Caddy's proxy spends work on every header it forwards
	// (it logs, clones, sorts and writes each one), so a site whose upstream reads
	// only some of them can leave the others out.
	OmitHeaders []string `json:"omit_headers,omitempty"`

	// What happens to a request that does not pass: "enforce" refuses it; "shadow"
	// decides exactly as enforce does but forwards every request, with
	// Sagate-Decision telling the upstream what enforce would have done, and counts
	// and logs the would-be refusals (sagate_shadow_refusals_total, by reason). Identity
	// headers are set only for keys that pass, and the client's copies are removed
	// either way. For moving a live API behind sagate. Default: enforce
	Mode string `json:"mode,omitempty"`

	// Hand refusals to Caddy's error handling instead of writing them: the handler
	// sets WWW-Authenticate, Cache-Control and (on 503) Retry-After, then returns a
	// caddyhttp.Error with the refusal's status, so that the site's handle_errors
	// routes write the body. Those routes can read {http.error.status_code},
	// {http.auth.sagate.error} (the refusal's description), {sagate.refusal} (its
	// reason, as in Sagate-Decision), {sagate.refusal.error} (the RFC 6750 code) and
	// {sagate.refusal.description}. Without handle_errors routes Caddy answers the
	// bare status with an empty body and logs every 5xx at error level. Default:
	// false, the handler writes RFC 6750 refusals with a JSON body itself.
	HandleErrors bool `json:"handle_errors,omitempty"`

	// Give allowed requests a signed identity assertion in Sagate-Assertion: a JWS
	// (EdDSA) the upstream verifies against this sidecar's public key instead of
	// trusting headers. Default: none.
	Assertion *Assertion `json:"assertion,omitempty"`

	// Runtime state, set by Provision.
	minRole       wire.Role
	names         HeaderNames        // with defaults, canonical form
	inject        []injectHeader     // the identity headers set, in identity.vals order
	strip         httpauth.Sanitizer // every identity name, default and configured
	replies       replies            // refusals prepared once: no allocation when refusing
	cache         *keycache.Cache
	poolKey       string // key of the shared client and cache in pool; "" when none held
	logger        *zap.Logger
	timeNow       func() time.Time // for tests
	lastWarn      *atomic.Int64    // UnixNano of the last 503 logged at warn level (see warnAllowed)
	hasProj       bool
	workspaces    []string // Workspaces and Workspace joined
	anyWorkspace  bool     // workspaces is ["*"]
	pathOpts      httpauth.PathOptions
	shadow        bool          // Mode is shadow
	asserter      *asserter     // signs the assertions; nil: none
	lastShadowLog *atomic.Int64 // UnixNano of the last would-be refusal logged at info level
	policy        keycache.Policy
	released      bool
}

// HeaderNames are the identity headers set on allowed requests. Each one the
// client sent is removed first, in any letter case and underscore spelling.
type HeaderNames struct {
	// The service account's id. Default: X-Service-Account-Id
	ServiceAccountID string `json:"service_account_id,omitempty"`
	// The service account's full name, name@workspace. Default: X-Service-Account
	ServiceAccount string `json:"service_account,omitempty"`
	// The account's workspace. Default: X-Workspace
	Workspace string `json:"workspace,omitempty"`
	// The id of the key used. Default: X-Api-Key-Id
	KeyID string `json:"key_id,omitempty"`
	// The project checked (only with project). Default: X-Project
	Project string `json:"project,omitempty"`
	// The account's role in that project (only with project). Default: X-Project-Role
	Role string `json:"role,omitempty"`
}

// headerFields name the identity headers in configuration (the JSON names of
// HeaderNames' fields), in the order of HeaderNames.list and identity.vals.
var headerFields = [...]string{"service_account_id", "service_account", "workspace", "key_id", "project", "role"}

// injectHeader is one identity header an allowed request is given: its name and
// the position of its value in identity.vals.
type injectHeader struct {
	name string
	at   int
}

// DefaultHeaderNames are the identity headers sagate sets unless renamed.
var DefaultHeaderNames = HeaderNames{
	ServiceAccountID: "X-Service-Account-Id",
	ServiceAccount:   "X-Service-Account",
	Workspace:        "X-Workspace",
	KeyID:            "X-Api-Key-Id",
	Project:          "X-Project",
	Role:             "X-Project-Role",
}

// list returns the six names in a fixed order.
func (n HeaderNames) list() []string {
	return []string{n.ServiceAccountID, n.ServiceAccount, n.Workspace, n.KeyID, n.Project, n.Role}
}

// withDefaults fills empty names from DefaultHeaderNames and canonicalizes all.
func (n HeaderNames) withDefaults() HeaderNames {
	pick := func(v, def string) string {
		if v == "" {
			v = def
		}
		return http.CanonicalHeaderKey(v)
	}
	d := DefaultHeaderNames
	return HeaderNames{
		ServiceAccountID: pick(n.ServiceAccountID, d.ServiceAccountID),
		ServiceAccount:   pick(n.ServiceAccount, d.ServiceAccount),
		Workspace:        pick(n.Workspace, d.Workspace),
		KeyID:            pick(n.KeyID, d.KeyID),
		Project:          pick(n.Project, d.Project),
		Role:             pick(n.Role, d.Role),
	}
}

// CaddyModule returns the Caddy module information.
func (Handler) CaddyModule() caddy.ModuleInfo {
	return caddy.ModuleInfo{
		ID:  "http.handlers.sagate",
		New: func() caddy.Module { return new(Handler) },
	}
}

// Provision fills defaults, takes the logger and metrics registry, and acquires the
// Redis client and key cache shared by every site with the same settings.
func (h *Handler) Provision(ctx caddy.Context) error {
	h.logger = ctx.Logger()
	if h.timeNow == nil {
		h.timeNow = time.Now
	}
	h.lastWarn = new(atomic.Int64)
	h.lastShadowLog = new(atomic.Int64)
	if err := h.applyDefaults(); err != nil {
		return err
	}
	// Validate before opening anything: a bad config must not dial Redis.
	if err := h.Validate(); err != nil {
		return err
	}
	if err := registerMetrics(ctx.GetMetricsRegistry()); err != nil {
		return fmt.Errorf("registering sagate metrics: %w", err)
	}
	if err := registerRolloutMetrics(ctx.GetMetricsRegistry()); err != nil {
		return fmt.Errorf("registering sagate metrics: %w", err)
	}
	if err := h.provisionAssertion(); err != nil {
		return err
	}
	c, key, err := acquireCache(h.cacheSettings(), h.logger)
	if err != nil {
		return err
	}
	h.cache, h.poolKey = c, key
	return nil
}

// applyDefaults sets every default and the derived runtime state. It is what
// Provision does without touching Redis, so tests of the request path can use it.
func (h *Handler) applyDefaults() error {
	if h.Redis == "" {
		h.Redis = DefaultRedis
	}
	if h.CacheTTL == 0 {
		h.CacheTTL = caddy.Duration(DefaultCacheTTL)
	}
	if h.CacheSize == 0 {
		h.CacheSize = DefaultCacheSize
	}
	if h.StaleIfError == 0 {
		h.StaleIfError = caddy.Duration(DefaultStaleIfError)
	}
	if h.NegativeTTL == 0 {
		h.NegativeTTL = caddy.Duration(DefaultNegativeTTL)
	}
	if h.LookupTimeout == 0 {
		h.LookupTimeout = caddy.Duration(DefaultLookupTimeout)
	}
	if h.Realm == "" {
		h.Realm = DefaultRealm
	}
	if h.logger == nil {
		h.logger = zap.NewNop()
	}
	if h.timeNow == nil {
		h.timeNow = time.Now
	}
	h.minRole = DefaultMinRole
	if h.MinRole != "" {
		role, err := wire.ParseRole(h.MinRole)
		if err != nil {
			return fmt.Errorf("min_role: %w", err)
		}
		h.minRole = role
	}
	var n HeaderNames
	if h.Headers != nil {
		n = *h.Headers
	}
	h.names = n.withDefaults()
	h.strip = httpauth.NewSanitizer(append(append(DefaultHeaderNames.list(), h.names.list()...), sagateHeaders...))
	h.shadow = h.Mode == ModeShadow
	initShadowMetrics() // serveShadow counts, whether or not Provision registered them
	initStreamMetrics()
	h.replies = newReplies(h.Realm)
	h.hasProj = h.Project != ""
	h.workspaces = h.workspaceList()
	h.anyWorkspace = slices.Equal(h.workspaces, []string{AnyWorkspace})
	if err := h.applyPathDefaults(); err != nil {
		return err
	}
	h.inject = nil
	for i, name := range h.names.list() {
		if i >= idProject && !h.hasProj || slices.Contains(h.OmitHeaders, headerFields[i]) {
			continue
		}
		h.inject = append(h.inject, injectHeader{name: name, at: i})
	}
	h.policy = keycache.Policy{TTL: time.Duration(h.CacheTTL), StaleIfError: max(0, time.Duration(h.StaleIfError))}
	return nil
}

// Validate checks the configuration; it is pure.
func (h *Handler) Validate() error {
	if _, err := parseSigningKeys(h.SigningKeys); err != nil {
		return err
	}
	if err := validateWorkspaces(h.workspaceList()); err != nil {
		return err
	}
	if h.MinRole != "" && h.Project == "" {
		return errors.New("min_role needs project: without a project there is no role to check")
	}
	if h.MinRole != "" {
		if _, err := wire.ParseRole(h.MinRole); err != nil {
			return fmt.Errorf("min_role: %w", err)
		}
	}
	if _, ok := escapedSlashPolicies[h.EscapedSlashes]; h.EscapedSlashes != "" && !ok {
		return errEscapedSlashes(h.EscapedSlashes)
	}
	if h.CacheSize < 0 {
		return errors.New("cache_size must not be negative")
	}
	for name, d := range map[string]caddy.Duration{
		"cache_ttl":    h.CacheTTL,
		"negative_ttl": h.NegativeTTL, "lookup_timeout": h.LookupTimeout,
	} {
		if d < 0 {
			return fmt.Errorf("%s must not be negative", name)
		}
	}
	if !validRealm(h.Realm) {
		return errors.New(`realm must be printable ASCII without '"' or '\'`)
	}
	if h.Headers != nil {
		for _, n := range h.Headers.list() {
			if n != "" && !validHeaderName(n) {
				return fmt.Errorf("header name %q is not a valid HTTP header name", n)
			}
		}
	}
	if err := validateOmitHeaders(h.OmitHeaders); err != nil {
		return err
	}
	if err := validateMode(h.Mode); err != nil {
		return err
	}
	if h.Assertion != nil {
		if err := h.Assertion.validate(); err != nil {
			return err
		}
	}
	if _, err := redisurl.Parse(h.Redis); h.Redis != "" && err != nil {
		return err
	}
	return nil
}

// Cleanup releases this handler's hold on the shared Redis client and cache; the
// last handler to let go closes them.
func (h *Handler) Cleanup() error {
	if h.poolKey == "" || h.released {
		return nil
	}
	h.released = true
	if err := releaseCache(h.poolKey); err != nil {
		// Only pending last-used reports can be lost here (Redis away at shutdown);
		// that is worth a warning, not a failed config unload.
		h.logger.Warn("closing the shared key cache", zap.Error(err))
	}
	return nil
}

// Interface guards
var (
	_ caddy.Module                = (*Handler)(nil)
	_ caddy.Provisioner           = (*Handler)(nil)
	_ caddy.Validator             = (*Handler)(nil)
	_ caddy.CleanerUpper          = (*Handler)(nil)
	_ caddyhttp.MiddlewareHandler = (*Handler)(nil)
)
