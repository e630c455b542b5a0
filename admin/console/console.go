// Package console is sagate's web console: server-rendered pages (html/template, with
// the templates, CSS and one small script embedded) to manage service accounts, keys
// and grants and to read the audit trail.
//
// The console holds no rule of its own. Every page calls the same keystore.Service the
// admin API calls, as the principal the sign-in established; what that principal may
// see and change is decided there, and a refusal is shown next to the form. The pages
// offer what keystore.Service.Reach says the principal manages: an operator every
// workspace, a workspace admin its workspaces, a project owner its projects. Sign-in
// takes a credential that Config.Authenticate checks (in sagate: an operator token or a
// sak_ key), or the word of an authenticating proxy (Config.FromProxy). The session keeps
// the principal and a hash of the credential, never the credential; Config.Recheck checks
// them again on every request, so revoking the credential ends the session at the next click.
//
// Safety: every state change is a POST that carries the session's CSRF token and comes
// from the console's own origin; every answer carries a strict Content-Security-Policy,
// X-Frame-Options: DENY, Cache-Control: no-store, nosniff and no-referrer.
package console

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"go.uber.org/zap"

	"github.com/sagate/sagate/keystore"
)

// Path is where the console is served; every route is under it.
const Path = "/console/"

// Defaults of Config.
const (
	DefaultIdleTimeout     = 30 * time.Minute
	DefaultAbsoluteTimeout = 12 * time.Hour
	// DefaultPageSize is how many rows a list page shows.
	DefaultPageSize = 50
	// DefaultCredentialHint is the sign-in page's hint when Config.CredentialHint is empty.
	DefaultCredentialHint = "An operator token."
	// maxFormBytes bounds a form body; larger is refused.
	maxFormBytes = 64 << 10
)

// ErrBadCredential is what Authenticate returns for a credential it does not accept.
var ErrBadCredential = errors.New("credential not accepted")

// Principal is who a console session acts as.
type Principal struct {
	// Actor is the audit actor of the principal's changes.
	Actor string
	// Label names the principal in the page header.
	Label string
	// Value is handed to Config.Bind, e.g. the keystore principal of the delegation model.
	Value any
	// Proof is what Config.Recheck needs, besides Value, to check the principal again:
	// a hash of the credential, never the credential itself.
	Proof any
}

// Config configures a Console.
type Config struct {
	// Service does the work. Required.
	Service *keystore.Service
	// Authenticate checks a credential pasted on the sign-in page and returns the
	// principal it stands for, or an error (ErrBadCredential or any other: the page says
	// only that the credential was not accepted). Required. It must never log the
	// credential, nor put it in the Principal: the session keeps the Principal, not the
	// credential.
	Authenticate func(ctx context.Context, credential string) (Principal, error)
	// Recheck checks again, on every request of a session signed in with a credential,
	// the principal Authenticate returned (from its Value and Proof), and returns it as
	// it stands now, or an error that ends the session. Required.
	Recheck func(ctx context.Context, p Principal) (Principal, error)
	// CredentialHint tells the sign-in page which credentials Authenticate accepts.
	// Default: DefaultCredentialHint.
	CredentialHint string
	// FromProxy, when set, names the person an authenticating proxy vouches for (for
	// example by a header only the proxy can set); ok=false means the proxy named no one
	// and the sign-in page is shown. It must believe such a header only on requests from
	// the proxy's own address (as Miniflux checks its trusted networks), since anyone
	// else can send it too. Such a session has no credential: FromProxy is asked again
	// on every request and must name the same principal. Default: nil (off).
	FromProxy func(r *http.Request) (p Principal, ok bool, err error)
	// Bind returns the context the Service is called with for principal p.
	// Required: New refuses a Config without it, since only the caller knows how a
	// console principal maps to the Service's.
	Bind func(ctx context.Context, p Principal) context.Context
	// Logger for failures; it never receives a credential, a key or a session id. Default: zap.NewNop().
	Logger *zap.Logger
	// IdleTimeout ends a session unused for this long. Default: DefaultIdleTimeout (30m).
	IdleTimeout time.Duration
	// AbsoluteTimeout ends a session this long after sign-in. Default: DefaultAbsoluteTimeout (12h).
	AbsoluteTimeout time.Duration
	// SecureCookies marks the console's cookies Secure even on requests that arrived
	// over plain HTTP, for a console behind a proxy that terminates TLS. Cookies of
	// requests that arrived over TLS are always Secure. Default: false.
	SecureCookies bool
	// PageSize is how many rows a list page shows. Default: DefaultPageSize (50).
	PageSize int
	// Now is the clock; nil: time.Now. For tests.
	Now func() time.Time
}

// Console is the web console as an http.Handler for the paths under Path. It is safe for concurrent use.
type Console struct {
	cfg      Config
	log      *zap.Logger
	sessions *sessions
	pages    *pages
	mux      *http.ServeMux
}

