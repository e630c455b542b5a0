package httpauth

import (
	"errors"
	"net/url"
	"strings"
	"testing"
)

// safe is the handler's default: resolve dots, merge slashes, refuse encoded slashes.
var safe = PathOptions{ResolveDots: true, MergeSlashes: true, Slashes: SlashReject}

func TestCleanPath(t *testing.T) {
	strict := PathOptions{}
	unescape := PathOptions{ResolveDots: true, MergeSlashes: true, Slashes: SlashUnescape}
	keep := PathOptions{ResolveDots: true, MergeSlashes: true, Slashes: SlashKeep}
	tests := []struct {
		in      string
		o       PathOptions
		want    string
		wantErr error
	}{
		// Already clean, under any options.
		{"", strict, "", nil},
		{"*", strict, "*", nil},
		{"/", strict, "/", nil},
		{"/api/p1/x", strict, "/api/p1/x", nil},
		{"/api/p1/", strict, "/api/p1/", nil},
		{"/a/b%20c/%C3%A9/%3F/%25/:@!$&'()*+,;=", strict, "/a/b%20c/%C3%A9/%3F/%25/:@!$&'()*+,;=", nil},
		{"/a/.x/..x/x./...", strict, "/a/.x/..x/x./...", nil},
		{"/a;b/c;..", strict, "/a;b/c;..", nil},

		// Dot segments, raw and encoded in any case.
		{"/api/p1/../p2/x", safe, "/api/p2/x", nil},
		{"/api/p1/%2e%2e/p2/x", safe, "/api/p2/x", nil},
		{"/api/p1/.%2e/p2/x", safe, "/api/p2/x", nil},
		{"/api/p1/%2E./p2/x", safe, "/api/p2/x", nil},
		{"/api/p1/./x", safe, "/api/p1/x", nil},
		{"/api/p1/%2E/x", safe, "/api/p1/x", nil},
		{"/a/b/..", safe, "/a/", nil},
		{"/a/b/.", safe, "/a/b/", nil},
		{"/a/..", safe, "/", nil},
		{"/.", safe, "/", nil},
		{"/a/b/../../c", safe, "/c", nil},
		{"/..", safe, "", ErrAboveRoot},
		{"/a/../..", safe, "", ErrAboveRoot},
		{"/./../a", safe, "", ErrAboveRoot},
		{"/%2e%2e/a", safe, "", ErrAboveRoot},
		{"/api/p1/../p2/x", strict, "", ErrDotSegment},
		{"/api/p1/%2e/x", strict, "", ErrDotSegment},
		{"/api/p1/..;/p2/x", safe, "", ErrDotWithParams},
		{"/api/p1/.;x/y", safe, "", ErrDotWithParams},
		{"/api/p1/%2e%2e%3B/p2", safe, "", ErrDotWithParams},
		{"/api/p1/..%3bx/p2", safe, "", ErrDotWithParams},

		// Repeated slashes.
		{"//api/p1/x", safe, "/api/p1/x", nil},
		{"/api//p2/x", safe, "/api/p2/x", nil},
		{"/api/p1//", safe, "/api/p1/", nil},
		{"/api/p1//../p2", safe, "/api/p2", nil},
		{"///", safe, "/", nil},
		{"/api//p2/x", strict, "", ErrEmptySegment},
		{"/api/p1//", strict, "", ErrEmptySegment},

		// Encoded slashes and backslashes.
		{"/api/p1%2F..%2Fp2/x", safe, "", ErrEscapedSlash},
		{"/api/p1%2fx", safe, "", ErrEscapedSlash},
		{"/api/p1%5C..%5Cp2/x", safe, "", ErrEscapedSlash},
		{`/api/p1/..\p2/x`, safe, "", ErrEscapedSlash},
		{"/api/p1%2F..%2Fp2/x", unescape, "/api/p2/x", nil},
		{"/api/p1%5c..%5Cp2/x", unescape, "/api/p2/x", nil},
		{`/api/p1\..\p2/x`, unescape, "/api/p2/x", nil},
		{"/api%2F%2Fp1", unescape, "/api/p1", nil},
		{"/api/p1%2Fx", keep, "/api/p1%2Fx", nil},
		{`/api/p1\x`, keep, "/api/p1%5Cx", nil},
		{"/api/p1%2f..%2Fp2/x", keep, "", ErrEscapedSlash},
		{"/api/p1%2F%2Fx", keep, "", ErrEscapedSlash},
		{"/api/%2Fx", keep, "", ErrEscapedSlash},
		{"/api/x%5C", keep, "", ErrEscapedSlash},
		{"/api/x%5C.", keep, "", ErrEscapedSlash},

		// Encodings.
		{"/api/%70%31/x", strict, "/api/p1/x", nil},
		{"/a/%7e%2D%5f", strict, "/a/~-_", nil},
		{"/a/%zz", safe, "", ErrBadEscape},
		{"/a/%2", safe, "", ErrBadEscape},
		{"/a/%", safe, "", ErrBadEscape},
		{"/a/%%32e", safe, "", ErrBadEscape},
		{"/a/%252e%252e/p2", safe, "/a/%252e%252e/p2", nil},
		{"/a/é b\"{}|^`[]", safe, "/a/%C3%A9%20b%22%7B%7D%7C%5E%60%5B%5D", nil},

		// Control characters.
		{"/a/%00/b", safe, "", ErrControl},
		{"/a/%0a", safe, "", ErrControl},
		{"/a/%7F", safe, "", ErrControl},
		{"/a/\x00", safe, "", ErrControl},
		{"/a/\tb", safe, "", ErrControl},

		// Not a path.
		{"a/b", safe, "", ErrNotAbsolute},
		{"..", safe, "", ErrNotAbsolute},
	}
	for _, tt := range tests {
		got, err := CleanPath(tt.in, tt.o)
		if !errors.Is(err, tt.wantErr) || got != tt.want {
			t.Errorf("CleanPath(%q, %+v) = %q, %v; want %q, %v", tt.in, tt.o, got, err, tt.want, tt.wantErr)
		}
		if err == nil {
			// The output must be something url.URL keeps as RawPath unchanged.
			if _, perr := url.PathUnescape(got); perr != nil {
				t.Errorf("CleanPath(%q) = %q does not unescape: %v", tt.in, got, perr)
			}
		}
	}
}

