package keystore

import (
	"github.com/sagate/sagate/keystore/wire"
)

// The key format, key states and roles are defined by package wire, which the sidecar
// shares without linking the domain; every domain type uses them, so they are named
// here too. Each name below is the wire package's, not a copy.

// KeyHash is the SHA-256 of a key's full text (wire.KeyHash).
type KeyHash = wire.KeyHash

// Role is a service account's role in a project (wire.Role).
type Role = wire.Role

// RateLimit is a service account's request rate limit (wire.RateLimit).
type RateLimit = wire.RateLimit

// KeyState is the lifecycle state of an API key (wire.KeyState).
type KeyState = wire.KeyState

// Roles, key states and the key format (package wire).
const (
	RoleViewer      = wire.RoleViewer
	RoleContributor = wire.RoleContributor
	RoleOwner       = wire.RoleOwner
	AllProjects     = wire.AllProjects

	KeyActive      = wire.KeyActive
	KeyDeactivated = wire.KeyDeactivated
	KeyRevoked     = wire.KeyRevoked

	KeyPrefix = wire.KeyPrefix
	KeyLen    = wire.KeyLen
	KeyRegexp = wire.KeyRegexp
)

// ParseRole parses a role name (wire.ParseRole); its error is of KindInvalid.
func ParseRole(s string) (Role, error) {
	r, err := wire.ParseRole(s)
	if err != nil {
		return "", &Error{Kind: KindInvalid, Message: err.Error()}
	}
	return r, nil
}

// GenerateKey returns a new random API key (wire.GenerateKey).
func GenerateKey() (string, error) { return wire.GenerateKey() }

// CheckKey verifies a presented key's format and checksum (wire.CheckKey).
func CheckKey(key string) error { return wire.CheckKey(key) }

// HashKey returns the SHA-256 of the key text (wire.HashKey).
func HashKey(key string) KeyHash { return wire.HashKey(key) }

// ParseKeyHash parses the hex form of a KeyHash (wire.ParseKeyHash).
func ParseKeyHash(s string) (KeyHash, error) { return wire.ParseKeyHash(s) }

// Last6 returns the last six characters of a key, safe to log (wire.Last6).
func Last6(key string) string { return wire.Last6(key) }

// AddRole merges a grant into a principal's roles: wire.AddRole, the one rule.
func AddRole(roles map[string]Role, project string, role Role) map[string]Role {
	return wire.AddRole(roles, project, role)
}

// RoleIn returns a principal's role in project: wire.RoleIn, the one rule.
func RoleIn(roles map[string]Role, project string) (Role, bool) { return wire.RoleIn(roles, project) }
