package caddymodule

import (
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"

	"github.com/sagate/sagate/caddymodule/assertion"
	"github.com/sagate/sagate/examples/verifyassertion"
)

// newTestAsserter is an asserter with a fresh key, and the keys that verify it.
func newTestAsserter(tb testing.TB, audience string) (*asserter, verifyassertion.Keys) {
	tb.Helper()
	file := filepath.Join(tb.TempDir(), "assertion.key")
	k, err := assertion.WriteNew(file)
	if err != nil {
		tb.Fatal(err)
	}
	s, err := newAsserter(&Assertion{KeyFile: file, Audience: audience})
	if err != nil {
		tb.Fatal(err)
	}
	keys, err := verifyassertion.ParseJWKS(assertion.JWKS(k))
	if err != nil {
		tb.Fatal(err)
	}
	return s, keys
}

func TestAsserterReusesForAMinute(t *testing.T) {
	s, keys := newTestAsserter(t, "api")
	id := &identity{vals: [6]string{"sa_1", "bot@ws", "ws", "key_1", "p", "viewer"}}
	t0 := time.Unix(1_800_000_000, 0)
	first, err := s.token(id, t0)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		what string
		id   *identity
		at   time.Time
		same bool
	}{
		{"same identity, 59s later", id, t0.Add(59 * time.Second), true},
		{"same identity, a minute later", id, t0.Add(time.Minute), false},
		{"same identity, earlier (clock stepped back)", id, t0.Add(-time.Second), false},
		{"another role", &identity{vals: [6]string{"sa_1", "bot@ws", "ws", "key_1", "p", "owner"}}, t0.Add(time.Second), false},
		{"another project", &identity{vals: [6]string{"sa_1", "bot@ws", "ws", "key_1", "q", "viewer"}}, t0.Add(time.Second), false},
		{"another key", &identity{vals: [6]string{"sa_1", "bot@ws", "ws", "key_2", "p", "viewer"}}, t0.Add(time.Second), false},
	} {
		tok, err := s.token(tc.id, tc.at)
		if err != nil {
			t.Fatal(err)
		}
		if (tok == first) != tc.same {
			t.Errorf("%s: same assertion %v, want %v", tc.what, tok == first, tc.same)
		}
		c, err := keys.Verify(tok, "api", tc.at)
		if err != nil {
			t.Fatalf("%s: %v", tc.what, err)
		}
		if c.KeyID != tc.id.vals[idKeyID] || c.Project != tc.id.vals[idProject] || c.Role != tc.id.vals[idRole] || c.Expires-c.IssuedAt != 300 {
			t.Errorf("%s: claims %+v", tc.what, c)
		}
	}
}

func TestAsserterCacheIsBounded(t *testing.T) {
	s, _ := newTestAsserter(t, "api")
	now := time.Now()
	for i := range assertionCacheSize + 10 {
		id := &identity{vals: [6]string{"sa_1", "bot@ws", "ws", "key_" + strings.Repeat("x", i%7) + string(rune('a'+i%26)) + time.Duration(i).String()}}
		if _, err := s.token(id, now); err != nil {
			t.Fatal(err)
		}
	}
	if n := len(s.cache); n > assertionCacheSize {
		t.Errorf("the cache holds %d assertions, bound %d", n, assertionCacheSize)
	}
}

func TestAssertionOption(t *testing.T) {
	for _, tc := range []struct {
		input, wantErr string
	}{
		{input: "sagate {\n assertion {\n key_file /k\n audience api\n }\n}"},
		{input: "sagate {\n assertion {\n key_file /k\n }\n}", wantErr: "audience is required"},
		{input: "sagate {\n assertion {\n audience api\n }\n}", wantErr: "key_file is required"},
		{input: "sagate {\n assertion {\n key_file /k\n key_file /j\n audience api\n }\n}", wantErr: "key_file given more than once"},
		{input: "sagate {\n assertion {\n lifetime 1h\n }\n}", wantErr: `unknown option "lifetime"`},
		{input: "sagate {\n assertion /k\n}", wantErr: "wrong argument count"},
	} {
		var h Handler
		err := h.UnmarshalCaddyfile(caddyfile.NewTestDispenser(tc.input))
		if tc.wantErr == "" {
			if err != nil || h.Assertion == nil || h.Assertion.KeyFile != "/k" || h.Assertion.Audience != "api" {
				t.Errorf("%q: %+v, %v", tc.input, h.Assertion, err)
			}
			continue
		}
		if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
			t.Errorf("%q: error %v, want one containing %q", tc.input, err, tc.wantErr)
		}
	}
	if _, err := newAsserter(&Assertion{KeyFile: filepath.Join(t.TempDir(), "missing"), Audience: "api"}); err == nil {
		t.Error("a missing key file is accepted")
	}
}

// BenchmarkServeHTTPHitAssertion is BenchmarkServeHTTPHit on a site that gives
// assertions: the same identity, so the assertion is the cached one.
func BenchmarkServeHTTPHitAssertion(b *testing.B) {
	f := newHitFixture(b)
	f.h.asserter, _ = newTestAsserter(b, "https://api.example.com")
	benchHits(b, f)
}

// BenchmarkAssertionSign is what a new identity costs once a minute: one signature.
func BenchmarkAssertionSign(b *testing.B) {
	s, _ := newTestAsserter(b, "https://api.example.com")
	c := assertion.Claims{Issuer: assertion.Issuer, Subject: "ci-bot@ml-team", Audience: s.audience, IssuedAt: 1, Expires: 301,
		ServiceAccountID: "sa_01", Workspace: "ml-team", KeyID: "key_01", Project: "forecasting", Role: "contributor"}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := s.key.Sign(c); err != nil {
			b.Fatal(err)
		}
	}
}
