package caddymodule

import (
	"github.com/caddyserver/caddy/v2"

	"github.com/sagate/sagate/keystore"
	"github.com/sagate/sagate/keystore/keycache"
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
func setPlaceholders(repl *caddy.Replacer, e *keycache.Entry, project string, role keystore.Role, withProject bool) {
	repl.Map(func(key string) (any, bool) {
		switch key {
		case phUserID, phSAID:
			return e.Record.SAID, true
		case phSA:
			return e.Record.SA, true
		case phWorkspace:
			return e.Record.Workspace, true
		case phKeyID:
			return e.Record.KeyID, true
		case phProject:
			if withProject {
				return project, true
			}
		case phRole:
			if withProject {
				return string(role), true
			}
		}
		return nil, false
	})
}
