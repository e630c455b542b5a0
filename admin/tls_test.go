package admin_test

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"github.com/sagate/sagate/admin"
	"github.com/sagate/sagate/admin/admintest"
)

// The admin serves TLS with a certificate of a private CA, and serves a replaced
// certificate without a restart; a broken replacement keeps the old one, logged once.
func TestTLSServesAndReloads(t *testing.T) {
	ca := admintest.NewCA(t)
	dir := t.TempDir()
	certFile, keyFile := filepath.Join(dir, "admin.crt"), filepath.Join(dir, "admin.key")
	ca.Issue(t, 1, certFile, keyFile)
	core, logs := observer.New(zapcore.InfoLevel)
	reloader, err := admin.NewCertReloader(certFile, keyFile, 20*time.Millisecond, zap.New(core))
	if err != nil {
		t.Fatal(err)
	}

	e := admintest.Start(t, admintest.Options{})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- e.Server.Serve(ctx, tls.NewListener(ln, reloader.TLSConfig())) }()
	t.Cleanup(func() {
		cancel()
		if err := <-served; err != nil {
			t.Errorf("serve: %v", err)
		}
	})
	base := "https://" + ln.Addr().String()

	pool, err := admin.LoadCAFile(ca.File)
	if err != nil {
		t.Fatal(err)
	}
	c, err := admin.NewClient(base, e.Token, admin.WithRootCAs(pool))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.CreateWorkspace(ctx, admin.CreateWorkspaceRequest{Name: "ml-team"}); err != nil {
		t.Fatalf("over TLS with the CA: %v", err)
	}
	// Without the private CA the certificate is not trusted.
	plain, err := admin.NewClient(base, e.Token)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := plain.ListWorkspaces(ctx, admin.ListOptions{}); err == nil || !strings.Contains(err.Error(), "certificate") {
		t.Fatalf("over TLS without the CA: %v; want a certificate error", err)
	}
	if _, err := admin.LoadCAFile(keyFile); err == nil {
		t.Fatal("LoadCAFile took a file with no certificate")
	}

	serial := func() (int64, error) {
		conn, err := tls.Dial("tcp", ln.Addr().String(), &tls.Config{RootCAs: pool, ServerName: "127.0.0.1"})
		if err != nil {
			return 0, err
		}
		defer conn.Close()
		return conn.ConnectionState().PeerCertificates[0].SerialNumber.Int64(), nil
	}
	wantSerial := func(want int64) func() error {
		return func() error {
			got, err := serial()
			if err != nil {
				return err
			}
			if got != want {
				return fmt.Errorf("serving certificate %d, want %d", got, want)
			}
			return nil
		}
	}
	if err := wantSerial(1)(); err != nil {
		t.Fatal(err)
	}

	ca.Issue(t, 2, certFile, keyFile)
	admintest.Eventually(t, 5*time.Second, "the replaced certificate to be served", wantSerial(2))

	// A broken certificate file: the previous certificate stays, and the failure is logged once.
	if err := os.WriteFile(certFile, []byte("not a certificate"), 0o600); err != nil {
		t.Fatal(err)
	}
	admintest.Eventually(t, 5*time.Second, "the broken certificate to be noticed", func() error {
		if logs.FilterMessageSnippet("reloading the TLS certificate failed").Len() == 0 {
			_, _ = serial()
			return errors.New("not logged yet")
		}
		return nil
	})
	for range 5 {
		time.Sleep(25 * time.Millisecond) // past the check interval: each handshake checks again
		if err := wantSerial(2)(); err != nil {
			t.Fatalf("with a broken certificate file: %v", err)
		}
	}
	if n := logs.FilterMessageSnippet("reloading the TLS certificate failed").Len(); n != 1 {
		t.Fatalf("the broken certificate was logged %d times, want once", n)
	}
	if _, err := c.ListWorkspaces(ctx, admin.ListOptions{}); err != nil {
		t.Fatalf("with a broken certificate file: %v", err)
	}

	ca.Issue(t, 3, certFile, keyFile)
	admintest.Eventually(t, 5*time.Second, "the repaired certificate to be served", wantSerial(3))
}

func TestCertReloaderRefusesMissingFiles(t *testing.T) {
	dir := t.TempDir()
	if _, err := admin.NewCertReloader(filepath.Join(dir, "a.crt"), filepath.Join(dir, "a.key"), 0, nil); err == nil {
		t.Fatal("NewCertReloader with missing files succeeded")
	}
	if _, err := admin.NewCertReloader("", "", 0, nil); err == nil {
		t.Fatal("NewCertReloader without files succeeded")
	}
}
