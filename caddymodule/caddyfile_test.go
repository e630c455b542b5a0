package caddymodule

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
	_ "github.com/caddyserver/caddy/v2/modules/standard"

	"github.com/sagate/sagate/internal/testing/keytest"
)

var update = flag.Bool("update", false, "rewrite the expected JSON of testdata/*.caddyfiletest")

func TestUnmarshalCaddyfile(t *testing.T) {
	testPub, otherPub := keytest.SigningKey(t).Public().String(), otherPublicKey(t)
	tests := []struct {
		name    string
		input   string
		want    Handler
		wantErr string
	}{
		{name: "bare", input: `sagate`, want: Handler{}},
		{name: "url argument", input: `sagate redis://r:6379/2`, want: Handler{Redis: "redis://r:6379/2"}},
		{name: "all options", input: `sagate {
			redis redis://127.0.0.1:6379/0
			workspace ml-team
			project {http.request.header.X-Project}
			min_role owner
			cache_ttl 1m
			cache_size 7
			stale_if_error 1d
			negative_ttl 3s
			lookup_timeout 50ms
			realm api
			forward_authorization true
			headers {
				key_id X-Key
				role X-Role
			}
		}`, want: Handler{
			Redis: "redis://127.0.0.1:6379/0", Workspaces: []string{"ml-team"}, Project: "{http.request.header.X-Project}",
			MinRole: "owner", CacheTTL: caddy.Duration(time.Minute), CacheSize: 7,
			StaleIfError: caddy.Duration(24 * time.Hour), NegativeTTL: caddy.Duration(3 * time.Second),
			LookupTimeout: caddy.Duration(50 * time.Millisecond), Realm: "api", ForwardAuthorization: true,
			Headers: &HeaderNames{KeyID: "X-Key", Role: "X-Role"},
		}},
		{name: "forward_authorization without argument", input: "sagate {\nforward_authorization\n}", want: Handler{ForwardAuthorization: true}},
		{name: "stale_if_error off", input: "sagate {\nstale_if_error off\n}", want: Handler{StaleIfError: -1}},
		{name: "stale_if_error off twice", input: "sagate {\nstale_if_error off off\n}", wantErr: "wrong argument count"},
		{name: "forward_authorization false", input: "sagate {\nforward_authorization false\n}", want: Handler{}},
		{name: "handle_errors", input: "sagate {\nhandle_errors\n}", want: Handler{HandleErrors: true}},
		{name: "handle_errors false", input: "sagate {\nhandle_errors false\n}", want: Handler{}},
		{name: "handle_errors bad", input: "sagate {\nhandle_errors maybe\n}", wantErr: "is not true or false"},
		{name: "unknown option", input: "sagate {\nredis_url x\n}", wantErr: `unknown option "redis_url"`},
		{name: "duplicate option", input: "sagate {\nworkspace a\nworkspace b\n}", wantErr: "workspace given more than once"},
		{name: "redis twice", input: "sagate redis://a:1 {\nredis redis://b:1\n}", wantErr: "redis given both"},
		{name: "two url arguments", input: "sagate redis://a:1 redis://b:1", wantErr: "wrong argument count"},
		{name: "missing argument", input: "sagate {\nworkspace\n}", wantErr: "wrong argument count"},
		{name: "extra argument", input: "sagate {\nrealm a b\n}", wantErr: "wrong argument count"},
		{name: "bad duration", input: "sagate {\ncache_ttl soon\n}", wantErr: `cache_ttl "soon" is not a duration`},
		{name: "negative duration", input: "sagate {\nlookup_timeout -1s\n}", wantErr: "lookup_timeout must not be negative"},
		{name: "bad cache_size", input: "sagate {\ncache_size many\n}", wantErr: `cache_size "many" is not a positive number`},
		{name: "zero cache_size", input: "sagate {\ncache_size 0\n}", wantErr: "not a positive number"},
		{name: "bad bool", input: "sagate {\nforward_authorization yes-please\n}", wantErr: "is not true or false"},
		{name: "unknown header", input: "sagate {\nheaders {\nuser X-User\n}\n}", wantErr: `unknown header "user"`},
		{name: "duplicate header", input: "sagate {\nheaders {\nrole X-A\nrole X-B\n}\n}", wantErr: "header role given more than once"},
		{name: "invalid header name", input: "sagate {\nheaders {\nrole \"X Role\"\n}\n}", wantErr: "is not a valid header name"},
		{name: "headers with argument", input: "sagate {\nheaders x {\n}\n}", wantErr: "wrong argument count"},
		{name: "path options", input: "sagate {\nnormalize_path false\nmerge_slashes true\nescaped_slashes unescape\n}", want: Handler{NormalizePath: boolPtr(false), MergeSlashes: boolPtr(true), EscapedSlashes: "unescape"}},
		{name: "normalize_path without argument", input: "sagate {\nnormalize_path\n}", want: Handler{NormalizePath: boolPtr(true)}},
		{name: "bad merge_slashes", input: "sagate {\nmerge_slashes maybe\n}", wantErr: `merge_slashes "maybe" is not true or false`},
		{name: "bad escaped_slashes", input: "sagate {\nescaped_slashes decode\n}", wantErr: `escaped_slashes: "decode" is not reject, keep or unescape`},
		{name: "escaped_slashes without argument", input: "sagate {\nescaped_slashes\n}", wantErr: "wrong argument count"},
		{name: "omit_headers", input: "sagate {\nomit_headers workspace key_id\n}", want: Handler{OmitHeaders: []string{"workspace", "key_id"}}},
		{name: "omit_headers without argument", input: "sagate {\nomit_headers\n}", wantErr: "wrong argument count"},
		{name: "omit_headers unknown", input: "sagate {\nomit_headers X-Workspace\n}", wantErr: `omit_headers: unknown header "X-Workspace" (want service_account_id,`},
		{name: "signing_keys", input: "sagate {\nsigning_keys " + testPub + "\n}", want: Handler{SigningKeys: []string{testPub}}},
		{name: "signing_keys repeated", input: "sagate {\nsigning_keys " + testPub + " " + otherPub + "\nworkspace w\nsigning_keys " + testPub + "\n}",
			want: Handler{SigningKeys: []string{testPub, otherPub, testPub}, Workspaces: []string{"w"}}},
		{name: "several workspaces", input: "sagate {\nworkspace a b\n}", want: Handler{Workspaces: []string{"a", "b"}}},
		{name: "any workspace", input: "sagate {\nworkspace *\n}", want: Handler{Workspaces: []string{"*"}}},
		{name: "signing_keys without argument", input: "sagate {\nsigning_keys\n}", wantErr: "signing_keys is required: the public key of the sagate admin's signing key"},
		{name: "signing_keys empty placeholder", input: "sagate {\nsigning_keys \"\"\n}", wantErr: "sagate signing-key public FILE"},
		{name: "signing_keys malformed", input: "sagate {\nsigning_keys sagate-ed25519:AAAA\n}", wantErr: "signing_keys: malformed sagate public key"},
		{name: "signing_keys not a key", input: "sagate {\nsigning_keys 0123456789abcdef\n}", wantErr: "signing_keys: not a sagate public key"},
		{name: "omit_headers duplicate", input: "sagate {\nomit_headers role key_id role\n}", wantErr: "omit_headers: role given more than once"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got Handler
			err := got.UnmarshalCaddyfile(caddyfile.NewTestDispenser(tt.input))
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("error = %v, want one containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("unexpected error: %v", err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("got %+v\nwant %+v", got, tt.want)
			}
		})
	}
}

