package console

import (
	"context"
	"crypto/sha256"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sagate/sagate/keystore"
	"github.com/sagate/sagate/keystore/sqlstore"
)

// TestSessionKeepsNoCredential: after sign-in, nothing the console keeps of the session
// holds the credential; it keeps the principal with the credential's hash.
func TestSessionKeepsNoCredential(t *testing.T) {
	st, err := sqlstore.Open(context.Background(), "sqlite://"+filepath.Join(t.TempDir(), "c.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })
	svc, err := keystore.NewService(st, keystore.ServiceOptions{})
	if err != nil {
		t.Fatal(err)
	}
	const cred = "operator-credential-8a16abdd228821e4144a2ffbc5d31537803fc0db18695deb2a8386a8a1ed0f0d"
	c, err := New(Config{Service: svc,
		Authenticate: func(_ context.Context, got string) (Principal, error) {
			if got != cred {
				return Principal{}, ErrBadCredential
			}
			return Principal{Actor: "operator:alice", Value: keystore.Operator("alice"), Proof: sha256.Sum256([]byte(got))}, nil
		},
		Recheck: func(_ context.Context, p Principal) (Principal, error) { return p, nil },
		Bind: func(ctx context.Context, p Principal) context.Context {
			return keystore.WithPrincipal(ctx, p.Value.(keystore.Principal))
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	r := httptest.NewRequest(http.MethodPost, Path+"sign-in", strings.NewReader(url.Values{"credential": {cred}}.Encode()))
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if err := r.ParseForm(); err != nil {
		t.Fatal(err)
	}
	w := httptest.NewRecorder()
	c.signIn(w, r, &req{})
	if w.Code != http.StatusSeeOther {
		t.Fatalf("sign-in: %d", w.Code)
	}
	c.sessions.mu.Lock()
	defer c.sessions.mu.Unlock()
	if len(c.sessions.byID) != 1 {
		t.Fatalf("%d sessions, want 1", len(c.sessions.byID))
	}
	for _, s := range c.sessions.byID {
		if dump := fmt.Sprintf("%#v", *s); strings.Contains(dump, cred) || !strings.Contains(dump, "operator:alice") {
			t.Fatalf("the session holds the credential, or not the principal: %s", dump)
		}
	}
}
