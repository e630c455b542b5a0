// Package admintest starts a complete admin endpoint for tests: a real SQLite store in
// a temporary directory, a real redis-server (internal/testing/redistest), the Redis
// syncer, and the admin API on an httptest.Server, with every log line captured so that
// tests can assert that no secret was logged.
package admintest

import (
	"context"
	"errors"
	"net/http/httptest"
	"net/netip"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"github.com/sagate/sagate/admin"
	"github.com/sagate/sagate/internal/testing/keytest"
	"github.com/sagate/sagate/internal/testing/redistest"
	"github.com/sagate/sagate/keystore"
	"github.com/sagate/sagate/keystore/redissync"
	"github.com/sagate/sagate/keystore/sqlstore"
	"github.com/sagate/sagate/keystore/wire"
)

// Token is the admin token of every Env.
const Token = "admintest-8a16abdd228821e4144a2ffbc5d31537803fc0db18695deb2a8386a8a1ed0f0d"

// Options configures Start. Zero values take the defaults given.
type Options struct {
	// Redis to use. Default: a new redistest server.
	Redis *redistest.Server
	// DBPath is the SQLite file. Default: sagate.db in a new t.TempDir().
	DBPath string
	// Now is the Service's clock. Default: time.Now.
	Now func() time.Time
	// SigningKey signs what the syncer writes to Redis. Default: keytest.SigningKey.
	SigningKey wire.SigningKey
	// OperatorsFile, ProxyUserHeader and TrustedProxies are passed to admin.Config.
	OperatorsFile   string
	ProxyUserHeader string
	TrustedProxies  []netip.Prefix
}

// Env is a running admin endpoint.
type Env struct {
	URL     string                 // base URL of the admin API
	Logs    *observer.ObservedLogs // every log line of the store, syncer and server
	Token   string
	DBPath  string
	Redis   *redistest.Server
	RDB     *redis.Client
	Store   keystore.Store
	Service *keystore.Service
	Syncer  *redissync.Syncer
	// Verifier trusts the syncer's signing key.
	Verifier *wire.Verifier
	Server   *admin.Server
	Registry *prometheus.Registry
	HTTP     *httptest.Server

	stopOnce sync.Once
	stop     func()
}

// Start starts an admin endpoint and waits until it is ready (Redis synced). It stops
// when the test ends.
func Start(t testing.TB, o Options) *Env {
	t.Helper()
	if o.Redis == nil {
		o.Redis = redistest.Start(t)
	}
	if o.DBPath == "" {
		o.DBPath = filepath.Join(t.TempDir(), "sagate.db")
	}
	core, logs := observer.New(zapcore.DebugLevel) // every line, debug included, is checked for secrets
	log := zap.New(core)
	ctx := context.Background()

	store, err := sqlstore.Open(ctx, "sqlite://"+o.DBPath)
	if err != nil {
		t.Fatalf("opening the store: %v", err)
	}
	rdb := o.Redis.Client()
	reg := prometheus.NewRegistry()
	if !o.SigningKey.Valid() {
		o.SigningKey = keytest.SigningKey(t)
	}
	syncer, err := redissync.New(rdb, store, redissync.Config{
		SigningKey:         o.SigningKey,
		EpochCheckInterval: 50 * time.Millisecond,
		Logger:             log.Named("sync"),
		Registerer:         reg,
	})
	if err != nil {
		t.Fatalf("starting the syncer: %v", err)
	}
	svc, err := keystore.NewService(store, keystore.ServiceOptions{Syncer: syncer, Logger: log.Named("keystore"), Registerer: reg, Now: o.Now})
	if err != nil {
		t.Fatalf("starting the service: %v", err)
	}
	srv, err := admin.NewServer(admin.Config{Token: Token, Service: svc, Syncer: syncer, Redis: rdb, Logger: log.Named("admin"), Registry: reg,
		OperatorsFile: o.OperatorsFile, OperatorsFileInterval: 20 * time.Millisecond, ProxyUserHeader: o.ProxyUserHeader, TrustedProxies: o.TrustedProxies})
	if err != nil {
		t.Fatalf("starting the admin server: %v", err)
	}
	hs := httptest.NewServer(srv)
	syncCtx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		go srv.WatchOperators(syncCtx)
		syncer.Run(syncCtx)
	}()
	e := &Env{
		URL: hs.URL, Token: Token, DBPath: o.DBPath, Redis: o.Redis, RDB: rdb, Logs: logs,
		Store: store, Service: svc, Syncer: syncer, Server: srv, Registry: reg, HTTP: hs,
		Verifier: wire.NewVerifier(o.SigningKey.Public()),
	}
	e.stop = func() {
		hs.Close()
		cancel()
		<-done
		if err := store.Close(); err != nil {
			t.Errorf("closing the store: %v", err)
		}
	}
	t.Cleanup(e.Stop)
	e.WaitReady(t)
	return e
}

