package wire

import (
	"errors"
	"regexp"
)

// Role is a service account's role in a project. Roles are ordered viewer < contributor < owner.
type Role string

// The roles, lowest first.
const (
	RoleViewer      Role = "viewer"
	RoleContributor Role = "contributor"
	RoleOwner       Role = "owner"
)

// AllProjects is the project name of a grant that covers every project of a workspace,
// present and future. Grants add up: an account's role in a project is the higher of its
// grant on the project and its grant on "*".
const AllProjects = "*"

// ParseRole parses a role name; it accepts exactly the three lower-case names.
func ParseRole(s string) (Role, error) {
	switch r := Role(s); r {
	case RoleViewer, RoleContributor, RoleOwner:
		return r, nil
	}
	return "", errRole
}

// errRole is ParseRole's error.
var errRole = errors.New("role: must be one of viewer, contributor, owner")

// Rank orders roles: 1 viewer, 2 contributor, 3 owner, 0 for anything else.
func (r Role) Rank() int {
	switch r {
	case RoleViewer:
		return 1
	case RoleContributor:
		return 2
	case RoleOwner:
		return 3
	}
	return 0
}

// AtLeast reports whether r is a known role at or above min.
func (r Role) AtLeast(min Role) bool { return r.Rank() > 0 && r.Rank() >= min.Rank() }

// KeyState is the lifecycle state of an API key. Expiry is not a state: a key
// whose ExpiresAt has passed is refused whatever its state.
type KeyState string

// API key states.
const (
	KeyActive      KeyState = "active"
	KeyDeactivated KeyState = "deactivated"
	KeyRevoked     KeyState = "revoked"
)

var (
	slugRE    = regexp.MustCompile(`^[a-z][a-z0-9-]{0,62}$`)
	projectRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$`)
)

// ValidSlug reports whether s is a well-formed workspace or service-account name:
// ^[a-z][a-z0-9-]{0,62}$. The sidecar checks the workspaces of its configuration
// against the same rule the admin names them by.
func ValidSlug(s string) bool { return slugRE.MatchString(s) }

// ValidProject reports whether s is a well-formed project name, "*" or
// ^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$.
func ValidProject(s string) bool { return s == AllProjects || projectRE.MatchString(s) }
