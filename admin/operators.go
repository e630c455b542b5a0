package admin

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"go.uber.org/zap"
)

// EnvTokenOperator is the operator name of Config.Token (SAGATE_ADMIN_TOKEN).
const EnvTokenOperator = "admin"

// DefaultOperatorsFileInterval is how often the operators file is checked for changes
// when Config.OperatorsFileInterval is 0.
const DefaultOperatorsFileInterval = 2 * time.Second

// hashPrefix marks an operators-file line that holds the SHA-256 of the token, not the token.
const hashPrefix = "sha256:"

var operatorNameRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$`)

// operator is one operator token, kept as its SHA-256 only.
type operator struct {
	name string
	hash [sha256.Size]byte
}

// operators holds the operator tokens: Config.Token as "admin" and the lines of the
// operators file. The file is read at start and then by check, on a ticker (watch),
// never on a request. Whatever the file says now is what applies: a line that does not
// parse is skipped and logged with its line number, the others apply; a file that is
// gone, unreadable or readable by group or others means no file operators. Each such
// state is logged once, when it begins.
type operators struct {
	fixed []operator // from Config.Token
	path  string
	log   *zap.Logger

	file atomic.Pointer[[]operator] // the file's operators as last read

	mu      sync.Mutex // serializes check
	sum     [sha256.Size]byte
	problem string // what was wrong with the file at the last check; "" when it was read
}

func newOperators(token, path string, log *zap.Logger) (*operators, error) {
	o := &operators{path: path, log: log}
	if token != "" {
		o.fixed = []operator{{name: EnvTokenOperator, hash: sha256.Sum256([]byte(token))}}
	}
	o.file.Store(&[]operator{})
	if path != "" {
		// At start a file that cannot be used is a configuration error.
		b, err := ReadPrivateFile(path, "the operators file")
		if err != nil {
			return nil, err
		}
		if bad := o.load(b); len(*o.file.Load()) == 0 && token == "" {
			why := ""
			if len(bad) > 0 {
				why = fmt.Sprintf(" (line %d: %s)", bad[0].line, bad[0].problem)
			}
			return nil, fmt.Errorf("the operators file %s names no usable operator and there is no admin token%s", path, why)
		}
	}
	return o, nil
}

// watch checks the operators file every interval until ctx ends.
func (o *operators) watch(ctx context.Context, interval time.Duration) {
	if o.path == "" {
		return
	}
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			o.check()
		}
	}
}

// check reads the operators file and applies it if its content changed.
func (o *operators) check() {
	b, err := ReadPrivateFile(o.path, "the operators file")
	o.mu.Lock()
	defer o.mu.Unlock()
	if err != nil {
		o.file.Store(&[]operator{})
		if msg := err.Error(); msg != o.problem {
			o.problem = msg
			o.log.Warn("the operators file cannot be used; no operator of the file is accepted until it can", zap.Error(err))
		}
		return
	}
	if o.problem == "" && sha256.Sum256(b) == o.sum {
		return
	}
	o.load(b)
	o.log.Info("operators file reloaded", zap.Int("operators", len(*o.file.Load())))
}

// load applies the content b of the operators file and returns the lines it skipped,
// each logged. Called at start and under mu.
func (o *operators) load(b []byte) []lineError {
	ops, bad := parseOperators(b)
	for _, e := range bad {
		o.log.Warn("operators file: line skipped", zap.String("file", o.path), zap.Int("line", e.line), zap.String("problem", e.problem))
	}
	o.file.Store(&ops)
	o.sum, o.problem = sha256.Sum256(b), ""
	return bad
}

// lookup returns the name of the operator whose token is tok. Every token is compared,
// in constant time, whichever matches: the time taken tells nothing of which nor where.
func (o *operators) lookup(tok string) (string, bool) {
	return o.lookupHash(sha256.Sum256([]byte(tok)))
}

// lookupHash is lookup by the token's SHA-256, for a caller that keeps only the hash.
func (o *operators) lookupHash(h [sha256.Size]byte) (string, bool) {
	name, found := "", false
	for _, list := range [][]operator{o.fixed, *o.file.Load()} {
		for _, op := range list {
			if subtle.ConstantTimeCompare(h[:], op.hash[:]) == 1 && !found {
				name, found = op.name, true
			}
		}
	}
	return name, found
}

// lineError is a line of the operators file that was skipped; problem never holds a token.
type lineError struct {
	line    int
	problem string
}

// parseOperators parses an operators file: one "NAME TOKEN" or "NAME sha256:HEX" per
// line; blank lines and lines starting with # are ignored. A line that does not parse,
// and a second line for a name, is skipped and returned in bad.
func parseOperators(b []byte) (ops []operator, bad []lineError) {
	seen := map[string]bool{}
	sc := bufio.NewScanner(bytes.NewReader(b))
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		op, problem := parseOperator(line)
		if problem == "" && seen[op.name] {
			problem = fmt.Sprintf("operator %q is named on an earlier line", op.name)
		}
		if problem != "" {
			bad = append(bad, lineError{line: n, problem: problem})
			continue
		}
		seen[op.name] = true
		ops = append(ops, op)
	}
	if err := sc.Err(); err != nil {
		bad = append(bad, lineError{problem: "the rest of the file: " + err.Error()})
	}
	return ops, bad
}

// parseOperator parses one line; problem is "" when it parses.
func parseOperator(line string) (op operator, problem string) {
	f := strings.Fields(line)
	if len(f) != 2 {
		return op, "want NAME TOKEN or NAME sha256:HEX"
	}
	name, tok := f[0], f[1]
	if !operatorNameRE.MatchString(name) {
		return op, "the name must match " + operatorNameRE.String()
	}
	op.name = name
	if hexHash, ok := strings.CutPrefix(tok, hashPrefix); ok {
		raw, err := hex.DecodeString(hexHash)
		if err != nil || len(raw) != sha256.Size {
			return op, "sha256: must be followed by 64 hex digits"
		}
		copy(op.hash[:], raw)
		return op, ""
	}
	if err := CheckToken(tok); err != nil {
		return op, err.Error()
	}
	op.hash = sha256.Sum256([]byte(tok))
	return op, ""
}

// ReadPrivateFile reads a file that holds secrets (what names it in errors), refusing
// one that group or others may read or write (mode & 0o077), as the signing key is
// refused: whoever can read it can act as what it names. The error never holds the
// file's content.
func ReadPrivateFile(path, what string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", what, err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", what, err)
	}
	if perm := fi.Mode().Perm(); perm&0o077 != 0 {
		return nil, fmt.Errorf("%s %s is open to group or others (mode %v); chmod 600 it", what, path, perm)
	}
	b, err := io.ReadAll(io.LimitReader(f, maxPrivateFile+1))
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", what, err)
	}
	if len(b) > maxPrivateFile {
		return nil, fmt.Errorf("reading %s: larger than %d bytes", what, maxPrivateFile)
	}
	return b, nil
}

// maxPrivateFile bounds a file ReadPrivateFile reads.
const maxPrivateFile = 1 << 20