func TestCleanPathCleanDoesNotAllocate(t *testing.T) {
	for _, p := range []string{"/", "/api/p1/things", "/v1/a%20b/%C3%A9/x;y=1", "/api/p1/"} {
		if n := testing.AllocsPerRun(100, func() {
			if got, err := CleanPath(p, safe); err != nil || got != p {
				t.Fatalf("CleanPath(%q) = %q, %v", p, got, err)
			}
		}); n != 0 {
			t.Errorf("CleanPath(%q) allocates %v times", p, n)
		}
	}
}

// FuzzCleanPath checks CleanPath's promises on any input under every options:
// what it returns has no dot segment, no empty segment (but a trailing slash), no
// encoded slash unless kept, decodes cleanly, and is returned unchanged when cleaned again.
func FuzzCleanPath(f *testing.F) {
	for _, s := range []string{
		"/", "/api/p1/x", "/api/p1/../p2/x", "/api/p1/%2e%2e/p2/x", "/api/p1/.%2e/p2/x", "/api/p1%2F..%2Fp2/x",
		"//a//b", `/a\..\b`, "/a%5c%2f", "/a/%00", "/a/%zz", "/a/..;/b", "/é", "/a/%252e", "*", "", "/..",
	} {
		f.Add(s, uint8(0))
	}
	f.Fuzz(func(t *testing.T, p string, flags uint8) {
		o := PathOptions{ResolveDots: flags&1 != 0, MergeSlashes: flags&2 != 0, Slashes: SlashPolicy(flags>>2) % 3}
		got, err := CleanPath(p, o)
		if err != nil {
			if got != "" {
				t.Fatalf("CleanPath(%q) = %q with error %v", p, got, err)
			}
			return
		}
		if p == "" || p == "*" {
			if got != p {
				t.Fatalf("CleanPath(%q) = %q", p, got)
			}
			return
		}
		if !strings.HasPrefix(got, "/") {
			t.Fatalf("CleanPath(%q) = %q: not absolute", p, got)
		}
		if strings.Contains(got, "//") || strings.Contains(got, `\`) {
			t.Fatalf("CleanPath(%q) = %q: empty segment or backslash", p, got)
		}
		upper := strings.ToUpper(got)
		if o.Slashes != SlashKeep && (strings.Contains(upper, "%2F") || strings.Contains(upper, "%5C")) {
			t.Fatalf("CleanPath(%q) = %q: encoded slash", p, got)
		}
		checkSegments(t, p, got, strings.Split(got[1:], "/"))
		// A reader that decodes everything, %2F included, must see no dot or empty
		// segment either.
		dec, derr := url.PathUnescape(got)
		if derr != nil {
			t.Fatalf("CleanPath(%q) = %q: %v", p, got, derr)
		}
		if u := (url.URL{Path: dec, RawPath: got}); u.EscapedPath() != got {
			t.Fatalf("CleanPath(%q) = %q: url.URL escapes it as %q", p, got, u.EscapedPath())
		}
		dec = strings.ReplaceAll(dec, `\`, "/")
		if strings.Contains(dec, "//") {
			t.Fatalf("CleanPath(%q) = %q decodes to %q: empty segment", p, got, dec)
		}
		checkSegments(t, p, got, strings.Split(dec[1:], "/"))
		again, err := CleanPath(got, o)
		if err != nil || again != got {
			t.Fatalf("CleanPath(%q) = %q, but again %q, %v", p, got, again, err)
		}
	})
}

func TestIsCleanDecoded(t *testing.T) {
	for _, p := range []string{"/", "/api/p1/things", "/a;b=1/c:d@e/f$g&h+i,j~k_l-m.n/", "/.x/..x/x./...", "/a/b/"} {
		if !IsCleanDecoded(p) {
			t.Errorf("IsCleanDecoded(%q) = false", p)
		}
	}
	for _, p := range []string{"", "*", "a", "//", "/a//b", "/.", "/..", "/a/.", "/a/../b", "/.;x/b", "/..;x", "/a b", "/é",
		"/a%2e", "/a?b", "/a!", "/a'", "/a(", "/a)", "/a*", `/a\b`, "/a\x00", "/a\x7f"} {
		if IsCleanDecoded(p) {
			t.Errorf("IsCleanDecoded(%q) = true", p)
		}
	}
}

// FuzzIsCleanDecoded: when IsCleanDecoded says a decoded path is clean, EscapedPath
// returns it as it is and CleanPath returns it unchanged under every options; for a
// path of plain bytes it says so exactly when they do.
func FuzzIsCleanDecoded(f *testing.F) {
	for _, s := range []string{"/", "/api/p1/x", "/a/../b", "//a", "/a/.", "/é", "/a!b", "/a;b/..;c", "*", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, p string) {
		esc := (&url.URL{Path: p}).EscapedPath()
		same := esc == p
		for o := range uint8(12) {
			opts := PathOptions{ResolveDots: o&1 != 0, MergeSlashes: o&2 != 0, Slashes: SlashPolicy(o>>2) % 3}
			got, err := CleanPath(esc, opts)
			same = same && err == nil && got == esc
		}
		plain := p != "" && p[0] == '/'
		for i := 1; i < len(p); i++ {
			plain = plain && (p[i] == '/' || plainPathByte[p[i]])
		}
		if clean := IsCleanDecoded(p); clean && !same || plain && clean != same {
			t.Fatalf("IsCleanDecoded(%q) = %v; EscapedPath %q, CleanPath unchanged under every options: %v", p, clean, esc, same)
		}
	})
}

// checkSegments fails when a segment is a dot segment or a dot with parameters.
func checkSegments(t *testing.T, in, got string, segs []string) {
	t.Helper()
	for _, s := range segs {
		if s == "." || s == ".." || strings.HasPrefix(s, ".;") || strings.HasPrefix(s, "..;") {
			t.Fatalf("CleanPath(%q) = %q: dot segment %q", in, got, s)
		}
	}
}

func BenchmarkCleanPath(b *testing.B) {
	for _, bb := range []struct{ name, p string }{
		{"clean", "/api/p1/v1/things/42"},
		{"dots", "/api/p1/../p2/./v1/things/42"},
		{"encoded", "/api/p1/%2e%2e/p2/v1/%74hings/42"},
	} {
		b.Run(bb.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := CleanPath(bb.p, safe); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
