package bench

import (
	"strings"
	"testing"
)

// sampleCallgrind is a dump in callgrind's own shape: name compression, relative
// positions, inlined files (fi=/fe=), a call whose count is 0 (still running when
// dumped), a recursion copy ('2) and a summary that totals overrides.
const sampleCallgrind = `# callgrind format
version: 1
creator: callgrind-3.19.0
part: 3

desc: Trigger: dump

positions: line
events: Ir
summary: 999

ob=(3) /usr/lib/x86_64-linux-gnu/libc.so.6
fl=(1) serve.go
fn=(10) github.com/sagate/sagate/caddymodule.(*Handler).ServeHTTP
21 7
+2 3
cfi=(1)
cfn=(11) github.com/sagate/sagate/caddymodule.(*Handler).decide
calls=2000 66
* 400
fi=(2) inline.go
-5 5
fe=(1)
cfl=(4) caddyhttp.go
cfn=(12) github.com/caddyserver/caddy/v2/modules/caddyhttp.HandlerFunc.ServeHTTP'2
calls=1999 37
+1 90000
cfn=(12)
calls=0 37
+1 1000
cfn=(14) github.com/sagate/sagate/caddymodule.(*Handler).ServeHTTP'2
calls=1 1
+1 22

fn=(11)
66 300
cfn=(13) crypto/sha256.Sum256
calls=2000 5
* 100

fn=(14)
1 20
cfn=(13)
calls=1 5
1 2

fn=(15) github.com/sagate/sagate/caddymodule.(*Handler).ServeHTTPX
1 1000000

fn=(13)
5
5 100
totals: 91937
`

func TestParseCallgrind(t *testing.T) {
	cg, err := ParseCallgrind(strings.NewReader(sampleCallgrind))
	if err != nil {
		t.Fatal(err)
	}
	if cg.Total != 91937 {
		t.Errorf("total %d, want the totals line's 91937", cg.Total)
	}
	const serve = "github.com/sagate/sagate/caddymodule.(*Handler).ServeHTTP"
	f := cg.Funcs[serve]
	if f == nil {
		t.Fatalf("no %s in %v", serve, cg.Funcs)
	}
	if f.Self != 7+3+5 {
		t.Errorf("self %d, want 15 (the inlined line counts as the function's own)", f.Self)
	}
	next := "github.com/caddyserver/caddy/v2/modules/caddyhttp.HandlerFunc.ServeHTTP'2"
	if got := f.Calls[next]; got != 91000 {
		t.Errorf("calls to next %d, want both arcs summed: 91000", got)
	}
	if got := cg.Funcs["crypto/sha256.Sum256"]; got == nil || got.Self != 100 {
		t.Errorf("sha256 %+v, want self 100 (a cost line without a count is 0)", got)
	}

	tests := []struct {
		name   string
		fn     string
		except []string
		want   int64
		found  int
	}{
		{"middleware without next", serve, []string{"github.com/caddyserver/caddy/v2/modules/caddyhttp.HandlerFunc.ServeHTTP"}, 15 + 400 + 20 + 2, 2},
		{"inclusive (the call into the copy '2 is not counted twice)", serve, nil, 15 + 400 + 91000 + 20 + 2, 2},
		{"a leaf", "github.com/sagate/sagate/caddymodule.(*Handler).decide", nil, 400, 1},
		{"absent", "nosuch", nil, 0, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, found := cg.Own(tt.fn, tt.except...)
			if got != tt.want || found != tt.found {
				t.Errorf("Own = %d over %d functions, want %d over %d", got, found, tt.want, tt.found)
			}
		})
	}
}

func TestParseCallgrindErrors(t *testing.T) {
	tests := []struct {
		name, in, want string
	}{
		{"no total", "events: Ir\nfn=(1) f\n1 2\n", "no totals"},
		{"other events", "events: Ir Dr\n", "want Ir alone"},
		{"instruction positions", "positions: instr line\nevents: Ir\n", "want line alone"},
		{"cost before fn", "events: Ir\n1 2\ntotals: 2\n", "before any fn="},
		{"unknown id", "events: Ir\nfn=(7)\ntotals: 0\n", "used before it was defined"},
		{"calls without cfn", "events: Ir\nfn=(1) f\ncalls=1 2\n1 2\ntotals: 2\n", "without cfn="},
		{"bad count", "events: Ir\nfn=(1) f\n1 x\ntotals: 2\n", "not a count"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseCallgrind(strings.NewReader(tt.in))
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %v, want one containing %q", err, tt.want)
			}
		})
	}
}
