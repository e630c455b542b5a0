package httpauth

import (
	"net/http"
	"strings"
	"testing"

	"github.com/sagate/sagate/internal/testing/keytest"
	"github.com/sagate/sagate/keystore/wire"
)

func TestBearerKey(t *testing.T) {
	key := keytest.New(t)
	tests := []struct {
		name    string
		values  []string // Authorization header values; nil: no header
		want    Credential
		wantKey string
	}{
		{"no header", nil, CredNone, ""},
		{"empty value", []string{""}, CredNone, ""},
		{"basic scheme", []string{"Basic dXNlcjpwYXNz"}, CredNone, ""},
		{"token scheme", []string{"Token " + key}, CredNone, ""},
		{"scheme glued to key", []string{"Bearer" + key}, CredNone, ""},
		{"scheme prefix only", []string{"Bear"}, CredNone, ""},
		{"bearer", []string{"Bearer " + key}, CredKey, key},
		{"lower case scheme", []string{"bearer " + key}, CredKey, key},
		{"upper case scheme", []string{"BEARER " + key}, CredKey, key},
		{"mixed case scheme", []string{"bEaReR " + key}, CredKey, key},
		{"several spaces", []string{"Bearer    " + key}, CredKey, key},
		{"tab", []string{"Bearer\t" + key}, CredKey, key},
		{"tabs and spaces", []string{"Bearer \t \t" + key}, CredKey, key},
		{"scheme only", []string{"Bearer"}, CredMalformed, ""},
		{"scheme and space", []string{"Bearer "}, CredMalformed, ""},
		{"trailing junk", []string{"Bearer " + key + "x"}, CredMalformed, ""},
		{"trailing space", []string{"Bearer " + key + " "}, CredMalformed, ""},
		{"two keys", []string{"Bearer " + key + ", Bearer " + key}, CredMalformed, ""},
		{"wrong checksum", []string{"Bearer " + keytest.BadChecksum(key)}, CredMalformed, ""},
		{"short key", []string{"Bearer " + key[:20]}, CredMalformed, ""},
		{"wrong prefix", []string{"Bearer sk_" + key[3:]}, CredMalformed, ""},
		{"NUL in key", []string{"Bearer " + key[:30] + "\x00" + key[31:]}, CredMalformed, ""},
		{"CRLF after key", []string{"Bearer " + key + "\r\nX-Service-Account: root@x"}, CredMalformed, ""},
		{"non-UTF-8", []string{"Bearer \xff\xfe" + key[2:]}, CredMalformed, ""},
		{"16 KB value", []string{"Bearer " + strings.Repeat("a", 16<<10)}, CredMalformed, ""},
		{"key with quotes", []string{`Bearer "` + key + `"`}, CredMalformed, ""},
		{"two headers", []string{"Bearer " + key, "Bearer " + key}, CredAmbiguous, ""},
		{"two headers one empty", []string{"Bearer " + key, ""}, CredAmbiguous, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := http.Header{}
			if tt.values != nil {
				h["Authorization"] = tt.values
			}
			got, cred := BearerKey(h)
			if cred != tt.want || got != tt.wantKey {
				t.Fatalf("BearerKey = (%q, %d), want (%q, %d)", wire.Last6(got), cred, wire.Last6(tt.wantKey), tt.want)
			}
		})
	}
}

func TestBearerKeyDoesNotAllocate(t *testing.T) {
	h := http.Header{"Authorization": {"Bearer " + keytest.New(t)}}
	if n := testing.AllocsPerRun(100, func() { BearerKey(h) }); n != 0 {
		t.Fatalf("BearerKey allocates %.0f times per call, want 0", n)
	}
}

// FuzzParseAuthorization: whatever the header, a key is returned only if
// wire.CheckKey accepts it and the header is one Bearer Credential made of it.
func FuzzParseAuthorization(f *testing.F) {
	key := keytest.New(f)
	for _, seed := range []string{
		"", "Bearer", "Bearer ", "bearer " + key, "BEARER\t\t" + key, "Bearer " + key + " junk",
		"Bearer " + keytest.BadChecksum(key), "Basic " + key, "Bearer " + key + "\x00", "Bearer \r\n" + key,
		"Bearer \xff" + key, "Bearer " + strings.Repeat("A", 16<<10), "Bearer  " + key,
		"Bearer " + key + "," + key, "Bearer" + key,
	} {
		f.Add(seed, false)
		f.Add(seed, true)
	}
	f.Fuzz(func(t *testing.T, v string, twice bool) {
		h := http.Header{"Authorization": {v}}
		if twice {
			h["Authorization"] = append(h["Authorization"], v)
		}
		got, cred := BearerKey(h)
		if twice && cred != CredAmbiguous {
			t.Fatalf("two Authorization headers gave %d, want CredAmbiguous", cred)
		}
		if cred != CredKey {
			if got != "" {
				t.Fatalf("Credential %d came with a key", cred)
			}
			return
		}
		if err := wire.CheckKey(got); err != nil {
			t.Fatalf("accepted a key that CheckKey refuses: %v", err)
		}
		if !strings.HasSuffix(v, got) || !asciiEqualFold(v[:6], "bearer") {
			t.Fatalf("accepted key is not the tail of a Bearer Credential")
		}
		if sep := strings.Trim(v[6:len(v)-len(got)], " \t"); sep != "" || len(v)-len(got) == 6 {
			t.Fatalf("accepted key is not separated from the scheme by spaces or tabs only")
		}
	})
}