// Stop stops the endpoint: HTTP server, syncer, store. Safe to call twice.
func (e *Env) Stop() { e.stopOnce.Do(e.stop) }

// WaitReady waits (up to 10 s) until Redis holds the epoch marker of a full sync.
func (e *Env) WaitReady(t testing.TB) {
	t.Helper()
	Eventually(t, 10*time.Second, "the syncer to write the epoch marker", func() error {
		return e.Syncer.Ready(context.Background())
	})
}

// OperatorContext returns a context in which Service calls act as the operator of Token.
func OperatorContext() context.Context {
	return keystore.WithPrincipal(context.Background(), keystore.Operator(admin.EnvTokenOperator))
}

// Client returns an admin client authenticated with the admin token.
func (e *Env) Client(t testing.TB, opts ...admin.ClientOption) *admin.Client {
	t.Helper()
	c, err := admin.NewClient(e.URL, e.Token, opts...)
	if err != nil {
		t.Fatalf("creating the admin client: %v", err)
	}
	return c
}

// Record reads the Redis record of key; ok is false when there is none.
func (e *Env) Record(t testing.TB, key string) (rec wire.Record, ok bool) {
	t.Helper()
	b, err := e.RDB.Get(context.Background(), wire.RedisKey(keystore.HashKey(key))).Bytes()
	if errors.Is(err, redis.Nil) {
		return wire.Record{}, false
	}
	if err != nil {
		t.Fatalf("reading a key record from redis: %v", err)
	}
	rec, err = wire.OpenRecord(e.Verifier, keystore.HashKey(key), b)
	if err != nil {
		t.Fatalf("verifying a key record: %v", err)
	}
	return rec, true
}

// LiveRecord reads the record of key and fails unless it lets requests in now.
func (e *Env) LiveRecord(t testing.TB, key string) wire.Record {
	t.Helper()
	rec, ok := e.Record(t, key)
	if !ok {
		t.Fatalf("redis holds no record for key …%s", keystore.Last6(key))
	}
	if !rec.Live(time.Now()) {
		t.Fatalf("the redis record of key …%s is not live: state %s exp %d", keystore.Last6(key), rec.State, rec.Exp)
	}
	return rec
}

// AssertNotLive fails if Redis holds a record for key that lets requests in.
func (e *Env) AssertNotLive(t testing.TB, key string) {
	t.Helper()
	if rec, ok := e.Record(t, key); ok && rec.Live(time.Now()) {
		t.Fatalf("the redis record of key …%s still lets requests in: state %s", keystore.Last6(key), rec.State)
	}
}

// AssertNoSecrets fails if any captured log line (message or field) contains one of secrets.
func (e *Env) AssertNoSecrets(t testing.TB, secrets ...string) {
	t.Helper()
	AssertNoSecrets(t, e.Logs, secrets...)
}

// Eventually polls f until it returns nil or the deadline passes.
func Eventually(t testing.TB, within time.Duration, what string, f func() error) {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		err := f()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("waited %v for %s: %v", within, what, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
