package wire

import (
	"encoding/json"
	"reflect"
	"testing"
)

// recordSamples are records as the admin writes them, and near misses of that shape.
var recordSamples = []string{
	`{"key_id":"key_0123456789abcdefghij","sa_id":"sa_0123456789abcdefghij","sa":"ci@ml","ws":"ml","state":"active","roles":{"*":"viewer","p1":"owner"},"rev":42}`,
	`{"key_id":"k","sa_id":"s","sa":"a@w","ws":"w","state":"revoked","exp":1700000000000,"rev":9223372036854775807}`,
	`{"key_id":"k","sa_id":"s","sa":"a@w","ws":"w","state":"deactivated","exp":-5,"roles":{},"rev":0}`,
	`{"key_id":"k","roles":{"a":"owner"},"roles":{"b":"viewer"},"key_id":"k2"}`,
	`{"key_id":"k","sa_id":"s","sa":"a@w","ws":"w","state":"active","rps":2.5,"burst":10,"rev":3}`,
	`{"key_id":"k","sa_id":"s","sa":"a@w","ws":"w","state":"active","rps":100,"burst":1,"rev":3}`,
	`{"rps":0.001}`, `{"rps":1e3}`, `{"rps":1E+3}`, `{"rps":-2.5e-3}`, `{"rps":01}`, `{"rps":0}`, `{"rps":-0}`,
	`{"rps":1.}`, `{"rps":.5}`, `{"rps":1e}`, `{"rps":1e400}`, `{"rps":"1"}`, `{"rps":null}`, `{"burst":1.5}`,
	`{"rps":1,"rps":2}`,
	`{}`,
	`{"key_id":"caf\u00e9"}`,
	`{"key_id":"café"}`,
	`{"KEY_ID":"k"}`,
	`{"rev":1.5}`, `{"rev":1e3}`, `{"rev":01}`, `{"rev":-0}`, `{"rev":-}`, `{"rev":9223372036854775808}`,
	`{"rev":-9223372036854775808}`, `{"rev":18446744073709551616}`,
	`{"roles":null}`, `{"roles":{"a":1}}`, `{"other":"x"}`, `{"key_id":"k",}`, `{"key_id":"k"} `,
	` {"key_id":"k"}`, `{"key_id" : "k"}`, `{"key_id":"k"}}`, `{"key_id":"a"b"}`, `{`, `}`, ``,
}

func TestDecodeRecordFastMatchesEncodingJSON(t *testing.T) {
	fast := 0
	for _, in := range recordSamples {
		if checkDecodeRecord(t, []byte(in)) {
			fast++
		}
	}
	if fast < 6 {
		t.Errorf("only %d samples took the fast path; the admin's own records must", fast)
	}
	// What EncodeRecord writes always takes it.
	rec := Record{KeyID: "key_x", SAID: "sa_x", SA: "bot@ws", Workspace: "ws", State: KeyActive, Exp: 1,
		Roles: map[string]Role{AllProjects: RoleViewer, "p": RoleOwner}, RPS: 0.5, Burst: 20, Rev: 3}
	b, err := EncodeRecord(rec)
	if err != nil {
		t.Fatal(err)
	}
	if got, ok := decodeRecordFast(b); !ok || !reflect.DeepEqual(got, rec) {
		t.Fatalf("decodeRecordFast(%s) = %+v, %v; want %+v", b, got, ok, rec)
	}
	if allocs := testing.AllocsPerRun(100, func() { _, _ = DecodeRecord(b) }); allocs > 4 {
		t.Errorf("DecodeRecord: %v allocations, want at most 4 (the text and the roles map, not one per field)", allocs)
	}
}

// checkDecodeRecord fails t if the fast path accepts b with a result other than
// json.Unmarshal's, and reports whether it accepted b.
func checkDecodeRecord(t *testing.T, b []byte) bool {
	t.Helper()
	got, ok := decodeRecordFast(b)
	if !ok {
		return false
	}
	var want Record
	if err := json.Unmarshal(b, &want); err != nil {
		t.Fatalf("fast path accepted %q, which encoding/json refuses: %v", b, err)
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("fast path read %q as %+v, encoding/json as %+v", b, got, want)
	}
	return true
}

func FuzzDecodeRecord(f *testing.F) {
	for _, s := range recordSamples {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) { checkDecodeRecord(t, b) })
}

func BenchmarkDecodeRecord(b *testing.B) {
	raw := []byte(recordSamples[0])
	b.ReportAllocs()
	for b.Loop() {
		if _, err := DecodeRecord(raw); err != nil {
			b.Fatal(err)
		}
	}
}

// TestRecordLimit: a record without rps (written before limits existed) decodes
// unlimited; one with a rate carries it, its burst read as at least 1.
func TestRecordLimit(t *testing.T) {
	for _, c := range []struct {
		in   string
		want RateLimit
	}{
		{`{"key_id":"k","sa_id":"s","sa":"a@w","ws":"w","state":"active","rev":1}`, RateLimit{}},
		{`{"key_id":"k","sa_id":"s","sa":"a@w","ws":"w","state":"active","rps":2.5,"burst":4,"rev":1}`, RateLimit{RPS: 2.5, Burst: 4}},
		{`{"key_id":"k","sa_id":"s","sa":"a@w","ws":"w","state":"active","rps":3,"rev":1}`, RateLimit{RPS: 3, Burst: 1}},
		{`{"key_id":"k","sa_id":"s","sa":"a@w","ws":"w","state":"active","rps":-1,"burst":4,"rev":1}`, RateLimit{}},
	} {
		r, err := DecodeRecord([]byte(c.in))
		if err != nil {
			t.Fatal(err)
		}
		if got := r.Limit(); got != c.want || got.Limited() != (c.want.RPS > 0) {
			t.Errorf("Limit of %s = %+v, want %+v", c.in, got, c.want)
		}
	}
}
