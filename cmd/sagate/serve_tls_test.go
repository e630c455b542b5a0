package main

import (
	"context"
	"crypto/tls"
	"fmt"
	"net/http"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/sagate/sagate/admin"
	"github.com/sagate/sagate/admin/admintest"
	"github.com/sagate/sagate/internal/testing/redistest"
)

// sagate serve listens on loopback unless told otherwise.
func TestServeListensOnLoopbackByDefault(t *testing.T) {
	serve, _, err := newRoot(&app{getenv: envOf(nil)}).Find([]string{"serve"})
	if err != nil {
		t.Fatal(err)
	}
	if got := serve.Flags().Lookup("listen").DefValue; got != "127.0.0.1:8081" {
		t.Fatalf("serve --listen defaults to %q, want 127.0.0.1:8081", got)
	}
	if !strings.HasSuffix(defaultAdminURL, "//"+defaultListen) {
		t.Fatalf("the CLI's default URL %s is not where serve listens (%s)", defaultAdminURL, defaultListen)
	}
}

// sagate serve --tls-cert --tls-key serves https, reloads a replaced certificate, and
// the CLI reaches it with a private CA through --ca-file or SAGATE_ADMIN_CA.
func TestServeTLS(t *testing.T) {
	ca := admintest.NewCA(t)
	dir := t.TempDir()
	certFile, keyFile := filepath.Join(dir, "admin.crt"), filepath.Join(dir, "admin.key")
	ca.Issue(t, 1, certFile, keyFile)
	pool, err := admin.LoadCAFile(ca.File)
	if err != nil {
		t.Fatal(err)
	}
	rs := redistest.Start(t)
	port := redistest.FreePort(t)
	addr := "127.0.0.1:" + strconv.Itoa(port)
	ctx, cancel := context.WithCancel(context.Background())
	var out, errb syncBuffer
	done := make(chan int, 1)
	go func() {
		done <- run(ctx, []string{"serve", "--listen", addr, "--store", "sqlite://" + filepath.Join(dir, "db", "sagate.db"),
			"--redis", rs.URL(), "--tls-cert", certFile, "--tls-key", keyFile}, envOf(map[string]string{envAdminToken: serveToken}), &out, &errb)
	}()
	t.Cleanup(func() {
		cancel()
		if code := <-done; code != 0 {
			t.Errorf("serve exited %d: %s", code, errb.String())
		}
	})
	hc := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	admintest.Eventually(t, 15*time.Second, "sagate serve to be ready over https", func() error {
		res, err := hc.Get("https://" + addr + "/readyz")
		if err != nil {
			return err
		}
		res.Body.Close()
		if res.StatusCode != http.StatusOK {
			return fmt.Errorf("readyz %d", res.StatusCode)
		}
		return nil
	})

	cli := map[string]string{envAdminURL: "https://" + addr, envAdminToken: serveToken, envWorkspace: "ml-team"}
	if r := runWith(t, cli, "workspace", "create", "ml-team"); r.code != exitError || !strings.Contains(r.stderr, "certificate") ||
		!strings.Contains(r.stderr, envAdminCA+" or --ca-file") {
		t.Fatalf("https without the CA: %+v; want a certificate error", r)
	}
	if r := runWith(t, cli, "workspace", "create", "ml-team", "--ca-file", ca.File); r.code != 0 {
		t.Fatalf("https with --ca-file: %+v", r)
	}
	cli[envAdminCA] = ca.File
	if r := runWith(t, cli, "workspace", "list"); r.code != 0 || !strings.Contains(r.stdout, "ml-team") {
		t.Fatalf("https with %s: %+v", envAdminCA, r)
	}
	if r := runWith(t, cli, "workspace", "list", "--ca-file", keyFile); r.code != exitUsage || !strings.Contains(r.stderr, "no PEM certificate") {
		t.Fatalf("--ca-file without a certificate: %+v", r)
	}

	// A new certificate is served without a restart.
	ca.Issue(t, 2, certFile, keyFile)
	admintest.Eventually(t, 3*admin.DefaultCertCheckInterval, "the replaced certificate to be served", func() error {
		conn, err := tls.Dial("tcp", addr, &tls.Config{RootCAs: pool})
		if err != nil {
			return err
		}
		defer conn.Close()
		if n := conn.ConnectionState().PeerCertificates[0].SerialNumber.Int64(); n != 2 {
			return fmt.Errorf("serving certificate %d", n)
		}
		return nil
	})
	if r := runWith(t, cli, "workspace", "list"); r.code != 0 {
		t.Fatalf("after the certificate changed: %+v", r)
	}
}
