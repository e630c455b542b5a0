package wire

import (
	"encoding/json"
	"math"
	"strconv"
)

// EncodeRecord returns the JSON of a record as stored in Redis: exactly what
// encoding/json's Marshal gives (TestEncodeRecordIsMarshal, FuzzEncodeRecord), so that
// a record sealed afresh has the bytes of one sealed before, written without
// reflection: a full sync encodes every record.
func EncodeRecord(r Record) ([]byte, error) {
	b := make([]byte, 0, 160+len(r.KeyID)+len(r.SAID)+len(r.SA)+len(r.Workspace)+24*len(r.Roles))
	return appendRecord(b, &r)
}

// appendRecord appends the JSON of r to b; strings that need escaping and numbers
// that JSON cannot hold go through json.Marshal.
func appendRecord(b []byte, r *Record) ([]byte, error) {
	if math.IsNaN(r.RPS) || math.IsInf(r.RPS, 0) {
		return json.Marshal(r) // its error names the value
	}
	b = append(b, `{"key_id":`...)
	b = appendString(b, r.KeyID)
	b = append(b, `,"sa_id":`...)
	b = appendString(b, r.SAID)
	b = append(b, `,"sa":`...)
	b = appendString(b, r.SA)
	b = append(b, `,"ws":`...)
	b = appendString(b, r.Workspace)
	b = append(b, `,"state":`...)
	b = appendString(b, string(r.State))
	if r.Exp != 0 {
		b = append(b, `,"exp":`...)
		b = strconv.AppendInt(b, r.Exp, 10)
	}
	if len(r.Roles) > 0 {
		b = append(b, `,"roles":{`...)
		var small [8]string
		for i, p := range SortedProjects(r.Roles, small[:0]) {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendString(b, p)
			b = append(b, ':')
			b = appendString(b, string(r.Roles[p]))
		}
		b = append(b, '}')
	}
	if r.RPS != 0 {
		b = append(b, `,"rps":`...)
		b = appendFloat(b, r.RPS)
	}
	if r.Burst != 0 {
		b = append(b, `,"burst":`...)
		b = strconv.AppendInt(b, r.Burst, 10)
	}
	b = append(b, `,"rev":`...)
	b = strconv.AppendInt(b, r.Rev, 10)
	return append(b, '}'), nil
}

// appendString appends s as encoding/json quotes it: printable ASCII other than the
// quote, backslash and the HTML characters is copied; anything else goes through
// json.Marshal, which escapes it.
func appendString(b []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c >= 0x80 || c == '"' || c == '\\' || c == '<' || c == '>' || c == '&' {
			q, _ := json.Marshal(s) // a string always marshals
			return append(b, q...)
		}
	}
	b = append(b, '"')
	b = append(b, s...)
	return append(b, '"')
}

// appendFloat appends a finite f as encoding/json formats a float64.
func appendFloat(b []byte, f float64) []byte {
	format := byte('f')
	if abs := math.Abs(f); abs != 0 && (abs < 1e-6 || abs >= 1e21) {
		format = 'e'
	}
	b = strconv.AppendFloat(b, f, format, -1, 64)
	if format == 'e' {
		// e-09 to e-9, as encoding/json does.
		if n := len(b); n >= 4 && b[n-4] == 'e' && b[n-3] == '-' && b[n-2] == '0' {
			b[n-2] = b[n-1]
			b = b[:n-1]
		}
	}
	return b
}
