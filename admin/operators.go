package admin

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"fmt"
	"os"
	"regexp"
	"strings"
	"sync"
	"time"

	"go.uber.org/zap"
)

// EnvTokenOperator is the operator name of Config.Token (SAGATE_ADMIN_TOKEN).
const EnvTokenOperator = "admin"

// hashPrefix marks an operators-file line that holds the SHA-256 of the token, not the token.
const hashPrefix = "sha256:"

var operatorNameRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$`)

// operator is one operator token, kept as its SHA-256 only.
type operator struct {
	name string
	hash [sha256.Size]byte
}

// operators holds the operator tokens: Config.Token as "admin" and the lines of the
// operators file, which it reads again whenever the file's size or modification time
// changes. A file that no longer parses is logged and the tokens read before stay.
type operators struct {
	fixed []operator // from Config.Token
	path  string
	log   *zap.Logger

	mu      sync.Mutex
	file    []operator
	modTime time.Time
	size    int64
}

func newOperators(token, path string, log *zap.Logger) (*operators, error) {
	o := &operators{path: path, log: log}
	if token != "" {
		o.fixed = []operator{{name: EnvTokenOperator, hash: sha256.Sum256([]byte(token))}}
	}
	if path != "" {
		fi, err := os.Stat(path)
		if err != nil {
			return nil, fmt.Errorf("reading the operators file: %w", err)
		}
		ops, err := readOperators(path)
		if err != nil {
			return nil, err
		}
		o.file, o.modTime, o.size = ops, fi.ModTime(), fi.Size()
	}
	return o, nil
}

// current returns the operators, reading the file again if it has changed.
func (o *operators) current() []operator {
	if o.path == "" {
		return o.fixed
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	fi, err := os.Stat(o.path)
	if err != nil {
		o.log.Warn("the operators file cannot be read; keeping the operators read before", zap.Error(err))
	} else if !fi.ModTime().Equal(o.modTime) || fi.Size() != o.size {
		ops, err := readOperators(o.path)
		if err != nil {
			o.log.Warn("the operators file changed but does not parse; keeping the operators read before", zap.Error(err))
		} else {
			o.log.Info("operators file reloaded", zap.Int("operators", len(ops)))
			o.file = ops
		}
		o.modTime, o.size = fi.ModTime(), fi.Size()
	}
	return append(o.fixed[:len(o.fixed):len(o.fixed)], o.file...)
}

// lookup returns the name of the operator whose token is tok. Every token is compared,
// in constant time, whichever matches: the time taken tells nothing of which nor where.
func (o *operators) lookup(tok string) (string, bool) {
	h := sha256.Sum256([]byte(tok))
	name, found := "", false
	for _, op := range o.current() {
		if subtle.ConstantTimeCompare(h[:], op.hash[:]) == 1 && !found {
			name, found = op.name, true
		}
	}
	return name, found
}

// readOperators parses an operators file: one "NAME TOKEN" or "NAME sha256:HEX" per line;
// blank lines and lines starting with # are skipped. Errors name the line, never a token.
func readOperators(path string) ([]operator, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("reading the operators file: %w", err)
	}
	var ops []operator
	seen := map[string]bool{}
	sc := bufio.NewScanner(bytes.NewReader(b))
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		f := strings.Fields(line)
		if len(f) != 2 {
			return nil, fmt.Errorf("operators file %s line %d: want NAME TOKEN or NAME sha256:HEX", path, n)
		}
		name, tok := f[0], f[1]
		if !operatorNameRE.MatchString(name) {
			return nil, fmt.Errorf("operators file %s line %d: the name must match %s", path, n, operatorNameRE)
		}
		if seen[name] {
			return nil, fmt.Errorf("operators file %s line %d: operator %q named twice", path, n, name)
		}
		seen[name] = true
		op := operator{name: name}
		if hexHash, ok := strings.CutPrefix(tok, hashPrefix); ok {
			raw, err := hex.DecodeString(hexHash)
			if err != nil || len(raw) != sha256.Size {
				return nil, fmt.Errorf("operators file %s line %d: sha256: must be followed by 64 hex digits", path, n)
			}
			copy(op.hash[:], raw)
		} else {
			if err := CheckToken(tok); err != nil {
				return nil, fmt.Errorf("operators file %s line %d: %w", path, n, err)
			}
			op.hash = sha256.Sum256([]byte(tok))
		}
		ops = append(ops, op)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("reading the operators file: %w", err)
	}
	return ops, nil
}