func boolPtr(b bool) *bool { return &b }

// TestCaddyfileAdapt compares the JSON each testdata/*.caddyfiletest adapts to
// with the JSON after its "----------" line. Run with -update to rewrite it.
func TestCaddyfileAdapt(t *testing.T) {
	files, err := filepath.Glob("testdata/*.caddyfiletest")
	if err != nil || len(files) == 0 {
		t.Fatalf("no testdata/*.caddyfiletest found (err %v)", err)
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			data, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			input, want, _ := strings.Cut(string(data), "----------\n")
			got := adaptCaddyfile(t, input)
			if *update {
				if err := os.WriteFile(f, []byte(input+"----------\n"+got), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			if got != want {
				t.Errorf("adapted JSON differs from %s:\n--- got\n%s--- want\n%s", f, got, want)
			}
		})
	}
}

// TestCaddyfileExampleAdapts checks that the shipped Caddyfile.example adapts
// without warnings, orders sagate before reverse_proxy, and passes Validate.
func TestCaddyfileExampleAdapts(t *testing.T) {
	// The example reads the admin's public key from the environment, as make demo
	// sets it.
	t.Setenv("SAGATE_SIGNING_KEY", keytest.SigningKey(t).Public().String())
	data, err := os.ReadFile("../Caddyfile.example")
	if err != nil {
		t.Fatal(err)
	}
	got := adaptCaddyfile(t, string(data))
	iSagate := strings.Index(got, `"handler": "sagate"`)
	iProxy := strings.Index(got, `"handler": "reverse_proxy"`)
	if iSagate < 0 || iProxy < 0 || iSagate > iProxy {
		t.Fatalf("want sagate before reverse_proxy in the adapted config:\n%s", got)
	}
	var h Handler
	start := strings.LastIndex(got[:iSagate], "{")
	dec := json.NewDecoder(strings.NewReader(got[start:]))
	if err := dec.Decode(&h); err != nil {
		t.Fatalf("decoding the sagate handler: %v", err)
	}
	if err := h.Validate(); err != nil {
		t.Fatalf("Caddyfile.example does not validate: %v", err)
	}
	if !slices.Equal(h.Workspaces, []string{"ml-team"}) || h.Project == "" || len(h.SigningKeys) != 1 {
		t.Fatalf("decoded handler = %+v", h)
	}
	// Without the key, the example says what is missing.
	t.Setenv("SAGATE_SIGNING_KEY", "")
	if _, _, err := caddyconfig.GetAdapter("caddyfile").Adapt(data, nil); err == nil || !strings.Contains(err.Error(), "signing_keys is required") {
		t.Fatalf("adapting the example without SAGATE_SIGNING_KEY: %v, want signing_keys is required", err)
	}
}

