package caddymodule

import (
	"strings"
	"testing"

	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
)

func TestModeOption(t *testing.T) {
	for _, tc := range []struct {
		input, want, wantErr string
	}{
		{input: "sagate {\n mode shadow\n}", want: ModeShadow},
		{input: "sagate {\n mode enforce\n}", want: ModeEnforce},
		{input: "sagate {\n mode audit\n}", wantErr: `mode must be "enforce" or "shadow"`},
		{input: "sagate {\n mode\n}", wantErr: "wrong argument count"},
		{input: "sagate {\n mode shadow\n mode enforce\n}", wantErr: "mode given more than once"},
	} {
		var h Handler
		err := h.UnmarshalCaddyfile(caddyfile.NewTestDispenser(tc.input))
		if tc.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("%q: error %v, want one containing %q", tc.input, err, tc.wantErr)
			}
			continue
		}
		if err != nil || h.Mode != tc.want {
			t.Errorf("%q: mode %q, error %v; want %q", tc.input, h.Mode, err, tc.want)
		}
	}
	if err := validateMode("Shadow"); err == nil {
		t.Error(`Validate accepts mode "Shadow"`)
	}
}

// TestDecisionValues pins the header values an upstream may parse.
func TestDecisionValues(t *testing.T) {
	for r, want := range map[reason]string{
		reasonNoKey:       "refuse; status=401; reason=no_key",
		reasonUnknown:     "refuse; status=401; reason=unknown",
		reasonLowRole:     "refuse; status=403; reason=low_role",
		reasonBadPath:     "refuse; status=400; reason=bad_path",
		reasonUnavailable: "refuse; status=503; reason=unavailable",
	} {
		if decisionValues[r] != want {
			t.Errorf("reason %d: %q, want %q", r, decisionValues[r], want)
		}
	}
	for r, name := range reasonNames {
		if name == "" {
			t.Errorf("reason %d has no name", r)
		}
	}
}
