package admin

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"os"
	"sync"
	"time"

	"go.uber.org/zap"
)

// DefaultCertCheckInterval is how often, at most, CertReloader looks at its files' modification times.
const DefaultCertCheckInterval = 5 * time.Second

// CertReloader serves the admin's TLS certificate from a certificate and a key file (PEM)
// and reloads them when they change, without a restart: on a handshake, at most every
// check interval, it compares the files' modification times and sizes with those it
// loaded, and reads them again when they differ. A pair that does not load (a
// half-written file, a key that does not match) is logged once and the certificate in
// use is kept; the next change of the files is tried again. It is safe for concurrent use.
type CertReloader struct {
	certFile, keyFile string
	every             time.Duration
	log               *zap.Logger

	mu        sync.Mutex
	cert      *tls.Certificate
	loaded    [2]fileStamp // of the pair in use
	failed    [2]fileStamp // of the last pair that did not load, when hasFailed
	hasFailed bool
	checked   time.Time
}

// fileStamp identifies a version of a file.
type fileStamp struct {
	mod  time.Time
	size int64
}

// NewCertReloader loads certFile and keyFile; every is the check interval (0:
// DefaultCertCheckInterval). log receives reload failures; nil: zap.NewNop().
func NewCertReloader(certFile, keyFile string, every time.Duration, log *zap.Logger) (*CertReloader, error) {
	if certFile == "" || keyFile == "" {
		return nil, errors.New("loading the TLS certificate: both a certificate and a key file are needed")
	}
	if every <= 0 {
		every = DefaultCertCheckInterval
	}
	if log == nil {
		log = zap.NewNop()
	}
	r := &CertReloader{certFile: certFile, keyFile: keyFile, every: every, log: log}
	stamps, err := r.stamps()
	if err != nil {
		return nil, err
	}
	cert, err := r.load()
	if err != nil {
		return nil, err
	}
	r.cert, r.loaded, r.checked = cert, stamps, time.Now()
	return r, nil
}

// stamps returns the current stamps of the certificate and key files.
func (r *CertReloader) stamps() ([2]fileStamp, error) {
	var s [2]fileStamp
	for i, f := range []string{r.certFile, r.keyFile} {
		fi, err := os.Stat(f)
		if err != nil {
			return s, fmt.Errorf("loading the TLS certificate: %w", err)
		}
		s[i] = fileStamp{mod: fi.ModTime(), size: fi.Size()}
	}
	return s, nil
}

// load reads and parses the pair.
func (r *CertReloader) load() (*tls.Certificate, error) {
	cert, err := tls.LoadX509KeyPair(r.certFile, r.keyFile)
	if err != nil {
		return nil, fmt.Errorf("loading the TLS certificate from %s and %s: %w", r.certFile, r.keyFile, err)
	}
	if cert.Leaf == nil && len(cert.Certificate) > 0 {
		if cert.Leaf, err = x509.ParseCertificate(cert.Certificate[0]); err != nil {
			return nil, fmt.Errorf("loading the TLS certificate from %s: %w", r.certFile, err)
		}
	}
	return &cert, nil
}

// GetCertificate returns the certificate in use, reloading it first when the files
// changed; it is tls.Config.GetCertificate.
func (r *CertReloader) GetCertificate(*tls.ClientHelloInfo) (*tls.Certificate, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if now := time.Now(); now.Sub(r.checked) >= r.every {
		r.checked = now
		r.reload()
	}
	return r.cert, nil
}

// reload reads the files again when their stamps differ from those in use; r.mu is held.
func (r *CertReloader) reload() {
	stamps, err := r.stamps()
	if err == nil && stamps == r.loaded {
		return
	}
	if r.hasFailed && stamps == r.failed {
		return // the same broken files: said already
	}
	var cert *tls.Certificate
	if err == nil {
		cert, err = r.load()
	}
	if err != nil {
		r.log.Error("reloading the TLS certificate failed; still serving the previous one", zap.Error(err))
		r.failed, r.hasFailed = stamps, true
		return
	}
	r.cert, r.loaded, r.hasFailed = cert, stamps, false
	r.log.Info("TLS certificate reloaded", zap.String("subject", cert.Leaf.Subject.String()),
		zap.Time("not_after", cert.Leaf.NotAfter))
}

// TLSConfig returns a server configuration that takes its certificate from r: TLS 1.2 or later, HTTP/1.1.
func (r *CertReloader) TLSConfig() *tls.Config {
	return &tls.Config{
		MinVersion:     tls.VersionTLS12,
		GetCertificate: r.GetCertificate,
		NextProtos:     []string{"http/1.1"},
	}
}
