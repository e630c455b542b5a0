package keystore

import (
	"strings"
	"testing"
)

func TestParsePage(t *testing.T) {
	tok := encodeToken([]string{"a", "b"})
	for _, tc := range []struct {
		name  string
		p     Page
		parts int
		size  int
		after []string
		kind  Kind
	}{
		{"default size", Page{}, 1, DefaultPageSize, []string{""}, ""},
		{"max size", Page{Size: MaxPageSize}, 1, MaxPageSize, []string{""}, ""},
		{"too big", Page{Size: MaxPageSize + 1}, 1, 0, nil, KindInvalid},
		{"negative", Page{Size: -5}, 1, 0, nil, KindInvalid},
		{"token", Page{Size: 3, Token: tok}, 2, 3, []string{"a", "b"}, ""},
		{"token of another list", Page{Token: tok}, 1, 0, nil, KindInvalid},
		{"not base64", Page{Token: "***"}, 1, 0, nil, KindInvalid},
		{"not json", Page{Token: "eHl6"}, 1, 0, nil, KindInvalid},
	} {
		t.Run(tc.name, func(t *testing.T) {
			size, after, err := parsePage(tc.p, tc.parts)
			if KindOf(err) != tc.kind {
				t.Fatalf("error %v, want kind %q", err, tc.kind)
			}
			if size != tc.size || strings.Join(after, "|") != strings.Join(tc.after, "|") {
				t.Errorf("= %d %q, want %d %q", size, after, tc.size, tc.after)
			}
		})
	}
}

func TestNextPage(t *testing.T) {
	items := []string{"a", "b", "c"}
	got, next := nextPage(items, 2, func(s string) []string { return []string{s} })
	if len(got) != 2 || next != encodeToken([]string{"b"}) {
		t.Errorf("nextPage(3 items, 2) = %v, %q", got, next)
	}
	got, next = nextPage(items, 3, func(s string) []string { return []string{s} })
	if len(got) != 3 || next != "" {
		t.Errorf("nextPage(3 items, 3) = %v, %q", got, next)
	}
}

func TestNewID(t *testing.T) {
	seen := map[string]bool{}
	for range 1000 {
		id, err := newID(KeyIDPrefix)
		if err != nil {
			t.Fatal(err)
		}
		if !isID(id, KeyIDPrefix) || seen[id] {
			t.Fatalf("bad or repeated id %q", id)
		}
		seen[id] = true
	}
	for _, tc := range []struct {
		s    string
		want bool
	}{
		{"sa_0123456789abcdefABCD", true},
		{"sa_0123456789abcdefABC", false},
		{"sa_0123456789abcdefAB-D", false},
		{"key_0123456789abcdefABCD", false},
	} {
		if got := isID(tc.s, ServiceAccountIDPrefix); got != tc.want {
			t.Errorf("isID(%q) = %v", tc.s, got)
		}
	}
}

func TestPrincipalContext(t *testing.T) {
	ctx := t.Context()
	if p, ok := PrincipalFrom(ctx); ok {
		t.Errorf("PrincipalFrom(empty) = %+v, true", p)
	}
	if p, ok := PrincipalFrom(WithPrincipal(ctx, Operator("ci"))); !ok || p.Ref() != "operator:ci" {
		t.Errorf("PrincipalFrom(WithPrincipal(operator ci)) = %+v, %v", p, ok)
	}
	if r := Person("alice", "10.0.0.1:443").Ref(); r != "person:alice" {
		t.Errorf("Person.Ref = %q", r)
	}
}
