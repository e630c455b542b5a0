package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sagate/sagate/caddymodule/assertion"
	"github.com/sagate/sagate/examples/verifyassertion"
)

func TestAssertionKeyCommands(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "assertion.key")
	r := runWith(t, nil, "assertion-key", "generate", file)
	if r.code != 0 {
		t.Fatalf("generate: %+v", r)
	}
	k, err := assertion.Load(file)
	if err != nil || strings.TrimSpace(r.stdout) != k.ID() {
		t.Fatalf("generate printed %q; the file holds key %q (%v)", r.stdout, k.ID(), err)
	}
	if fi, err := os.Stat(file); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("key file: %v, %v; want mode 0600", fi, err)
	}
	if r := runWith(t, nil, "assertion-key", "generate", file); r.code != 1 || !strings.Contains(r.stderr, "refusing to overwrite") {
		t.Errorf("a second generate: %+v; want a refusal", r)
	}
	r = runWith(t, nil, "assertion-key", "public", file)
	if r.code != 0 {
		t.Fatalf("public: %+v", r)
	}
	keys, err := verifyassertion.ParseJWKS([]byte(r.stdout))
	if err != nil || len(keys) != 1 || !keys[k.ID()].Equal(k.Public()) {
		t.Errorf("public printed %q (%v); want the JWKS of key %s", r.stdout, err, k.ID())
	}
	if r := runWith(t, nil, "assertion-key", "public"); r.code != 2 {
		t.Errorf("public without a file: %+v; want a usage error", r)
	}
	bad := filepath.Join(dir, "bad.key")
	if err := os.WriteFile(bad, []byte("sagate-ed25519:not-a-pem-key\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if r := runWith(t, nil, "assertion-key", "public", bad); r.code != 1 || strings.Contains(r.stderr, "not-a-pem-key") {
		t.Errorf("public of a bad file: %+v; want a refusal that does not quote the file", r)
	}
}
