// Command authsvc is the auth service of the forward_auth comparison in `make bench`:
// what users run today in front of Caddy's forward_auth. For every request it does what
// the sagate sidecar does on a cache miss, as a separate service: it checks the bearer
// key's format, hashes it, does ONE Redis GET of the same record the sidecar reads
// (wire.RedisKey(keystore.HashKey(key))), with no local cache, and verifies the
// admin's signature of the record.
//
//	authsvc -listen 127.0.0.1:9100 -redis redis://127.0.0.1:6379/0 -signing-key sagate-ed25519:…
//
// It answers 200 with X-Service-Account-Id, X-Service-Account, X-Workspace and
// X-Api-Key-Id for a live key (forward_auth copies them with copy_headers), 401 for
// anything else, and 503 when Redis cannot answer. It never logs a key.
package main

import (
	"context"
	"errors"
	"flag"
	"log"
	"net/http"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/sagate/sagate/keystore"
	"github.com/sagate/sagate/keystore/wire"
)

func main() {
	listen := flag.String("listen", "127.0.0.1:9100", "address to listen on")
	redisURL := flag.String("redis", "redis://127.0.0.1:6379/0", "Redis holding the key records")
	timeout := flag.Duration("lookup-timeout", 100*time.Millisecond, "bound of one Redis GET (as the sidecar's default)")
	signingKey := flag.String("signing-key", "", "the admin's public signing key (sagate signing-key public FILE)")
	flag.Parse()
	pub, err := wire.ParsePublicKey(*signingKey)
	if err != nil {
		log.Fatalf("authsvc: -signing-key: %v", err)
	}

	opt, err := redis.ParseURL(*redisURL)
	if err != nil {
		log.Fatalf("authsvc: parsing the redis URL: %v", err)
	}
	rdb := redis.NewClient(opt)
	defer rdb.Close()

	srv := &http.Server{
		Addr:              *listen,
		Handler:           &checker{rdb: rdb, timeout: *timeout, ver: wire.NewVerifier(pub)},
		ReadHeaderTimeout: 10 * time.Second,
	}
	log.Printf("authsvc listening on %s", *listen)
	log.Fatal(srv.ListenAndServe())
}

// checker answers forward_auth subrequests with one Redis GET each.
type checker struct {
	rdb     *redis.Client
	timeout time.Duration
	ver     *wire.Verifier
}

func (c *checker) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	scheme, key, ok := strings.Cut(r.Header.Get("Authorization"), " ")
	if !ok || !strings.EqualFold(scheme, "bearer") || keystore.CheckKey(key) != nil {
		http.Error(w, "invalid_token", http.StatusUnauthorized)
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), c.timeout)
	defer cancel()
	h := keystore.HashKey(key)
	raw, err := c.rdb.Get(ctx, wire.RedisKey(h)).Bytes()
	if errors.Is(err, redis.Nil) {
		http.Error(w, "invalid_token", http.StatusUnauthorized)
		return
	}
	if err != nil {
		http.Error(w, "key store unavailable", http.StatusServiceUnavailable)
		return
	}
	rec, err := wire.OpenRecord(c.ver, h, raw)
	if err != nil {
		http.Error(w, "key store unavailable", http.StatusServiceUnavailable) // not signed by the admin: cannot tell
		return
	}
	if !rec.Live(time.Now()) {
		http.Error(w, "invalid_token", http.StatusUnauthorized)
		return
	}
	hdr := w.Header()
	hdr.Set("X-Service-Account-Id", rec.SAID)
	hdr.Set("X-Service-Account", rec.SA)
	hdr.Set("X-Workspace", rec.Workspace)
	hdr.Set("X-Api-Key-Id", rec.KeyID)
	w.WriteHeader(http.StatusOK)
}
