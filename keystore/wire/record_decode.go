package wire

import (
	"math"
	"strconv"
)

// decodeRecordFast parses b when it has the shape EncodeRecord gives a record: one
// flat JSON object of the Record fields, no whitespace, strings of printable ASCII
// without escapes, integer numbers, and roles as an object of such strings. It
// reports false for anything else (other whitespace, escapes, UTF-8, null, unknown
// fields, floats but for rps), which the caller hands to encoding/json: the result is what
// json.Unmarshal would return for every input it accepts (FuzzDecodeRecord).
//
// Every string of the record is a substring of one copy of b: a decode costs that
// copy and the roles map instead of an allocation per field and reflection. Lookups
// that miss the sidecar's cache decode one record each.
func decodeRecordFast(b []byte) (Record, bool) {
	var r Record
	if len(b) < 2 || b[0] != '{' || b[len(b)-1] != '}' {
		return r, false
	}
	s := string(b) // the one copy the fields are cut from
	p := parser{s: s, i: 1}
	if p.peek() == '}' {
		return r, p.i+1 == len(s)
	}
	for {
		key, ok := p.str()
		if !ok || !p.eat(':') {
			return r, false
		}
		switch key {
		case "key_id":
			r.KeyID, ok = p.str()
		case "sa_id":
			r.SAID, ok = p.str()
		case "sa":
			r.SA, ok = p.str()
		case "ws":
			r.Workspace, ok = p.str()
		case "state":
			var v string
			v, ok = p.str()
			r.State = KeyState(v)
		case "exp":
			r.Exp, ok = p.int()
		case "rev":
			r.Rev, ok = p.int()
		case "rps":
			r.RPS, ok = p.float()
		case "burst":
			r.Burst, ok = p.int()
		case "roles":
			ok = p.roles(&r)
		default:
			return r, false
		}
		if !ok {
			return r, false
		}
		if p.eat(',') {
			continue
		}
		return r, p.eat('}') && p.i == len(s)
	}
}

// parser walks the text of one record.
type parser struct {
	s string
	i int
}

// peek returns the next byte, 0 at the end.
func (p *parser) peek() byte {
	if p.i < len(p.s) {
		return p.s[p.i]
	}
	return 0
}

// eat consumes c if it is next.
func (p *parser) eat(c byte) bool {
	if p.peek() == c {
		p.i++
		return true
	}
	return false
}

// str reads a string of printable ASCII without escapes.
func (p *parser) str() (string, bool) {
	if !p.eat('"') {
		return "", false
	}
	start := p.i
	for ; p.i < len(p.s); p.i++ {
		switch c := p.s[p.i]; {
		case c == '"':
			v := p.s[start:p.i]
			p.i++
			return v, true
		case c == '\\' || c < 0x20 || c >= 0x7f:
			return "", false
		}
	}
	return "", false
}

// int reads an integer that fits an int64, in JSON's syntax (no leading zeros, no
// fraction or exponent: those go to encoding/json).
func (p *parser) int() (int64, bool) {
	neg := p.eat('-')
	start := p.i
	var v uint64
	for ; p.i < len(p.s) && '0' <= p.s[p.i] && p.s[p.i] <= '9'; p.i++ {
		d := uint64(p.s[p.i] - '0')
		if v > (math.MaxUint64-d)/10 {
			return 0, false
		}
		v = v*10 + d
	}
	n := p.i - start
	if n == 0 || (n > 1 && p.s[start] == '0') {
		return 0, false
	}
	if c := p.peek(); c == '.' || c == 'e' || c == 'E' {
		return 0, false
	}
	if neg {
		if v > 1<<63 {
			return 0, false
		}
		return -int64(v), true
	}
	if v > math.MaxInt64 {
		return 0, false
	}
	return int64(v), true
}

// roles reads the roles object into r.Roles, merging into what an earlier "roles"
// member left (as encoding/json does).
func (p *parser) roles(r *Record) bool {
	if !p.eat('{') {
		return false
	}
	if r.Roles == nil {
		r.Roles = make(map[string]Role, 4)
	}
	if p.eat('}') {
		return true
	}
	for {
		k, ok := p.str()
		if !ok || !p.eat(':') {
			return false
		}
		v, ok := p.str()
		if !ok {
			return false
		}
		r.Roles[k] = Role(v)
		if p.eat(',') {
			continue
		}
		return p.eat('}')
	}
}

// float reads a number in JSON's syntax as encoding/json reads it into a float64
// (strconv.ParseFloat of the same text); false for a number out of range.
func (p *parser) float() (float64, bool) {
	start := p.i
	p.eat('-')
	intStart := p.i
	if !p.digits() || (p.s[intStart] == '0' && p.i-intStart > 1) {
		return 0, false // no digit, or a leading zero
	}
	if p.eat('.') && !p.digits() {
		return 0, false
	}
	if p.eat('e') || p.eat('E') {
		if !p.eat('+') {
			p.eat('-')
		}
		if !p.digits() {
			return 0, false
		}
	}
	v, err := strconv.ParseFloat(p.s[start:p.i], 64)
	return v, err == nil
}

// digits consumes one or more decimal digits.
func (p *parser) digits() bool {
	start := p.i
	for p.i < len(p.s) && '0' <= p.s[p.i] && p.s[p.i] <= '9' {
		p.i++
	}
	return p.i > start
}
