package keystore

import (
	"testing"
	"time"
)

func TestRecordRoleFor(t *testing.T) {
	r := Record{Roles: map[string]Role{"*": RoleViewer, "billing": RoleOwner, "ops": RoleViewer}}
	tests := []struct {
		project string
		want    Role
		ok      bool
	}{
		{"billing", RoleOwner, true},
		{"ops", RoleViewer, true},
		{"other", RoleViewer, true},
	}
	for _, tt := range tests {
		got, ok := r.RoleFor(tt.project)
		if got != tt.want || ok != tt.ok {
			t.Errorf("RoleFor(%q) = %q,%v want %q,%v", tt.project, got, ok, tt.want, tt.ok)
		}
	}
	none := Record{Roles: map[string]Role{"billing": RoleOwner}}
	if _, ok := none.RoleFor("ops"); ok {
		t.Error("no grant must mean no role")
	}
	// An explicit lower grant wins over a higher "*".
	r2 := Record{Roles: map[string]Role{"*": RoleOwner, "prod": RoleViewer}}
	if got, _ := r2.RoleFor("prod"); got != RoleViewer {
		t.Errorf("explicit grant must win over *: got %q", got)
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