// New validates cfg and returns the console.
func New(cfg Config) (*Console, error) {
	if cfg.Service == nil {
		return nil, errors.New("creating the console: no keystore service")
	}
	if cfg.Authenticate == nil {
		return nil, errors.New("creating the console: no Authenticate function")
	}
	if cfg.Recheck == nil {
		return nil, errors.New("creating the console: no Recheck function")
	}
	if cfg.Bind == nil {
		return nil, errors.New("creating the console: no Bind function")
	}
	if cfg.Logger == nil {
		cfg.Logger = zap.NewNop()
	}
	if cfg.IdleTimeout <= 0 {
		cfg.IdleTimeout = DefaultIdleTimeout
	}
	if cfg.AbsoluteTimeout <= 0 {
		cfg.AbsoluteTimeout = DefaultAbsoluteTimeout
	}
	if cfg.CredentialHint == "" {
		cfg.CredentialHint = DefaultCredentialHint
	}
	if cfg.PageSize <= 0 {
		cfg.PageSize = DefaultPageSize
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	p, err := parsePages(cfg.Now)
	if err != nil {
		return nil, fmt.Errorf("creating the console: %w", err)
	}
	c := &Console{cfg: cfg, log: cfg.Logger, pages: p, mux: http.NewServeMux(),
		sessions: newSessions(cfg.IdleTimeout, cfg.AbsoluteTimeout, cfg.Now)}
	c.routes()
	return c, nil
}

// securityHeaders are set on every answer of the console.
var securityHeaders = map[string]string{
	"Content-Security-Policy": "default-src 'none'; style-src 'self'; script-src 'self'; img-src 'self'; " +
		"form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
	"X-Frame-Options":        "DENY",
	"Cache-Control":          "no-store",
	"X-Content-Type-Options": "nosniff",
	"Referrer-Policy":        "no-referrer",
}

// ServeHTTP sets the security headers and routes the request.
func (c *Console) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	for k, v := range securityHeaders {
		w.Header().Set(k, v)
	}
	c.mux.ServeHTTP(w, r)
}

// routes registers every page and action.
func (c *Console) routes() {
	const (
		ws  = Path + "w/{ws}"
		sa  = ws + "/accounts/{sa}"
		key = sa + "/keys/{key}"
	)
	c.mux.Handle("GET "+Path+"static/", http.StripPrefix(Path+"static/", staticHandler()))
	c.mux.HandleFunc("GET "+Path+"{$}", c.open(c.home))
	c.mux.HandleFunc("GET "+Path+"sign-in", c.open(c.signInPage))
	c.mux.HandleFunc("POST "+Path+"sign-in", c.open(c.signIn))
	c.mux.HandleFunc("POST "+Path+"sign-out", c.open(c.signOut))

	c.mux.HandleFunc("GET "+Path+"workspaces", c.auth(c.workspacesPage))
	c.mux.HandleFunc("GET "+Path+"audit", c.auth(c.auditPage))
	c.mux.HandleFunc("GET "+newKeyPath, c.auth(c.newKeyPage))
	c.mux.HandleFunc("GET "+ws+"/accounts", c.auth(c.accountsPage))
	c.mux.HandleFunc("GET "+ws+"/new-account", c.auth(c.newAccountPage))
	c.mux.HandleFunc("POST "+ws+"/accounts", c.auth(c.createAccount))
	c.mux.HandleFunc("GET "+sa, c.auth(c.accountPage))
	c.mux.HandleFunc("GET "+sa+"/confirm/{what}", c.auth(c.confirmAccountPage))
	c.mux.HandleFunc("POST "+sa+"/deactivate", c.auth(c.deactivateAccount))
	c.mux.HandleFunc("POST "+sa+"/reactivate", c.auth(c.reactivateAccount))
	c.mux.HandleFunc("POST "+sa+"/revoke-all", c.auth(c.revokeAllKeys))
	c.mux.HandleFunc("POST "+sa+"/keys", c.auth(c.createKey))
	c.mux.HandleFunc("GET "+key+"/{what}", c.auth(c.keyActionPage))
	c.mux.HandleFunc("POST "+key+"/rotate", c.auth(c.rotateKey))
	c.mux.HandleFunc("POST "+key+"/revoke", c.auth(c.revokeKey))
	c.mux.HandleFunc("POST "+key+"/deactivate", c.auth(c.deactivateKey))
	c.mux.HandleFunc("POST "+key+"/activate", c.auth(c.activateKey))
	c.mux.HandleFunc("POST "+sa+"/grants", c.auth(c.setGrant))
	c.mux.HandleFunc("POST "+sa+"/grants/remove", c.auth(c.removeGrant))
	c.mux.HandleFunc("GET "+ws+"/project", c.auth(c.openProject))
	c.mux.HandleFunc("GET "+ws+"/projects/{project}", c.auth(c.projectPage))
	c.mux.HandleFunc("POST "+ws+"/projects/{project}/assign", c.auth(c.assignInProject))
	c.mux.HandleFunc("POST "+ws+"/projects/{project}/unassign", c.auth(c.unassignInProject))
	c.groupRoutes(ws)
	c.manageRoutes(ws, sa)
	c.mux.HandleFunc(Path, c.open(c.notFound))
}

// pathOf joins escaped path segments under Path.
func pathOf(segs ...string) string {
	var b strings.Builder
	b.WriteString(strings.TrimSuffix(Path, "/"))
	for _, s := range segs {
		b.WriteByte('/')
		b.WriteString(escapeSegment(s))
	}
	return b.String()
}

var _ http.Handler = (*Console)(nil)
