package caddymodule

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/sagate/sagate/keystore/wire"
)

// The admin's signing keys (signing_keys): the sidecar trusts what Redis holds only
// when one of them signed it (keystore/wire/sign.go, keystore/keycache).

// cacheSettings are the handler's settings of its shared cache. Call after Validate.
func (h *Handler) cacheSettings() cacheSettings {
	keys, _ := parseSigningKeys(h.SigningKeys)
	trust := make([]string, len(keys))
	for i, k := range keys {
		trust[i] = k.String()
	}
	slices.Sort(trust)
	return cacheSettings{
		redisURL:      h.Redis,
		size:          h.CacheSize,
		negativeTTL:   time.Duration(h.NegativeTTL),
		lookupTimeout: time.Duration(h.LookupTimeout),
		signingKeys:   strings.Join(slices.Compact(trust), " "),
	}
}

// errNoSigningKeys says how to find the key that signing_keys needs.
var errNoSigningKeys = errors.New("signing_keys is required: the public key of the sagate admin's signing key " +
	"(\"sagate-ed25519:...\"; `sagate signing-key public FILE` prints it from the admin's key file, " +
	"and the admin logs it when it starts)")

// parseSigningKeys parses the public keys of signing_keys; at least one is required.
func parseSigningKeys(keys []string) ([]wire.PublicKey, error) {
	if len(keys) == 0 {
		return nil, errNoSigningKeys
	}
	out := make([]wire.PublicKey, len(keys))
	for i, k := range keys {
		pk, err := wire.ParsePublicKey(k)
		if err != nil {
			return nil, fmt.Errorf("signing_keys: %w", err)
		}
		out[i] = pk
	}
	return out, nil
}

// signerIDs returns the signer ids of space-separated public keys, for logs.
func signerIDs(keys string) []string {
	pks, _ := parseSigningKeys(strings.Fields(keys))
	ids := make([]string, len(pks))
	for i, k := range pks {
		ids[i] = k.ID()
	}
	return ids
}
