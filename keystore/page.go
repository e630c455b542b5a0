package keystore

import (
	"encoding/base64"
	"encoding/json"
)

// Page tokens are opaque to clients: base64url (no padding) of a JSON array of strings,
// the sort key of the last item of the previous page.

// parsePage checks p and decodes its token into parts strings (all "" for the first page).
func parsePage(p Page, parts int) (size int, after []string, err error) {
	size = p.Size
	switch {
	case size == 0:
		size = DefaultPageSize
	case size < 0 || size > MaxPageSize:
		return 0, nil, Invalid("page_size", "must be between 1 and %d", MaxPageSize)
	}
	if p.Token == "" {
		return size, make([]string, parts), nil
	}
	b, err := base64.RawURLEncoding.DecodeString(p.Token)
	if err == nil {
		err = json.Unmarshal(b, &after)
	}
	if err != nil || len(after) != parts {
		return 0, nil, Invalid("page_token", "is not a token from a previous page of this list")
	}
	return size, after, nil
}

// encodeToken returns the token that continues after the item with sort key key.
func encodeToken(key []string) string {
	b, _ := json.Marshal(key) // a []string always encodes
	return base64.RawURLEncoding.EncodeToString(b)
}

// nextPage trims items (read with limit size+1) to size and returns the next token,
// "" when this is the last page.
func nextPage[T any](items []T, size int, key func(T) []string) ([]T, string) {
	if len(items) <= size {
		return items, ""
	}
	items = items[:size]
	return items, encodeToken(key(items[size-1]))
}
