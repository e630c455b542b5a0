package sqlstore

import (
	"errors"
	"strings"

	"github.com/sagate/sagate/keystore"
)

// encodePendingHashes is the hashes column of the outbox: the hashes without repeats,
// space-separated lower-case hex (as in a "keys" event).
func encodePendingHashes(hashes []keystore.KeyHash) string {
	seen := make(map[keystore.KeyHash]struct{}, len(hashes))
	var b strings.Builder
	b.Grow(len(hashes) * 65)
	for _, h := range hashes {
		if _, ok := seen[h]; ok {
			continue
		}
		seen[h] = struct{}{}
		if b.Len() > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(h.String())
	}
	return b.String()
}

// decodePendingHashes parses the hashes column of the outbox.
func decodePendingHashes(s string) ([]keystore.KeyHash, error) {
	fields := strings.Fields(s)
	out := make([]keystore.KeyHash, 0, len(fields))
	for _, f := range fields {
		h, err := keystore.ParseKeyHash(f)
		if err != nil {
			return nil, errors.New("reading a pending change: malformed hash list")
		}
		out = append(out, h)
	}
	return out, nil
}
