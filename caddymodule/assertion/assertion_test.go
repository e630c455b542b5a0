package assertion

import (
	"crypto/ed25519"
	"encoding/base64"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestLoadOpenSSLKey: a key made by `openssl genpkey -algorithm ed25519` is a valid
// assertion key, and what it signs verifies with its public half.
func TestLoadOpenSSLKey(t *testing.T) {
	file := filepath.Join(t.TempDir(), "k.pem")
	if out, err := exec.Command("openssl", "genpkey", "-algorithm", "ed25519", "-out", file).CombinedOutput(); err != nil {
		t.Fatalf("openssl genpkey: %v\n%s", err, out)
	}
	k, err := Load(file)
	if err != nil {
		t.Fatal(err)
	}
	tok, err := k.Sign(Claims{Issuer: Issuer, Subject: "bot@ws", Audience: "api", IssuedAt: 1, Expires: 2})
	if err != nil {
		t.Fatal(err)
	}
	parts := strings.Split(tok, ".")
	sig, _ := base64.RawURLEncoding.DecodeString(parts[2])
	if len(parts) != 3 || !ed25519.Verify(k.Public(), []byte(parts[0]+"."+parts[1]), sig) {
		t.Fatalf("the signature of %q does not verify", tok)
	}
}

// TestThumbprint checks the key id against RFC 8037's example (appendix A.3).
func TestThumbprint(t *testing.T) {
	x, _ := base64.RawURLEncoding.DecodeString("11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo")
	if got, want := thumbprint(ed25519.PublicKey(x)), "kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k"; got != want {
		t.Errorf("thumbprint %s, want %s", got, want)
	}
}

func TestLoadRefuses(t *testing.T) {
	dir := t.TempDir()
	for name, content := range map[string]string{
		"empty":   "",
		"not pem": "sagate-ed25519:secret-looking-text\n",
		"public":  "-----BEGIN PUBLIC KEY-----\nMCowBQYDK2VwAyEAGb9ECWmEzf6FQbrBZ9w7lshQhqowtrbLDFw4rXAxZuE=\n-----END PUBLIC KEY-----\n",
		"garbage": "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n",
	} {
		file := filepath.Join(dir, strings.ReplaceAll(name, " ", "_"))
		if err := os.WriteFile(file, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		_, err := Load(file)
		if err == nil {
			t.Errorf("%s: loaded", name)
		} else if strings.Contains(err.Error(), "secret-looking") {
			t.Errorf("%s: the error quotes the file: %v", name, err)
		}
	}
}
