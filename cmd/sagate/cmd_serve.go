package main

import (
	"context"
	"crypto/tls"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/signal"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/spf13/cobra"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/sagate/sagate/admin"
	"github.com/sagate/sagate/keystore"
	"github.com/sagate/sagate/keystore/redissync"
	"github.com/sagate/sagate/keystore/redisurl"
	"github.com/sagate/sagate/keystore/sqlstore"
)

// serveOptions are the flags of sagate serve.
type serveOptions struct {
	listen            string
	store             string
	redis             string
	tokenFile         string
	tlsCert, tlsKey   string
	signingKeyFile    string
	reconcileInterval time.Duration
	epochInterval     time.Duration
	usageInterval     time.Duration
	singleSeals       bool
	logLevel          string
	access            accessOptions
	console           bool
	secureCookies     bool
	insecurePlainHTTP bool
}

// serveCmd: sagate serve runs the admin endpoint.
func (a *app) serveCmd() *cobra.Command {
	var o serveOptions
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Run the admin endpoint",
		Long: `Run the admin endpoint: the admin HTTP API over the durable store, keeping Redis in sync.

The admin token comes from --admin-token-file (mode 0600: a file group or others may read is
refused; whitespace around the token is ignored) or, without that flag, from $` + envAdminToken + `;
serve refuses to start without one, with one shorter than 16 characters, or with one a
strength estimator (zxcvbn) puts below 128 bits (words, names, keyboard rows, repeats,
runs): use 32 random bytes, e.g. openssl rand -hex 32.

It listens on ` + defaultListen + ` (loopback) unless --listen says otherwise; on any other address
it needs --tls-cert, or --insecure-plain-http to say that plain HTTP is meant (a proxy in front
terminates TLS). With --tls-cert
and --tls-key it serves https; the files are checked for changes every few seconds and
reloaded without a restart (a pair that does not load is logged and the previous one kept).
Clients of a private CA pass --ca-file or $` + envAdminCA + `.

--store sqlite://PATH creates a missing folder (0700) and the database file (0600).
--redis takes any go-redis URL: redis://[user:password@]host:port/db,
rediss:// for TLS, unix:///path/to/socket?db=N, redis+sentinel://host:26379/0?master_name=NAME,
redis+cluster://host:7000?addr=host2:7000. A full reconcile repairs Redis from the store
at start, every --reconcile-interval, and whenever Redis has lost its epoch marker or
lacks a committed change. A change committed while Redis cannot take it is answered with the
header Sagate-Sync: pending, and counted in sagate_sync_backlog (once older than 2s) until
an admin writes it to Redis.

The signing key comes from --signing-key-file or $` + envSigningKeyFile + `. With a sqlite://
store it defaults to ` + defaultSigningKeyName + ` beside the database file, created (mode 0600) on
first start; with PostgreSQL it is required. Its public key is logged at every start.

` + signingKeyHelp + `

SIGINT or SIGTERM drains requests in flight, stops the sync and closes the store.`,

		Args: nArgs(0, "none"),
		RunE: func(cmd *cobra.Command, _ []string) error { return a.serve(cmd.Context(), o) },
	}
	f := cmd.Flags()
	f.StringVar(&o.listen, "listen", defaultListen, "address to listen on (\":8081\" for every interface)")
	f.StringVar(&o.tlsCert, "tls-cert", "", "serve https with this PEM certificate (chain); reloaded when the file changes")
	f.StringVar(&o.tlsKey, "tls-key", "", "the PEM private key of --tls-cert")
	f.StringVar(&o.store, "store", "sqlite://./sagate.db", "durable store URL (sqlite://PATH)")
	f.StringVar(&o.redis, "redis", "redis://127.0.0.1:6379/0", "Redis URL (any go-redis URL)")
	f.StringVar(&o.tokenFile, "admin-token-file", "", "file holding the admin token (default $"+envAdminToken+")")
	f.StringVar(&o.signingKeyFile, "signing-key-file", "", "file holding the admin's signing key (default $"+envSigningKeyFile+
		"; sqlite: "+defaultSigningKeyName+" beside the database, created if missing; required with PostgreSQL)")
	f.DurationVar(&o.reconcileInterval, "reconcile-interval", redissync.DefaultReconcileInterval, "how often a full reconcile repairs Redis from the store")
	f.DurationVar(&o.epochInterval, "epoch-check-interval", redissync.DefaultEpochCheckInterval, "how often Redis is checked for its epoch marker (missing: full resync)")
	f.DurationVar(&o.usageInterval, "usage-fold-interval", redissync.DefaultUsageFoldInterval, "how often sidecars' last-used reports are folded into the store")
	f.BoolVar(&o.singleSeals, "single-seals", false,
		"sign every record on its own, for sidecars older than group seals (while upgrading from them; docs/deployment.md)")
	f.StringVar(&o.logLevel, "log-level", "info", "debug, info, warn or error")
	o.access.flags(f)
	f.BoolVar(&o.insecurePlainHTTP, "insecure-plain-http", false,
		"allow plain HTTP on a --listen address other than loopback, without --tls-cert (behind a proxy that terminates TLS on the same host or a private link)")
	f.BoolVar(&o.console, "console", true, "serve the web console under /console/")
	f.BoolVar(&o.secureCookies, "console-secure-cookies", false,
		"mark the console's cookies Secure on plain-HTTP requests too, behind a proxy that terminates TLS (over --tls-cert they always are)")
	return cmd
}

