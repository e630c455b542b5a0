package caddymodule

import (
	"github.com/caddyserver/caddy/v2"
)

// Placeholders set on an allowed request.
const (
	phUserID    = "http.auth.user.id"
	phSA        = "sagate.service_account"
	phSAID      = "sagate.service_account_id"
	phWorkspace = "sagate.workspace"
	phKeyID     = "sagate.key_id"
	phProject   = "sagate.project"
	phRole      = "sagate.role"
)

// setPlaceholders makes the caller's identity available as placeholders. It adds
// one provider to the request's replacer instead of Set-ting seven static values:
// the values are computed only when a placeholder is used, which keeps the hot
// path at a couple of allocations.
// The provider holds its own copy of the values: a handler that edits a header in
// place must not change what the placeholders say.
func setPlaceholders(repl *caddy.Replacer, id *identity, withProject bool) {
	vals := id.vals
	repl.Map(func(key string) (any, bool) {
		switch key {
		case phUserID, phSAID:
			return vals[idSAID], true
		case phSA:
			return vals[idSA], true
		case phWorkspace:
			return vals[idWorkspace], true
		case phKeyID:
			return vals[idKeyID], true
		case phProject:
			if withProject {
				return vals[idProject], true
			}
		case phRole:
			if withProject {
				return vals[idRole], true
			}
		}
		return nil, false
	})
}
