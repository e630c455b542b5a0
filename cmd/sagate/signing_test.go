package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sagate/sagate/keystore/wire"
)

func TestSigningKeyCommands(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "signing.key")
	r := runWith(t, nil, "signing-key", "generate", file)
	if r.code != 0 {
		t.Fatalf("generate: %+v", r)
	}
	pub, err := wire.ParsePublicKey(strings.TrimSpace(r.stdout))
	if err != nil {
		t.Fatalf("generate printed %q: %v", r.stdout, err)
	}
	fi, err := os.Stat(file)
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("key file: %v, %v; want mode 0600", fi, err)
	}
	k, err := wire.LoadSigningKey(file)
	if err != nil || k.Public().String() != pub.String() {
		t.Fatalf("the file holds another key (%v)", err)
	}
	before, _ := os.ReadFile(file)
	if r := runWith(t, nil, "signing-key", "generate", file); r.code != 1 || !strings.Contains(r.stderr, "refusing to overwrite") {
		t.Errorf("a second generate: %+v; want a refusal", r)
	}
	if after, _ := os.ReadFile(file); string(after) != string(before) {
		t.Error("a second generate changed the key file")
	}
	if r := runWith(t, nil, "signing-key", "public", file); r.code != 0 || strings.TrimSpace(r.stdout) != pub.String() {
		t.Errorf("public: %+v; want %s", r, pub)
	}
	if strings.Contains(r.stdout+r.stderr, strings.TrimSpace(string(before))) {
		t.Error("a command printed the private key")
	}
	open := filepath.Join(dir, "open.key")
	if err := os.WriteFile(open, before, 0o644); err != nil {
		t.Fatal(err)
	}
	if r := runWith(t, nil, "signing-key", "public", open); r.code != 1 || !strings.Contains(r.stderr, "readable by others") {
		t.Errorf("public of a world-readable key file: %+v; want a refusal", r)
	}
	if r := runWith(t, nil, "signing-key", "public", filepath.Join(dir, "missing")); r.code != 1 {
		t.Errorf("public of a missing file: %+v", r)
	}
}

// TestServeSigningKey: PostgreSQL needs a key file (several admins share it); a key
// file that is not a key, or readable by others, stops serve before it starts.
func TestServeSigningKey(t *testing.T) {
	dir := t.TempDir()
	token := filepath.Join(dir, "token")
	bad := filepath.Join(dir, "bad.key")
	for p, c := range map[string]string{token: serveToken, bad: "not a key"} {
		if err := os.WriteFile(p, []byte(c), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	db := "sqlite://" + filepath.Join(dir, "sagate.db")
	cases := []struct {
		name string
		env  map[string]string
		args []string
		want string
	}{
		{"not a key", nil, []string{"--store", db, "--signing-key-file", bad}, "not a sagate signing key"},
		{"not a key from the environment", map[string]string{envSigningKeyFile: bad}, []string{"--store", db}, "not a sagate signing key"},
		{"missing key file", nil, []string{"--store", db, "--signing-key-file", filepath.Join(dir, "nope")}, "reading the signing key"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			args := append([]string{"serve", "--listen", "127.0.0.1:0", "--admin-token-file", token}, c.args...)
			r := runWith(t, c.env, args...)
			if r.code != 1 || !strings.Contains(r.stderr, c.want) {
				t.Fatalf("exit %d, stderr %q; want 1 and %q", r.code, r.stderr, c.want)
			}
		})
	}
	if _, err := os.Stat(filepath.Join(dir, defaultSigningKeyName)); err == nil {
		t.Error("serve created a key file although one was given")
	}
}

func TestServeSigningKeyRequiredWithPostgres(t *testing.T) {
	a := &app{getenv: func(string) string { return "" }}
	_, err := a.loadServeSigningKey("", "postgres://db/sagate", nil)
	if err == nil || !strings.Contains(err.Error(), "--signing-key-file") || !strings.Contains(err.Error(), "sagate signing-key generate") {
		t.Fatalf("error %v; want one naming the flag and how to create a key", err)
	}
}