// adminToken reads the admin token from the file, else from the environment. The token
// never appears in an error.
func (a *app) adminToken(file string) (string, error) {
	var tok string
	if file != "" {
		b, err := admin.ReadPrivateFile(file, "--admin-token-file")
		if err != nil {
			return "", fmt.Errorf("refusing to start: %w", err)
		}
		tok = strings.TrimSpace(string(b))
		if tok == "" {
			return "", fmt.Errorf("refusing to start: --admin-token-file %s is empty", file)
		}
	} else {
		tok = strings.TrimSpace(a.getenv(envAdminToken))
		if tok == "" {
			return "", fmt.Errorf("refusing to start without an admin token: set %s or pass --admin-token-file", envAdminToken)
		}
	}
	if err := admin.CheckToken(tok); err != nil {
		return "", fmt.Errorf("refusing to start: %w", err)
	}
	return tok, nil
}

// newLogger returns a JSON zap logger on stderr at level.
func (a *app) newLogger(level string) (*zap.Logger, error) {
	lvl, err := zapcore.ParseLevel(level)
	if err != nil {
		return nil, usagef("--log-level: %v", err)
	}
	enc := zap.NewProductionEncoderConfig()
	enc.EncodeTime = zapcore.ISO8601TimeEncoder
	core := zapcore.NewCore(zapcore.NewJSONEncoder(enc), zapcore.AddSync(a.stderr), lvl)
	return zap.New(core, zap.ErrorOutput(zapcore.AddSync(a.stderr))), nil
}

