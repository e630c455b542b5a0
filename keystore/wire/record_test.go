package wire

import (
	"fmt"
	"testing"
	"time"
)

func TestRecordRoleFor(t *testing.T) {
	tests := []struct {
		name    string
		roles   map[string]Role
		project string
		want    Role
		ok      bool
	}{
		{"explicit only", map[string]Role{"billing": RoleOwner}, "billing", RoleOwner, true},
		{"star only", map[string]Role{"*": RoleViewer}, "billing", RoleViewer, true},
		{"no grant", map[string]Role{"billing": RoleOwner}, "ops", "", false},
		{"nil roles", nil, "ops", "", false},
		{"explicit above star", map[string]Role{"*": RoleViewer, "billing": RoleOwner}, "billing", RoleOwner, true},
		{"explicit below star: star wins", map[string]Role{"*": RoleContributor, "forecasting": RoleViewer}, "forecasting", RoleContributor, true},
		{"owner star over viewer", map[string]Role{"*": RoleOwner, "prod": RoleViewer}, "prod", RoleOwner, true},
		{"equal", map[string]Role{"*": RoleContributor, "prod": RoleContributor}, "prod", RoleContributor, true},
		{"other project gets star", map[string]Role{"*": RoleViewer, "billing": RoleOwner}, "other", RoleViewer, true},
		{"unknown explicit, known star", map[string]Role{"*": RoleViewer, "prod": "god"}, "prod", RoleViewer, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := Record{Roles: tt.roles}
			got, ok := r.RoleFor(tt.project)
			if got != tt.want || ok != tt.ok {
				t.Errorf("RoleFor(%q) over %v = %q,%v want %q,%v", tt.project, tt.roles, got, ok, tt.want, tt.ok)
			}
		})
	}
}

func TestRecordRoleForAllocatesNothing(t *testing.T) {
	r := Record{Roles: map[string]Role{"*": RoleContributor, "forecasting": RoleViewer}}
	if n := testing.AllocsPerRun(100, func() { _, _ = r.RoleFor("forecasting") }); n != 0 {
		t.Errorf("RoleFor allocates %v times per call", n)
	}
}

func TestRecordLiveAndCodec(t *testing.T) {
	now := time.UnixMilli(1_000_000)
	tests := []struct {
		name string
		r    Record
		live bool
	}{
		{"active", Record{State: KeyActive}, true},
		{"deactivated", Record{State: KeyDeactivated}, false},
		{"expired", Record{State: KeyActive, Exp: 1_000_000}, false},
		{"not yet expired", Record{State: KeyActive, Exp: 1_000_001}, true},
	}
	for _, tt := range tests {
		if got := tt.r.Live(now); got != tt.live {
			t.Errorf("%s: Live = %v", tt.name, got)
		}
	}
	in := Record{KeyID: "key_1", SAID: "sa_1", SA: "a@b", Workspace: "b", State: KeyActive, Exp: 5, Roles: map[string]Role{"*": RoleOwner}, Rev: 9}
	b, err := EncodeRecord(in)
	if err != nil {
		t.Fatal(err)
	}
	out, err := DecodeRecord(b)
	if err != nil || out.KeyID != in.KeyID || out.Roles["*"] != RoleOwner || out.Exp != 5 {
		t.Fatalf("round trip: %+v %v", out, err)
	}
	if _, err := DecodeRecord([]byte(`{"key_id":"k"}`)); err == nil {
		t.Fatal("record without identity accepted")
	}
	if _, err := DecodeRecord([]byte(`not json`)); err == nil {
		t.Fatal("garbage accepted")
	}
}

func TestGoneFlagsCodec(t *testing.T) {
	tests := []struct {
		name   string
		gone   []bool
		hashes int
		field  string // encoded; "" leaves the field out
	}{
		{"none gone leaves the field out", []bool{false, false}, 2, ""},
		{"no flags", nil, 2, ""},
		{"flags that do not match the hashes are left out", []bool{true}, 2, ""},
		{"one of three", []bool{false, true, false}, 3, "010"},
		{"all", []bool{true, true}, 2, "11"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := encodeGone(tt.gone, tt.hashes)
			if f != tt.field {
				t.Fatalf("encodeGone = %q, want %q", f, tt.field)
			}
			got := decodeGone(f, tt.hashes)
			if f == "" {
				if got != nil {
					t.Errorf("decodeGone(%q) = %v, want nil", f, got)
				}
				return
			}
			if fmt.Sprint(got) != fmt.Sprint(tt.gone) {
				t.Errorf("decodeGone(%q) = %v, want %v", f, got, tt.gone)
			}
		})
	}
	// What a reader cannot trust it ignores: it then drops the hashes, which is always right.
	for _, bad := range []struct {
		field  string
		hashes int
	}{{"01", 3}, {"0x1", 3}, {"1 1", 3}, {"", 0}} {
		if got := decodeGone(bad.field, bad.hashes); got != nil {
			t.Errorf("decodeGone(%q, %d) = %v, want nil", bad.field, bad.hashes, got)
		}
	}
}
