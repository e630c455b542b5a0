package bench

import (
	"bufio"
	"fmt"
	"os"
	"strings"

	"github.com/sagate/sagate/keystore"
)

// IssuedKey is one line of a keys file: a key's id and its secret.
type IssuedKey struct {
	ID  string
	Key string
}

// WriteKeys writes one "id<TAB>key" line per key to path, readable by its owner only.
// wrk's Lua script (wrk/keys.lua) reads the same file and uses the last field.
func WriteKeys(path string, keys []IssuedKey) error {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o600)
	if err != nil {
		return fmt.Errorf("creating keys file: %w", err)
	}
	w := bufio.NewWriter(f)
	for _, k := range keys {
		if _, err := fmt.Fprintf(w, "%s\t%s\n", k.ID, k.Key); err != nil {
			_ = f.Close()
			return fmt.Errorf("writing keys file: %w", err)
		}
	}
	if err := w.Flush(); err != nil {
		_ = f.Close()
		return fmt.Errorf("writing keys file: %w", err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("closing keys file: %w", err)
	}
	return nil
}

// ReadKeys reads a keys file written by WriteKeys. Every key must be well formed
// (keystore.CheckKey); an error names the line, never the key.
func ReadKeys(path string) ([]IssuedKey, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("opening keys file: %w", err)
	}
	defer f.Close()
	var keys []IssuedKey
	sc := bufio.NewScanner(f)
	for line := 1; sc.Scan(); line++ {
		text := strings.TrimSpace(sc.Text())
		if text == "" {
			continue
		}
		id, key, ok := strings.Cut(text, "\t")
		if !ok {
			return nil, fmt.Errorf("keys file line %d: want id<TAB>key", line)
		}
		if err := keystore.CheckKey(key); err != nil {
			return nil, fmt.Errorf("keys file line %d: %w", line, err)
		}
		keys = append(keys, IssuedKey{ID: id, Key: key})
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("reading keys file: %w", err)
	}
	if len(keys) == 0 {
		return nil, fmt.Errorf("keys file %s holds no key", path)
	}
	return keys, nil
}