// serve runs the admin endpoint until ctx ends or SIGINT/SIGTERM arrives.
func (a *app) serve(ctx context.Context, o serveOptions) (err error) {
	token, err := a.adminToken(o.tokenFile)
	if err != nil && !o.access.operatorsOnly(o.tokenFile, a.getenv(envAdminToken)) {
		return err
	}
	acfg, err := o.access.config()
	if err != nil {
		return err
	}
	for _, d := range []struct {
		flag string
		v    time.Duration
	}{{"--reconcile-interval", o.reconcileInterval}, {"--epoch-check-interval", o.epochInterval}, {"--usage-fold-interval", o.usageInterval}} {
		if d.v <= 0 {
			return usagef("%s must be greater than 0", d.flag)
		}
	}
	tlsOn := o.tlsCert != "" || o.tlsKey != ""
	if tlsOn && (o.tlsCert == "" || o.tlsKey == "") {
		return usagef("--tls-cert and --tls-key go together")
	}
	if !tlsOn && !o.insecurePlainHTTP && !loopbackListen(o.listen) {
		return usagef("--listen %s is not a loopback address: serve https (--tls-cert and --tls-key), "+
			"or pass --insecure-plain-http if a proxy in front terminates TLS and plain HTTP never leaves a trusted link", o.listen)
	}
	log, err := a.newLogger(o.logLevel)
	if err != nil {
		return err
	}
	defer func() { _ = log.Sync() }()
	ropts, err := redisurl.Parse(o.redis)
	if err != nil {
		return fmt.Errorf("parsing --redis: %w", err)
	}
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()

	store, err := sqlstore.Open(ctx, o.store)
	if err != nil {
		return fmt.Errorf("opening the store: %w", err)
	}
	defer func() {
		if cerr := store.Close(); cerr != nil && err == nil {
			err = fmt.Errorf("closing the store: %w", cerr)
		}
	}()
	key, err := a.loadServeSigningKey(o.signingKeyFile, o.store, log)
	if err != nil {
		return err
	}
	rdb := ropts.Client()
	defer rdb.Close()
	// A TLS mistake is a configuration error: refuse to start. An unreachable Redis is
	// not: the sync catches up when it comes.
	if err := ropts.CheckTLS(ctx, rdb); err != nil {
		return fmt.Errorf("connecting to --redis: %w", err)
	}

	reg := prometheus.NewRegistry()
	syncer, err := redissync.New(rdb, store, redissync.Config{
		SigningKey:         key,
		ReconcileInterval:  o.reconcileInterval,
		EpochCheckInterval: o.epochInterval,
		UsageFoldInterval:  o.usageInterval,
		SingleSeals:        o.singleSeals,
		Logger:             log.Named("sync"),
		Registerer:         reg,
	})
	if err != nil {
		return err
	}
	svc, err := keystore.NewService(store, keystore.ServiceOptions{Syncer: syncer, Logger: log.Named("keystore"), Registerer: reg})
	if err != nil {
		return fmt.Errorf("starting the keystore service: %w", err)
	}
	srv, err := admin.NewServer(admin.Config{Token: token, Service: svc, Syncer: syncer, Redis: rdb, Logger: log.Named("admin"), Registry: reg,
		OperatorsFile: acfg.OperatorsFile, ProxyUserHeader: acfg.ProxyUserHeader, TrustedProxies: acfg.TrustedProxies,
		Console: o.console, ConsoleSecureCookies: o.secureCookies})
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", o.listen)
	if err != nil {
		return fmt.Errorf("listening on %s: %w", o.listen, err)
	}
	if tlsOn {
		certs, err := admin.NewCertReloader(o.tlsCert, o.tlsKey, 0, log.Named("tls"))
		if err != nil {
			ln.Close()
			return err
		}
		ln = tls.NewListener(ln, certs.TLSConfig())
	}

	// The sync outlives the HTTP server so that changes committed by requests in flight
	// still reach Redis; it stops once the server has drained.
	syncCtx, stopSync := context.WithCancel(context.WithoutCancel(ctx))
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		syncer.Run(syncCtx)
	}()
	log.Info("sagate admin starting", zap.String("version", version), zap.String("listen", ln.Addr().String()), zap.Bool("tls", tlsOn),
		zap.String("redis", redisurl.Redacted(o.redis)), zap.Stringer("reconcile_interval", o.reconcileInterval))
	err = srv.Serve(ctx, ln)
	stopSync()
	wg.Wait()
	return err
}

// loopbackListen reports whether the --listen address addr is on loopback only: a
// loopback IP or "localhost". An empty host (every interface) and any other name are not.
func loopbackListen(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return false
	}
	if host == "localhost" {
		return true
	}
	ip, err := netip.ParseAddr(host)
	return err == nil && ip.Unmap().IsLoopback()
}
