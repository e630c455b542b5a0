package caddymodule

import (
	"context"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"testing"
	"time"

	"github.com/sagate/sagate/internal/testing/keytest"
	"github.com/sagate/sagate/keystore"
	"github.com/sagate/sagate/keystore/redissync"
	"github.com/sagate/sagate/keystore/sqlstore"
	"github.com/sagate/sagate/keystore/wire"
)

// TestExpiryAnnouncedToLaggingSidecar: a sidecar whose clock is an hour behind lets an
// expired key in on its own reckoning; the admin's announcement of the expiry (the
// real Syncer's Run over a SQLite store) makes it refuse the key all the same, with the
// key's tombstone in Redis.
func TestExpiryAnnouncedToLaggingSidecar(t *testing.T) {
	ctx := keystore.WithPrincipal(context.Background(), keystore.Operator("test"))
	st := newStore(t)
	sqlite, err := sqlstore.OpenSQLite(ctx, filepath.Join(t.TempDir(), "sagate.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = sqlite.Close() })
	syncer, err := redissync.New(st.rdb, sqlite, redissync.Config{SigningKey: keytest.SigningKey(t)})
	if err != nil {
		t.Fatal(err)
	}
	runCtx, stop := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); syncer.Run(runCtx) }()
	t.Cleanup(func() { stop(); <-done })
	waitUntil(t, "the admin's full sync", func() bool { return syncer.Ready(ctx) == nil })

	svc, err := keystore.NewService(sqlite, keystore.ServiceOptions{Syncer: syncer})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := svc.CreateWorkspace(ctx, "ml", 0); err != nil {
		t.Fatal(err)
	}
	if _, _, err := svc.CreateServiceAccount(ctx, "ml", keystore.CreateServiceAccountInput{
		Name: "bot", AllProjectsRole: keystore.RoleViewer}); err != nil {
		t.Fatal(err)
	}
	k, err := svc.CreateKey(ctx, "ml", "bot", keystore.CreateKeyInput{ExpiresIn: 2 * time.Second})
	if err != nil {
		t.Fatal(err)
	}

	lag := time.Hour
	h := newHandler(t, st, Handler{timeNow: func() time.Time { return time.Now().Add(-lag) }})
	status := func() int {
		rec := httptest.NewRecorder()
		next := &nextRecorder{}
		if err := h.ServeHTTP(rec, newRequest(k.Key), next); err != nil {
			t.Fatal(err)
		}
		if next.called {
			return http.StatusOK
		}
		return rec.Code
	}
	waitUntil(t, "the key let in before its expiry", func() bool { return status() == http.StatusOK })

	time.Sleep(time.Until(*k.ExpiresAt))
	waitUntil(t, "the expired key refused by the sidecar whose clock lags", func() bool { return status() == http.StatusUnauthorized })
	t.Logf("refused %v after the expiry", time.Since(*k.ExpiresAt).Round(time.Millisecond))
	if h.timeNow().UnixMilli() >= k.ExpiresAt.UnixMilli() {
		t.Fatal("the sidecar's clock reached the expiry: the test proves nothing")
	}
	b, err := st.rdb.Get(ctx, wire.RedisKey(wire.HashKey(k.Key))).Bytes()
	if err != nil {
		t.Fatalf("reading the key's record: %v", err)
	}
	r, err := wire.OpenRecord(wire.NewVerifier(keytest.SigningKey(t).Public()), wire.HashKey(k.Key), b)
	if err != nil || r.State != wire.KeyRevoked {
		t.Errorf("record after the expiry: %+v, %v; want the tombstone", r, err)
	}
}
