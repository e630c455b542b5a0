package httpauth

import (
	"net/http"
	"reflect"
	"strings"
	"testing"
)

// defaultNames are sagate's default identity headers (caddymodule.DefaultHeaderNames).
var defaultNames = []string{"X-Service-Account-Id", "X-Service-Account", "X-Workspace", "X-Api-Key-Id", "X-Project", "X-Project-Role"}

func defaultSanitizer() Sanitizer { return NewSanitizer(defaultNames) }

func TestSanitize(t *testing.T) {
	tests := []struct {
		name string
		in   http.Header
		want http.Header
	}{
		{"nothing to do",
			http.Header{"Accept": {"*/*"}, "Connection": {"keep-alive"}},
			http.Header{"Accept": {"*/*"}, "Connection": {"keep-alive"}}},
		{"every default name",
			http.Header{"X-Service-Account-Id": {"a"}, "X-Service-Account": {"b"}, "X-Workspace": {"c"},
				"X-Api-Key-Id": {"d"}, "X-Project": {"e"}, "X-Project-Role": {"owner"}, "Accept": {"x"}},
			http.Header{"Accept": {"x"}}},
		{"underscore spellings",
			http.Header{"X_service_account": {"b"}, "X_Service_Account_Id": {"a"}, "x_api_key_id": {"d"}, "X-Project_Role": {"owner"}},
			http.Header{}},
		{"any letter case",
			http.Header{"x-service-account": {"b"}, "X-WORKSPACE": {"c"}, "x-PrOjEcT": {"e"}},
			http.Header{}},
		{"several values",
			http.Header{"X-Service-Account": {"a", "b"}},
			http.Header{}},
		{"similar names survive",
			http.Header{"X-Service-Accounts": {"a"}, "X-Project-Roles": {"b"}, "Service-Account": {"c"}, "X-Workspace-Id": {"d"}},
			http.Header{"X-Service-Accounts": {"a"}, "X-Project-Roles": {"b"}, "Service-Account": {"c"}, "X-Workspace-Id": {"d"}}},
		{"connection names an identity header",
			http.Header{"Connection": {"X-Service-Account"}},
			http.Header{}},
		{"connection keeps other tokens",
			http.Header{"Connection": {"keep-alive, x_service_account ,X-Project-Role", "Upgrade"}},
			http.Header{"Connection": {"keep-alive", "Upgrade"}}},
		{"connection in odd case",
			http.Header{"connection": {"close, X-Workspace"}},
			http.Header{"connection": {"close"}}},
		{"connection with empty tokens",
			http.Header{"Connection": {" , ,X-Api-Key-Id,\t"}},
			http.Header{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			defaultSanitizer().Sanitize(tt.in)
			if !reflect.DeepEqual(tt.in, tt.want) {
				t.Fatalf("got %v, want %v", tt.in, tt.want)
			}
		})
	}
}

func TestSanitizeConfiguredNames(t *testing.T) {
	s := NewSanitizer(append(defaultNames[:len(defaultNames):len(defaultNames)], "X-Caller", "X-Caller-Role"))
	h := http.Header{"X_caller": {"a"}, "X-Caller-Role": {"b"}, "X-Service-Account": {"c"}, "Connection": {"x-caller"}}
	s.Sanitize(h)
	if len(h) != 0 {
		t.Fatalf("left %v", h)
	}
}

func TestSanitizeDoesNotAllocate(t *testing.T) {
	s := defaultSanitizer()
	h := http.Header{"Accept": {"*/*"}, "Connection": {"keep-alive"}, "User-Agent": {"x"}, "Authorization": {"Bearer x"}}
	if n := testing.AllocsPerRun(100, func() { s.Sanitize(h) }); n != 0 {
		t.Fatalf("sanitize allocates %.0f times per call on a clean request, want 0", n)
	}
}

// FuzzSanitize: after sanitizing, no identity header remains in any spelling, no
// Connection header names one, and every other header is untouched.
func FuzzSanitize(f *testing.F) {
	for _, seed := range [][2]string{
		{"X-Service-Account", "root@admin"},
		{"X_Service_Account", "root@admin"},
		{"x_api_key_id", "key_1"},
		{"X-PROJECT-ROLE", "owner"},
		{"Connection", "X-Service-Account"},
		{"Connection", "keep-alive, x_workspace,\tX-Project"},
		{"connection", "X-Api-Key-Id"},
		{"X-Service-Account\x00", "a"},
		{"X-Service-Account", "a\r\nX-Workspace: b"},
		{"X-Workspace", "\xff\xfe"},
		{"X-Project", strings.Repeat("p", 16<<10)},
		{"Connection", strings.Repeat("X-Project,", 1000)},
		{"X-Service-Accountx", "keep"},
	} {
		f.Add(seed[0], seed[1], "Accept", "*/*")
	}
	s := defaultSanitizer()
	f.Fuzz(func(t *testing.T, k1, v1, k2, v2 string) {
		h := http.Header{}
		h[k1] = append(h[k1], v1)
		h[k2] = append(h[k2], v2)
		h["Connection"] = append(h["Connection"], v1, v2)
		before := h.Clone()
		s.Sanitize(h)
		for k, vs := range h {
			if s.IsIdentity(k) {
				t.Fatalf("identity header %q survived", k)
			}
			if asciiEqualFold(k, "Connection") {
				for _, v := range vs {
					for tok := range strings.SplitSeq(v, ",") {
						if s.IsIdentity(strings.Trim(tok, " \t")) {
							t.Fatalf("Connection still names %q", tok)
						}
					}
				}
				continue
			}
			if !reflect.DeepEqual(vs, before[k]) {
				t.Fatalf("header %q changed from %q to %q", k, before[k], vs)
			}
		}
		for k := range before {
			if _, ok := h[k]; !ok && !s.IsIdentity(k) && !asciiEqualFold(k, "Connection") {
				t.Fatalf("header %q was removed but is no identity header", k)
			}
		}
	})
}
