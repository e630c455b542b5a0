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
		Roles: map[string]Role{AllProjects: RoleViewer, "p": RoleOwner}, Rev: 3}
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
