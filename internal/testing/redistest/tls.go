package redistest

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"
)

// PKI is a private CA with a server certificate (for 127.0.0.1 and localhost) and a
// client certificate it signed, as PEM files in a temporary directory.
type PKI struct {
	CA, ServerCert, ServerKey, ClientCert, ClientKey string
}

// NewPKI creates a fresh CA and its server and client certificates. Two PKIs do not
// trust each other.
func NewPKI(t testing.TB) *PKI {
	t.Helper()
	ca := NewCA(t)
	p := &PKI{CA: ca.File}
	p.ServerCert, p.ServerKey = ca.Server(t, "server", "localhost", "127.0.0.1")
	p.ClientCert, p.ClientKey = ca.Client(t, "client")
	return p
}

// CA is a private certificate authority of a test: its certificate is the PEM file
// File, in a temporary directory that also holds the certificates it issues.
type CA struct {
	File   string
	Pool   *x509.CertPool // trusts the CA only
	dir    string
	cert   *x509.Certificate
	key    *ecdsa.PrivateKey
	serial int64
}

// NewCA creates a fresh CA. Two CAs do not trust each other.
func NewCA(t testing.TB) *CA {
	t.Helper()
	c := &CA{dir: t.TempDir(), key: newKey(t), serial: 1}
	c.File = filepath.Join(c.dir, "ca.pem")
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(c.serial), Subject: pkix.Name{CommonName: "sagate test CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &c.key.PublicKey, c.key)
	if err != nil {
		t.Fatalf("creating the test CA: %v", err)
	}
	if c.cert, err = x509.ParseCertificate(der); err != nil {
		t.Fatal(err)
	}
	c.Pool = x509.NewCertPool()
	c.Pool.AddCert(c.cert)
	writePEM(t, c.File, "CERTIFICATE", der)
	return c
}

// Server issues a server certificate named name for hosts (IP addresses and DNS
// names, its subject alternative names) and returns its PEM files, name.pem and
// name-key.pem.
func (c *CA) Server(t testing.TB, name string, hosts ...string) (certFile, keyFile string) {
	t.Helper()
	tmpl := &x509.Certificate{ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	for _, h := range hosts {
		if ip := net.ParseIP(h); ip != nil {
			tmpl.IPAddresses = append(tmpl.IPAddresses, ip)
		} else {
			tmpl.DNSNames = append(tmpl.DNSNames, h)
		}
	}
	return c.issue(t, name, tmpl)
}

// Client issues a client certificate named name and returns its PEM files.
func (c *CA) Client(t testing.TB, name string) (certFile, keyFile string) {
	t.Helper()
	return c.issue(t, name, &x509.Certificate{ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}})
}

func (c *CA) issue(t testing.TB, name string, tmpl *x509.Certificate) (certFile, keyFile string) {
	t.Helper()
	c.serial++
	tmpl.SerialNumber, tmpl.Subject = big.NewInt(c.serial), pkix.Name{CommonName: name}
	tmpl.NotBefore, tmpl.NotAfter = time.Now().Add(-time.Hour), time.Now().Add(24*time.Hour)
	tmpl.KeyUsage = x509.KeyUsageDigitalSignature
	key := newKey(t)
	der, err := x509.CreateCertificate(rand.Reader, tmpl, c.cert, &key.PublicKey, c.key)
	if err != nil {
		t.Fatalf("creating the %s certificate: %v", name, err)
	}
	kder, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	certFile, keyFile = filepath.Join(c.dir, name+".pem"), filepath.Join(c.dir, name+"-key.pem")
	writePEM(t, certFile, "CERTIFICATE", der)
	writePEM(t, keyFile, "PRIVATE KEY", kder)
	return certFile, keyFile
}

// ClientTLS is the client side of p: trusts p's CA and presents p's client certificate.
func (p *PKI) ClientTLS(t testing.TB) *tls.Config {
	t.Helper()
	pem, err := os.ReadFile(p.CA)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(pem)
	cert, err := tls.LoadX509KeyPair(p.ClientCert, p.ClientKey)
	if err != nil {
		t.Fatal(err)
	}
	return &tls.Config{RootCAs: pool, Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
}

// URLQuery is the query of a rediss:// URL that trusts p's CA and presents p's
// client certificate (sagate's tls_* URL parameters).
func (p *PKI) URLQuery() string {
	return url.Values{"tls_ca_file": {p.CA}, "tls_cert_file": {p.ClientCert}, "tls_key_file": {p.ClientKey}}.Encode()
}

// StartTLS starts a redis-server that speaks TLS only, with p's server certificate,
// and requires a client certificate signed by p's CA.
func StartTLS(t testing.TB, p *PKI) *Server {
	t.Helper()
	s := &Server{t: t, Port: FreePort(t), dir: t.TempDir(), tls: p.ClientTLS(t)}
	s.args = []string{"--port", "0", "--tls-port", strconv.Itoa(s.Port),
		"--tls-cert-file", p.ServerCert, "--tls-key-file", p.ServerKey,
		"--tls-ca-cert-file", p.CA, "--tls-auth-clients", "yes"}
	return startServer(t, s)
}

// TLSURL is the rediss:// URL of a server started by StartTLS, for database 0, with
// the tls_* parameters of p.
func (s *Server) TLSURL(p *PKI) string { return "rediss://" + s.Addr() + "/0?" + p.URLQuery() }

func newKey(t testing.TB) *ecdsa.PrivateKey {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatalf("generating a key: %v", err)
	}
	return k
}

func writePEM(t testing.TB, file, typ string, der []byte) {
	t.Helper()
	if err := os.WriteFile(file, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600); err != nil {
		t.Fatalf("writing %s: %v", file, err)
	}
}