// adaptCaddyfile adapts input to indented JSON and fails on errors and warnings.
func adaptCaddyfile(t *testing.T, input string) string {
	t.Helper()
	out, warnings, err := caddyconfig.GetAdapter("caddyfile").Adapt([]byte(input), nil)
	if err != nil {
		t.Fatalf("adapting: %v", err)
	}
	for _, w := range warnings {
		t.Errorf("warning: line %d: %s: %s", w.Line, w.Directive, w.Message)
	}
	var buf bytes.Buffer
	if err := json.Indent(&buf, out, "", "\t"); err != nil {
		t.Fatalf("indenting: %v", err)
	}
	return buf.String() + "\n"
}

// TestSiteLevelSagateGuardsHandleBlocks checks the directive order the module registers:
// a site-level sagate runs before handle, route and respond blocks, like basic_auth, so an
// API proxied inside a handle block is guarded too.
func TestSiteLevelSagateGuardsHandleBlocks(t *testing.T) {
	got := adaptCaddyfile(t, `:8080 {
	handle /api/* {
		reverse_proxy 127.0.0.1:9000
	}
	route /r/* {
		respond "r" 200
	}
	respond /x "x" 200
	sagate redis://127.0.0.1:6379/0
}
`)
	iSagate := strings.Index(got, `"handler": "sagate"`)
	for _, h := range []string{`"handler": "subroute"`, `"handler": "static_response"`, `"handler": "reverse_proxy"`} {
		if i := strings.Index(got, h); i < 0 || iSagate < 0 || iSagate > i {
			t.Fatalf("want sagate before every %s in the adapted config:\n%s", h, got)
		}
	}
}
