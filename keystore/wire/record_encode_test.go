package wire

import (
	"bytes"
	"encoding/json"
	"math"
	"testing"
)

var encodeSamples = []Record{
	{},
	{KeyID: "key_1", SAID: "sa_1", SA: "ci@acme", Workspace: "acme", State: KeyActive, Rev: 1},
	{KeyID: "key_1", SAID: "sa_1", SA: "ci@acme", Workspace: "acme", State: KeyRevoked, Exp: 1765000000000, Rev: 42,
		Roles: map[string]Role{"*": RoleViewer, "billing": RoleOwner, "a": RoleContributor}, RPS: 2.5, Burst: 4},
	{KeyID: `q"uo\te`, SAID: "<html>&", SA: "naïve@wörk", Workspace: "\u2028\x00\x1f", State: "odd\xff", Rev: -3,
		Roles: map[string]Role{"é": "x", "\"": "<", "": ""}, RPS: 1e-7, Burst: -1},
	{KeyID: "k", RPS: 1e21, Burst: math.MaxInt64, Rev: math.MinInt64, Exp: -1},
	{KeyID: "k", RPS: 123456789.125, Roles: map[string]Role{}},
	{KeyID: "k", RPS: math.Copysign(0, -1)},
	{KeyID: "k", RPS: 0.000001},
	{KeyID: "k", RPS: 5e-324},
}

func TestEncodeRecordIsMarshal(t *testing.T) {
	for _, r := range encodeSamples {
		checkEncodeRecord(t, r)
	}
	for _, bad := range []float64{math.NaN(), math.Inf(1)} {
		if _, err := EncodeRecord(Record{RPS: bad}); err == nil {
			t.Errorf("rps %v encoded", bad)
		}
	}
}

func checkEncodeRecord(t *testing.T, r Record) {
	t.Helper()
	want, werr := json.Marshal(r)
	got, err := EncodeRecord(r)
	if (err != nil) != (werr != nil) || !bytes.Equal(got, want) {
		t.Fatalf("EncodeRecord(%#v) = %s (%v), json.Marshal %s (%v)", r, got, err, want, werr)
	}
}

// FuzzEncodeRecord: the encoder gives json.Marshal's bytes for any field values.
func FuzzEncodeRecord(f *testing.F) {
	f.Add("key_1", "sa_1", "ci@acme", "acme", "active", int64(0), "p", "viewer", "*", "owner", 2.5, int64(4), int64(7))
	f.Add("<", "\xff", "\u2028", "\"", "x", int64(-1), "", "", "é", "\\", 1e-9, int64(0), int64(0))
	f.Fuzz(func(t *testing.T, key, said, sa, ws, state string, exp int64, p1, r1, p2, r2 string, rps float64, burst, rev int64) {
		r := Record{KeyID: key, SAID: said, SA: sa, Workspace: ws, State: KeyState(state), Exp: exp,
			RPS: rps, Burst: burst, Rev: rev}
		if p1 != "" || r1 != "" {
			r.Roles = map[string]Role{p1: Role(r1), p2: Role(r2)}
		}
		checkEncodeRecord(t, r)
	})
}

func BenchmarkEncodeRecord(b *testing.B) {
	r := encodeSamples[2]
	b.ReportAllocs()
	for b.Loop() {
		if _, err := EncodeRecord(r); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkEncodeRecordMarshal is what EncodeRecord replaces, for comparison.
func BenchmarkEncodeRecordMarshal(b *testing.B) {
	r := encodeSamples[2]
	b.ReportAllocs()
	for b.Loop() {
		if _, err := json.Marshal(r); err != nil {
			b.Fatal(err)
		}
	}
}
