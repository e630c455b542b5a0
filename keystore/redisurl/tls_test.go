package redisurl

import (
	"context"
	"strings"
	"testing"

	"github.com/sagate/sagate/internal/testing/redistest"
)

func TestTLSParameters(t *testing.T) {
	p := redistest.NewPKI(t)
	q := p.URLQuery()
	tests := []struct {
		url     string
		wantErr string // "" for success
		certs   int    // client certificates expected
		name    string // expected ServerName
	}{
		{"rediss://127.0.0.1:6380/0?" + q, "", 1, "127.0.0.1"},
		{"rediss://127.0.0.1:6380/0?tls_ca_file=" + p.CA + "&tls_server_name=redis.internal&dial_timeout=1s", "", 0, "redis.internal"},
		{"rediss+sentinel://127.0.0.1:26379/0?master_name=m&" + q, "", 1, "127.0.0.1"},
		{"rediss+cluster://127.0.0.1:7000?addr=127.0.0.1:7001&" + q, "", 1, "127.0.0.1"},
		{"redis://127.0.0.1:6379/0?" + q, "need a rediss:// URL", 0, ""},
		{"rediss://127.0.0.1:6380/0?skip_verify=true", "skip_verify is not supported", 0, ""},
		{"rediss://127.0.0.1:6380/0?tls_cert_file=" + p.ClientCert, "go together", 0, ""},
		{"rediss://127.0.0.1:6380/0?tls_ca_file=/nonexistent/ca.pem", "reading tls_ca_file", 0, ""},
		{"rediss://127.0.0.1:6380/0?tls_ca_file=" + p.ClientKey, "holds no PEM certificate", 0, ""},
		{"rediss://127.0.0.1:6380/0?tls_cert_file=" + p.ClientCert + "&tls_key_file=" + p.ServerKey, "loading the client certificate", 0, ""},
		{"rediss://127.0.0.1:6380/0?tls_ca_file=", "exactly one value", 0, ""},
	}
	for _, tt := range tests {
		t.Run(tt.url, func(t *testing.T) {
			o, err := Parse(tt.url)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want one containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			tlsCfg := func() (n int, name string, ca bool) {
				switch {
				case o.Simple != nil:
					c := o.Simple.TLSConfig
					return len(c.Certificates), c.ServerName, c.RootCAs != nil
				case o.Failover != nil:
					c := o.Failover.TLSConfig
					return len(c.Certificates), c.ServerName, c.RootCAs != nil
				default:
					c := o.Cluster.TLSConfig
					return len(c.Certificates), c.ServerName, c.RootCAs != nil
				}
			}
			n, name, ca := tlsCfg()
			if n != tt.certs || name != tt.name || !ca {
				t.Fatalf("TLS config: %d certificates, server name %q, CA pool set %v; want %d, %q, true", n, name, ca, tt.certs, tt.name)
			}
		})
	}
}

// TestCheckTLS runs CheckTLS against a real TLS-only redis-server: the right CA and
// client certificate pass; a wrong CA, a missing client certificate or a server name
// the certificate lacks are TLS errors; an unreachable or plain-text server is not.
func TestCheckTLS(t *testing.T) {
	p := redistest.NewPKI(t)
	other := redistest.NewPKI(t)
	s := redistest.StartTLS(t, p)
	plain := redistest.Start(t)
	gone := redistest.Start(t)
	gone.Kill()
	down := gone.Addr()
	tests := []struct {
		name, url string
		fails     bool
	}{
		{"right CA and client certificate", s.TLSURL(p), false},
		{"wrong CA", "rediss://" + s.Addr() + "/0?" + other.URLQuery(), true},
		{"no client certificate", "rediss://" + s.Addr() + "/0?tls_ca_file=" + p.CA, true},
		{"server name not in the certificate", s.TLSURL(p) + "&tls_server_name=redis.example", true},
		// A plain server waits for a line end that a TLS ClientHello lacks: that looks
		// like a slow server, not a TLS mistake.
		{"server without TLS", "rediss://" + plain.Addr() + "/0?" + p.URLQuery(), false},
		{"server down", "rediss://" + down + "/0?" + p.URLQuery(), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o, err := Parse(tt.url)
			if err != nil {
				t.Fatal(err)
			}
			c := o.Client()
			defer c.Close()
			err = o.CheckTLS(context.Background(), c)
			if tt.fails != (err != nil) {
				t.Fatalf("CheckTLS = %v, want failure %v", err, tt.fails)
			}
			if err != nil && !strings.Contains(err.Error(), "TLS verification failed") {
				t.Fatalf("CheckTLS = %v, want it to say TLS verification failed", err)
			}
		})
	}
}
