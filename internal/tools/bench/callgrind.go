package bench

import (
	"bufio"
	"fmt"
	"io"
	"strconv"
	"strings"
)

// Callgrind is what the harness reads from one callgrind dump (valgrind's
// --tool=callgrind output, one event: Ir, instructions executed): the total, and per
// function its own instructions and the inclusive instructions of each call it made.
// Instructions executed do not depend on what else the machine is doing, which is
// what lets `make bench` compare configurations to within a fraction of a per cent
// on a host whose speed changes from second to second.
type Callgrind struct {
	Total int64
	Funcs map[string]*CallgrindFunc
}

// CallgrindFunc is one function of a dump. Go functions that recursion separated
// ("name'2") are distinct entries, as callgrind writes them.
type CallgrindFunc struct {
	Self  int64
	Calls map[string]int64 // callee → inclusive instructions of the calls to it
}

// ParseCallgrind reads a callgrind dump with the single event Ir and line positions
// (the defaults of --tool=callgrind; a dump with other events or with instruction
// positions, --dump-instr=yes, is refused rather than misread). Name compression
// ("fn=(12) name", then "fn=(12)") is resolved; the positions themselves are ignored.
//
// Inclusive costs are what callgrind recorded on each call arc. Go switches goroutines
// without returning, which callgrind cannot follow, so the inclusive cost of a function
// that blocks (and of its callers) is not to be trusted; the self costs, and the
// inclusive cost of code that runs to its end without blocking, are.
func ParseCallgrind(r io.Reader) (*Callgrind, error) {
	cg := &Callgrind{Funcs: map[string]*CallgrindFunc{}}
	names := map[string]string{} // compressed id "(12)" → function name
	var cur *CallgrindFunc
	callee := ""    // set by cfn=, used by the next calls=
	inCall := false // the next cost line is a call's inclusive cost
	totalSeen := false
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64*1024), 4*1024*1024)
	for line := 1; sc.Scan(); line++ {
		t := sc.Text()
		if t == "" || t[0] == '#' {
			continue
		}
		switch c := t[0]; {
		case c >= '0' && c <= '9' || c == '+' || c == '-' || c == '*':
			if cur == nil {
				return nil, fmt.Errorf("callgrind line %d: a cost before any fn=", line)
			}
			f := strings.Fields(t)
			var n int64
			if len(f) > 1 {
				v, err := strconv.ParseInt(f[1], 10, 64)
				if err != nil || v < 0 {
					return nil, fmt.Errorf("callgrind line %d: %q is not a count", line, f[1])
				}
				n = v
			}
			if inCall {
				cur.Calls[callee] += n
				inCall = false
			} else {
				cur.Self += n
			}
			continue
		}
		key, val, ok := strings.Cut(t, "=")
		if !ok {
			k, v, _ := strings.Cut(t, ":")
			switch k {
			case "events":
				if strings.TrimSpace(v) != "Ir" {
					return nil, fmt.Errorf("callgrind line %d: events %q, want Ir alone", line, strings.TrimSpace(v))
				}
			case "positions":
				if strings.TrimSpace(v) != "line" {
					return nil, fmt.Errorf("callgrind line %d: positions %q, want line alone", line, strings.TrimSpace(v))
				}
			case "totals", "summary":
				n, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
				if err != nil {
					return nil, fmt.Errorf("callgrind line %d: %s %q", line, k, v)
				}
				if k == "totals" || !totalSeen {
					cg.Total = n
				}
				totalSeen = true
			}
			continue
		}
		switch key {
		case "fn", "cfn":
			name, err := resolveName(names, val)
			if err != nil {
				return nil, fmt.Errorf("callgrind line %d: %w", line, err)
			}
			if key == "cfn" {
				callee = name
				continue
			}
			cur = cg.Funcs[name]
			if cur == nil {
				cur = &CallgrindFunc{Calls: map[string]int64{}}
				cg.Funcs[name] = cur
			}
		case "calls":
			if callee == "" {
				return nil, fmt.Errorf("callgrind line %d: calls= without cfn=", line)
			}
			inCall = true
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("reading callgrind: %w", err)
	}
	if !totalSeen {
		return nil, fmt.Errorf("callgrind: no totals or summary line")
	}
	return cg, nil
}

// resolveName returns the function name of "(id) name" (and remembers it) or "(id)".
func resolveName(names map[string]string, v string) (string, error) {
	if !strings.HasPrefix(v, "(") {
		return v, nil // written without compression
	}
	end := strings.IndexByte(v, ')')
	if end < 0 {
		return "", fmt.Errorf("unterminated name id in %q", v)
	}
	id, name := v[:end+1], strings.TrimSpace(v[end+1:])
	if name != "" {
		names[id] = name
		return name, nil
	}
	name, ok := names[id]
	if !ok {
		return "", fmt.Errorf("name id %s used before it was defined", id)
	}
	return name, nil
}

// Own returns the instructions of the functions named fn (and its recursion copies
// "fn'2", …) that are not in calls to a callee whose name starts with any of except:
// a middleware's own cost without the next handler's (except = the next handler).
// Calls from one copy to another are left out, as each copy is counted on its own.
// It also returns how many such functions the dump holds (0: fn never ran).
func (cg *Callgrind) Own(fn string, except ...string) (int64, int) {
	var sum int64
	found := 0
	for name, f := range cg.Funcs {
		if !isCopyOf(name, fn) {
			continue
		}
		found++
		sum += f.Self
	calls:
		for callee, n := range f.Calls {
			if isCopyOf(callee, fn) {
				continue
			}
			for _, p := range except {
				if strings.HasPrefix(callee, p) {
					continue calls
				}
			}
			sum += n
		}
	}
	return sum, found
}

// isCopyOf reports whether name is fn or one of its recursion copies ("fn'2").
func isCopyOf(name, fn string) bool {
	return name == fn || strings.HasPrefix(name, fn+"'") && isDigits(name[len(fn)+1:])
}

func isDigits(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}
