package redisurl

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"time"

	"github.com/redis/go-redis/v9"
)

// The URL query parameters that set up TLS; sagate reads them, go-redis never sees them.
const (
	paramCA         = "tls_ca_file"     // PEM file of the CAs that sign the server's certificate
	paramCert       = "tls_cert_file"   // PEM file of the client certificate (with tls_key_file)
	paramKey        = "tls_key_file"    // PEM file of the client certificate's private key
	paramServerName = "tls_server_name" // name the server's certificate must hold
	// go-redis' own skip_verify turns certificate checks off: sagate refuses it.
	paramSkipVerify = "skip_verify"
)

// tlsParams are the tls_* parameters of a URL.
type tlsParams struct {
	ca, cert, key, serverName string
}

func (p tlsParams) empty() bool { return p == tlsParams{} }

// splitTLSParams takes the tls_* parameters out of raw's query and returns raw
// without them, for go-redis' parsers, which refuse parameters they do not know.
func splitTLSParams(raw string) (string, tlsParams, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return "", tlsParams{}, redactURLError(err)
	}
	q, err := url.ParseQuery(u.RawQuery)
	if err != nil {
		return "", tlsParams{}, fmt.Errorf("parsing the query: %w", err)
	}
	if q.Has(paramSkipVerify) {
		return "", tlsParams{}, fmt.Errorf("%s is not supported: give the server's CA with %s", paramSkipVerify, paramCA)
	}
	var p tlsParams
	if !q.Has(paramCA) && !q.Has(paramCert) && !q.Has(paramKey) && !q.Has(paramServerName) {
		return raw, p, nil // untouched
	}
	for name, dst := range map[string]*string{paramCA: &p.ca, paramCert: &p.cert, paramKey: &p.key, paramServerName: &p.serverName} {
		if vs, ok := q[name]; ok {
			if len(vs) != 1 || vs[0] == "" {
				return "", tlsParams{}, fmt.Errorf("%s needs exactly one value", name)
			}
			*dst = vs[0]
			q.Del(name)
		}
	}
	if (p.cert == "") != (p.key == "") {
		return "", tlsParams{}, fmt.Errorf("%s and %s go together", paramCert, paramKey)
	}
	u.RawQuery = q.Encode()
	return u.String(), p, nil
}

// apply sets p on cfg, the TLS config go-redis made for a rediss URL (nil for a
// plain one: then p must be empty).
func (p tlsParams) apply(cfg *tls.Config) error {
	if p.empty() {
		return nil
	}
	if cfg == nil {
		return errors.New("tls_* parameters need a rediss:// URL")
	}
	if p.ca != "" {
		pem, err := os.ReadFile(p.ca)
		if err != nil {
			return fmt.Errorf("reading %s: %w", paramCA, err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return fmt.Errorf("%s holds no PEM certificate", paramCA)
		}
		cfg.RootCAs = pool
	}
	if p.cert != "" {
		cert, err := tls.LoadX509KeyPair(p.cert, p.key)
		if err != nil {
			return fmt.Errorf("loading the client certificate (%s, %s): %w", paramCert, paramKey, err)
		}
		cfg.Certificates = []tls.Certificate{cert}
	}
	if p.serverName != "" {
		cfg.ServerName = p.serverName
	}
	cfg.MinVersion = max(cfg.MinVersion, tls.VersionTLS12)
	return nil
}

// tlsCheckTimeout bounds the PING of CheckTLS.
const tlsCheckTimeout = 5 * time.Second

// CheckTLS sends one PING through c, the client of o, and returns an error when it
// failed the TLS
// handshake: the server's certificate is not trusted (wrong tls_ca_file, or a name
// it does not hold), or the server refused the client's certificate (or its absence).
// Those are configuration mistakes that no retry
// cures, so callers refuse to start. Any other failure (Redis down, slow) returns nil:
// sagate starts without Redis and catches up when it comes. Without TLS it returns
// nil at once.
func (o Options) CheckTLS(ctx context.Context, c redis.UniversalClient) error {
	if !o.tls() {
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, tlsCheckTimeout)
	defer cancel()
	err := c.Ping(ctx).Err()
	if err == nil || !IsTLSError(err) {
		return nil
	}
	return fmt.Errorf("redis: TLS verification failed: %w", err)
}

// tls reports whether the URL asks for TLS.
func (o Options) tls() bool {
	switch {
	case o.Simple != nil:
		return o.Simple.TLSConfig != nil
	case o.Failover != nil:
		return o.Failover.TLSConfig != nil
	case o.Cluster != nil:
		return o.Cluster.TLSConfig != nil
	}
	return false
}

// IsTLSError reports whether err is a failed TLS handshake (see CheckTLS).
func IsTLSError(err error) bool {
	var verify *tls.CertificateVerificationError
	var unknownCA x509.UnknownAuthorityError
	var hostname x509.HostnameError
	var invalid x509.CertificateInvalidError
	var record tls.RecordHeaderError
	var op *net.OpError
	switch {
	case errors.As(err, &verify), errors.As(err, &unknownCA), errors.As(err, &hostname),
		errors.As(err, &invalid), errors.As(err, &record):
		return true
	case errors.As(err, &op) && op.Op == "remote error":
		// An alert from the server: "tls: certificate required", "tls: bad certificate",
		// "tls: unknown certificate authority".
		return true
	}
	return false
}
