package keystore

import (
	"strings"
	"testing"
	"time"
)

func TestParseDuration(t *testing.T) {
	tests := []struct {
		in      string
		want    time.Duration
		wantErr bool
	}{
		{"60m", time.Hour, false},
		{"90d", 90 * 24 * time.Hour, false},
		{"1d12h", 36 * time.Hour, false},
		{"1h30m", 90 * time.Minute, false},
		{"3650d", MaxDuration, false},
		{"3651d", 0, true},
		{"0", 0, true},
		{"0s", 0, true},
		{"-5m", 0, true},
		{"1d-1h", 0, true},
		{"+5m", 0, true},
		{"d", 0, true},
		{"5", 0, true},
		{"", 0, true},
		{"99999999999d", 0, true},
		{"10x", 0, true},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := ParseDuration("expires_in", tt.in)
			if (err != nil) != tt.wantErr {
				t.Fatalf("err = %v, wantErr %v", err, tt.wantErr)
			}
			if err != nil && KindOf(err) != KindInvalid {
				t.Fatalf("kind = %q", KindOf(err))
			}
			if got != tt.want {
				t.Fatalf("got %v, want %v", got, tt.want)
			}
		})
	}
}

func TestValidateNames(t *testing.T) {
	tests := []struct {
		name string
		fn   func(string) error
		in   string
		ok   bool
	}{
		{"slug ok", func(s string) error { return ValidateSlug("name", s) }, "ci-bot", true},
		{"slug digit first", func(s string) error { return ValidateSlug("name", s) }, "1bot", false},
		{"slug upper", func(s string) error { return ValidateSlug("name", s) }, "Bot", false},
		{"slug unicode", func(s string) error { return ValidateSlug("name", s) }, "bötchen", false},
		{"slug sql", func(s string) error { return ValidateSlug("name", s) }, "a'; drop table x;--", false},
		{"slug 63", func(s string) error { return ValidateSlug("name", s) }, "a" + strings.Repeat("b", 62), true},
		{"slug 64", func(s string) error { return ValidateSlug("name", s) }, "a" + strings.Repeat("b", 63), false},
		{"project star", ValidateProject, "*", true},
		{"project dotted", ValidateProject, "Billing.v2_x-1", true},
		{"project space", ValidateProject, "a b", false},
		{"project empty", ValidateProject, "", false},
		{"key name", ValidateKeyName, "deploy.2026", true},
		{"key name slash", ValidateKeyName, "a/b", false},
		{"description ok", ValidateDescription, "Nightly CI\n– runs ✓", true},
		{"description ctrl", ValidateDescription, "a\x00b", false},
		{"description bad utf8", ValidateDescription, "a\xffb", false},
		{"description long", ValidateDescription, strings.Repeat("x", MaxDescriptionLen+1), false},
		{"description tab and newline", ValidateDescription, "a\tb\nc", true},
		{"description accents, CJK, emoji", ValidateDescription, "Zoë 日本語 🚀 ∑", true},
		{"description CR", ValidateDescription, "a\rb", false},
		{"description ESC", ValidateDescription, "a\x1b[31mred", false},
		{"description DEL", ValidateDescription, "a\x7fb", false},
		{"description C1 control", ValidateDescription, "a\u0085b", false},
		{"description LRE", ValidateDescription, "a\u202ab", false},
		{"description RLE", ValidateDescription, "a\u202bb", false},
		{"description PDF", ValidateDescription, "a\u202cb", false},
		{"description LRO", ValidateDescription, "a\u202db", false},
		{"description RLO", ValidateDescription, "invoice\u202efdp.exe", false},
		{"description LRI", ValidateDescription, "a\u2066b", false},
		{"description RLI", ValidateDescription, "a\u2067b", false},
		{"description FSI", ValidateDescription, "a\u2068b", false},
		{"description PDI", ValidateDescription, "a\u2069b", false},
		{"description LRM", ValidateDescription, "a\u200eb", false},
		{"description RLM", ValidateDescription, "a\u200fb", false},
		{"description ALM", ValidateDescription, "a\u061cb", false},
		{"description zero-width space", ValidateDescription, "a\u200bb", false},
		{"description BOM", ValidateDescription, "\ufeffa", false},
		{"description soft hyphen", ValidateDescription, "a\u00adb", false},
		{"description tag character", ValidateDescription, "a\U000e0041b", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.fn(tt.in)
			if (err == nil) != tt.ok {
				t.Fatalf("err = %v, want ok=%v", err, tt.ok)
			}
		})
	}
}

func TestRoles(t *testing.T) {
	if !RoleOwner.AtLeast(RoleContributor) || RoleViewer.AtLeast(RoleContributor) || Role("root").AtLeast(RoleViewer) {
		t.Fatal("role order is wrong")
	}
	if _, err := ParseRole("Owner"); err == nil {
		t.Fatal("ParseRole accepted a non-canonical name")
	}
	if r, err := ParseRole("contributor"); err != nil || r != RoleContributor {
		t.Fatal("ParseRole(contributor) failed")
	}
}
