package admin

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sagate/sagate/keystore"
	"github.com/sagate/sagate/keystore/sqlstore"
)

func TestCheckToken(t *testing.T) {
	random := func(n int, enc func([]byte) string) string {
		b := make([]byte, n)
		if _, err := rand.Read(b); err != nil {
			t.Fatal(err)
		}
		return enc(b)
	}
	cases := []struct {
		name, tok string
		ok        bool
	}{
		{"openssl rand -hex 32", random(32, hex.EncodeToString), true},
		{"openssl rand -base64 32", random(32, base64.StdEncoding.EncodeToString), true},
		{"openssl rand -hex 24", random(24, hex.EncodeToString), true},
		{"prefixed random hex", "demo-" + random(32, hex.EncodeToString), true},
		{"openssl rand -hex 16", random(16, hex.EncodeToString), false},
		{"memorable words", "my-super-secret-admin-token", false},
		{"words and a purpose", "admin-token-for-prod-cluster", false},
		{"a pangram", "thequickbrownfoxjumpsoverthelazydog", false},
		{"a keyboard row", "qwertyuiopasdfghjklzxcvbnm1234567890", false},
		{"too long", random(300, hex.EncodeToString), false},
		{"too short", "Xk3!pQ9z", false},
		{"one repeated letter", "aaaaaaaaaaaaaaaa", false},
		{"one repeated letter, long", strings.Repeat("a", 200), false},
		{"a word twice", "passwordpassword", false},
		{"a counting run", "0123456789abcdef0123", false},
		{"the alphabet", "abcdefghijklmnopqrstuvwxyz0123456789", false},
		{"a short pattern repeated", strings.Repeat("ab12", 20), false},
		{"a counting run with a prefix", "admin-token-0123456789abcdef", false},
		{"the alphabet twice", strings.Repeat("abcdefghijklmnopqrstuvwxyz", 2), false},
	}
	for _, c := range cases {
		err := CheckToken(c.tok)
		if (err == nil) != c.ok {
			t.Errorf("%s: CheckToken = %v (about %.0f bits); want ok=%v", c.name, err, TokenBits(c.tok), c.ok)
		}
		if err != nil && strings.Contains(err.Error(), c.tok) {
			t.Errorf("%s: the error shows the token: %v", c.name, err)
		}
	}
}

// Random tokens of 32 bytes, as openssl rand -hex 32 or -base64 32 writes them, pass
// whatever the draw.
func TestCheckTokenRandom(t *testing.T) {
	for range 30 {
		b := make([]byte, 32)
		if _, err := rand.Read(b); err != nil {
			t.Fatal(err)
		}
		for _, tok := range []string{hex.EncodeToString(b), base64.StdEncoding.EncodeToString(b)} {
			if err := CheckToken(tok); err != nil {
				t.Fatalf("a random 32-byte token refused: %v", err)
			}
		}
	}
}

// Weak tokens are refused by NewServer too, not only by the CLI.
func TestNewServerRefusesWeakToken(t *testing.T) {
	st, err := sqlstore.OpenSQLite(context.Background(), filepath.Join(t.TempDir(), "sagate.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	svc, err := keystore.NewService(st, keystore.ServiceOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := NewServer(Config{Token: "passwordpassword", Service: svc}); err == nil || !strings.Contains(err.Error(), "predictable") {
		t.Fatalf("NewServer with a weak token: %v", err)
	}
}
