package caddymodule

import (
	"encoding/json"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2"

	"github.com/sagate/sagate/internal/testing/keytest"
	"github.com/sagate/sagate/keystore/wire"
)

func TestValidate(t *testing.T) {
	pub := keytest.SigningKey(t).Public().String()
	tests := []struct {
		name    string
		h       Handler
		wantErr string
	}{
		{name: "empty", h: Handler{}, wantErr: "signing_keys is required"},
		{name: "signing keys only", h: Handler{SigningKeys: []string{pub}}},
		{name: "two signing keys", h: Handler{SigningKeys: []string{pub, otherPublicKey(t)}}},
		{name: "bad signing key", h: Handler{SigningKeys: []string{pub, "sagate-ed25519:AAAA"}}, wantErr: "signing_keys: malformed"},
		{name: "private key as signing key", h: Handler{SigningKeys: []string{privateKeyText(t)}}, wantErr: "signing_keys: not a sagate public key"},
		{name: "full", h: Handler{Redis: "redis://127.0.0.1:6379/0", Workspace: "ml-team", Project: "{http.request.header.X-Project}", MinRole: "owner", Realm: "api"}},
		{name: "min_role without project", h: Handler{MinRole: "viewer"}, wantErr: "min_role needs project"},
		{name: "unknown role", h: Handler{Project: "p", MinRole: "admin"}, wantErr: "min_role"},
		{name: "bad workspace", h: Handler{Workspace: "ML Team"}, wantErr: "workspace"},
		{name: "no workspace", h: Handler{Workspaces: []string{}}, wantErr: "say which workspaces this site serves: workspace NAME… or workspace *"},
		{name: "several workspaces", h: Handler{Workspaces: []string{"a", "b"}, Workspace: "c"}},
		{name: "one bad among several", h: Handler{Workspaces: []string{"a", "B c"}}, wantErr: "workspace"},
		{name: "workspace twice", h: Handler{Workspaces: []string{"a", "b", "a"}}, wantErr: "workspace: a given more than once"},
		{name: "any workspace", h: Handler{Workspaces: []string{"*"}}},
		{name: "any and a name", h: Handler{Workspaces: []string{"a", "*"}}, wantErr: `"*" (any workspace) stands alone`},
		{name: "negative cache_size", h: Handler{CacheSize: -1}, wantErr: "cache_size"},
		{name: "negative duration", h: Handler{LookupTimeout: -1}, wantErr: "lookup_timeout"},
		{name: "stale answers off", h: Handler{StaleIfError: -1}},
		{name: "realm with quote", h: Handler{Realm: `a"b`}, wantErr: "realm"},
		{name: "realm with newline", h: Handler{Realm: "a\nb"}, wantErr: "realm"},
		{name: "bad header name", h: Handler{Headers: &HeaderNames{KeyID: "X Key"}}, wantErr: "header name"},
		{name: "omit every header", h: Handler{OmitHeaders: []string{"service_account_id", "service_account", "workspace", "key_id", "project", "role"}}},
		{name: "omit an unknown header", h: Handler{OmitHeaders: []string{"account"}}, wantErr: `omit_headers: unknown header "account"`},
		{name: "omit a header twice", h: Handler{OmitHeaders: []string{"workspace", "workspace"}}, wantErr: "workspace given more than once"},
		{name: "path options", h: Handler{NormalizePath: boolPtr(false), MergeSlashes: boolPtr(false), EscapedSlashes: "keep"}},
		{name: "bad escaped_slashes", h: Handler{EscapedSlashes: "allow"}, wantErr: `escaped_slashes: "allow" is not`},
		{name: "bad redis scheme", h: Handler{Redis: "http://127.0.0.1:6379"}, wantErr: "unsupported URL scheme"},
		{name: "redis not a URL", h: Handler{Redis: "127.0.0.1:6379"}, wantErr: "not a URL"},
		{name: "sentinel without master", h: Handler{Redis: "redis+sentinel://127.0.0.1:26379"}, wantErr: "master_name"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.h.SigningKeys == nil && tt.name != "empty" {
				tt.h.SigningKeys = []string{pub}
			}
			if tt.h.Workspaces == nil && tt.h.Workspace == "" {
				tt.h.Workspaces = []string{AnyWorkspace}
			}
			err := tt.h.Validate()
			if tt.wantErr == "" {
				if err != nil {
					t.Fatalf("unexpected error: %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("error = %v, want one containing %q", err, tt.wantErr)
			}
		})
	}
}

func TestReplies(t *testing.T) {
	rs := newReplies("api")
	tests := []struct {
		reason     reason
		status     int
		www        string
		errCode    string
		retryAfter string
		wait       time.Duration
	}{
		{reasonNoKey, 401, `Bearer realm="api"`, "unauthorized", "", 0},
		{reasonAmbiguous, 400, `Bearer realm="api", error="invalid_request", error_description="several Authorization headers"`, "invalid_request", "", 0},
		{reasonMalformed, 401, `Bearer realm="api", error="invalid_token", error_description="the key is malformed"`, "invalid_token", "", 0},
		{reasonExpired, 401, `Bearer realm="api", error="invalid_token", error_description="the key has expired"`, "invalid_token", "", 0},
		{reasonLowRole, 403, `Bearer realm="api", error="insufficient_scope", error_description="the service account's role in this project is too low"`, "insufficient_scope", "", 0},
		{reasonUnavailable, 503, "", "temporarily_unavailable", "1", 0},
		{reasonRateLimited, 429, "", "rate_limited", "3", 2*time.Second + time.Millisecond},
		{reasonRateLimited, 429, "", "rate_limited", "1", time.Millisecond},
		{reasonRateLimited, 429, "", "rate_limited", "2", 2 * time.Second},
	}
	for _, tt := range tests {
		t.Run(reasonSpecs[tt.reason].description, func(t *testing.T) {
			rec := httptest.NewRecorder()
			rs[tt.reason].write(rec, tt.wait)
			res := rec.Result()
			if res.StatusCode != tt.status {
				t.Fatalf("status %d, want %d", res.StatusCode, tt.status)
			}
			if got := res.Header.Get("WWW-Authenticate"); got != tt.www {
				t.Fatalf("WWW-Authenticate %q, want %q", got, tt.www)
			}
			if got := res.Header.Get("Retry-After"); got != tt.retryAfter {
				t.Fatalf("Retry-After %q, want %q", got, tt.retryAfter)
			}
			if got := res.Header.Get("Cache-Control"); got != "no-store" {
				t.Fatalf("Cache-Control %q", got)
			}
			var body struct {
				Error       string `json:"error"`
				Description string `json:"error_description"`
			}
			if err := json.NewDecoder(res.Body).Decode(&body); err != nil {
				t.Fatalf("body is not JSON: %v", err)
			}
			if body.Error != tt.errCode || body.Description != reasonSpecs[tt.reason].description {
				t.Fatalf("body %+v", body)
			}
		})
	}
	for i, spec := range reasonSpecs {
		if spec.status == 0 {
			t.Fatalf("reason %d has no spec", i)
		}
	}
}

func TestApplyDefaults(t *testing.T) {
	h := Handler{Headers: &HeaderNames{KeyID: "x-caller-key"}, SigningKeys: []string{keytest.SigningKey(t).Public().String()}, Workspaces: []string{AnyWorkspace}}
	if err := h.applyDefaults(); err != nil {
		t.Fatal(err)
	}
	if h.Redis != DefaultRedis || h.CacheSize != DefaultCacheSize || h.Realm != DefaultRealm ||
		h.CacheTTL != caddy.Duration(DefaultCacheTTL) || h.StaleIfError != caddy.Duration(DefaultStaleIfError) ||
		h.NegativeTTL != caddy.Duration(DefaultNegativeTTL) || h.LookupTimeout != caddy.Duration(DefaultLookupTimeout) ||
		h.minRole != DefaultMinRole || h.MinRole != "" {
		t.Fatalf("defaults not applied: %+v", h)
	}
	if h.names.KeyID != "X-Caller-Key" || h.names.ServiceAccount != "X-Service-Account" {
		t.Fatalf("names = %+v", h.names)
	}
	// The default names are stripped even when renamed.
	for _, n := range []string{"X-Api-Key-Id", "X-Caller-Key"} {
		if !h.strip.IsIdentity(n) {
			t.Fatalf("%s is not stripped", n)
		}
	}
	if err := h.Validate(); err != nil {
		t.Fatalf("Validate after defaults: %v", err)
	}
}

// TestHeaderFieldsOrder ties together the three orders omit_headers relies on: the
// JSON names of HeaderNames' fields, HeaderNames.list, and the positions in identity.vals.
func TestHeaderFieldsOrder(t *testing.T) {
	typ := reflect.TypeOf(HeaderNames{})
	if typ.NumField() != len(headerFields) || len(identity{}.vals) != len(headerFields) {
		t.Fatalf("%d fields, %d headerFields, %d identity values", typ.NumField(), len(headerFields), len(identity{}.vals))
	}
	n := HeaderNames{"a", "b", "c", "d", "e", "f"}
	for i, name := range n.list() {
		tag, _, _ := strings.Cut(typ.Field(i).Tag.Get("json"), ",")
		if tag != headerFields[i] || name != string(rune('a'+i)) {
			t.Errorf("position %d: JSON name %q, list %q; want %q and %q", i, tag, name, headerFields[i], string(rune('a'+i)))
		}
	}
	for name, at := range map[string]int{"service_account_id": idSAID, "service_account": idSA, "workspace": idWorkspace,
		"key_id": idKeyID, "project": idProject, "role": idRole} {
		if headerFields[at] != name {
			t.Errorf("identity position %d is %s, headerFields says %s", at, name, headerFields[at])
		}
	}
}

// otherPublicKey is the public key of a signing key other than keytest.SigningKey.
func otherPublicKey(t testing.TB) string {
	t.Helper()
	k, err := wire.SigningKeyFromSeed([]byte(strings.Repeat("o", 32)))
	if err != nil {
		t.Fatal(err)
	}
	return k.Public().String()
}

// privateKeyText is keytest.SigningKey as its file holds it.
func privateKeyText(t testing.TB) string {
	t.Helper()
	b, err := keytest.SigningKey(t).MarshalText()
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestCacheSettingsSeparateTrust: sites that trust different signing keys never share
// a cache; the same keys in another order or repeated do.
func TestCacheSettingsSeparateTrust(t *testing.T) {
	a, b := keytest.SigningKey(t).Public().String(), otherPublicKey(t)
	key := func(keys ...string) string {
		h := Handler{SigningKeys: keys}
		if err := h.applyDefaults(); err != nil {
			t.Fatal(err)
		}
		return h.cacheSettings().key()
	}
	if key(a) == key(b) || key(a) == key(a, b) {
		t.Error("different trusted keys share a pool key")
	}
	if key(a, b) != key(b, a) || key(a, a) != key(a) || key(a) != key(" "+a+"\n") {
		t.Error("the same trusted keys give different pool keys")
	}
}
