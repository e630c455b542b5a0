package keystore

import (
	"context"
	"time"
)

// GroupIDPrefix prefixes a group's id.
const GroupIDPrefix = "grp_"

// Group gathers principals of one workspace (service accounts and people) so that they
// are given roles together. A member's role in a project is the highest of its own
// grants and its groups' grants (RoleIn); a group grants nothing outside its workspace.
type Group struct {
	ID          string `json:"id"`
	Workspace   string `json:"workspace"`
	Name        string `json:"name"`
	Description string `json:"description"`
	// Members counts the group's members when it is read.
	Members   int       `json:"members"`
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
}

// GroupMember is one member of a group: a service account of the group's workspace or
// a person.
type GroupMember struct {
	Workspace string `json:"workspace"`
	Group     string `json:"group"` // the group's name
	GroupID   string `json:"group_id"`
	// Principal is "sa:ID" or "person:NAME".
	Principal string `json:"principal"`
	// Name is the account's name@workspace or the person's name.
	Name string `json:"name"`
	// ServiceAccountID is the account's id; empty for a person.
	ServiceAccountID string    `json:"service_account_id,omitempty"`
	CreatedAt        time.Time `json:"created_at"`
}

// GroupGrant gives every member of a group a role in one project of the group's
// workspace (or in every project, "*").
type GroupGrant struct {
	Workspace string    `json:"workspace"`
	Project   string    `json:"project"`
	Group     string    `json:"group"` // the group's name
	GroupID   string    `json:"group_id"`
	Role      Role      `json:"role"`
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
}

// GroupTx holds the rows of groups, their members and their grants.
type GroupTx interface {
	// InsertGroup adds a group (ErrConflict if its name is taken in its workspace).
	InsertGroup(ctx context.Context, g Group) error
	// GetGroup reads a group of ws by name, with its member count.
	GetGroup(ctx context.Context, ws, name string) (Group, bool, error)
	// ListGroups returns up to limit groups of ws whose name sorts after after, by name,
	// with their member counts.
	ListGroups(ctx context.Context, ws, after string, limit int) ([]Group, error)
	// UpdateGroup writes a group's description and updated_at.
	UpdateGroup(ctx context.Context, g Group) error
	// DeleteGroup removes a group with its members and grants.
	DeleteGroup(ctx context.Context, id string) error

	// PutGroupMember adds m to its group; created is false if it was a member already.
	PutGroupMember(ctx context.Context, m GroupMember) (created bool, err error)
	// DeleteGroupMember removes principal from group id; found reports whether it was a member.
	DeleteGroupMember(ctx context.Context, groupID, principal string) (found bool, err error)
	// ListGroupMembers returns up to limit members of group id whose principal sorts
	// after after, by principal; an account's Name is its name@workspace.
	ListGroupMembers(ctx context.Context, groupID, after string, limit int) ([]GroupMember, error)
	// IsGroupMember reports whether principal belongs to the group named name in ws.
	IsGroupMember(ctx context.Context, ws, name, principal string) (bool, error)
	// GroupKeys returns the hashes of the unrevoked keys of the group's member accounts:
	// the records a change of the group rewrites.
	GroupKeys(ctx context.Context, groupID string) ([]KeyHash, error)

	// PutGroupGrant inserts or replaces the grant (group, project).
	PutGroupGrant(ctx context.Context, g GroupGrant) error
	// GetGroupGrant reads the grant of group id on project.
	GetGroupGrant(ctx context.Context, groupID, project string) (GroupGrant, bool, error)
	// DeleteGroupGrant removes the grant of group id on project.
	DeleteGroupGrant(ctx context.Context, groupID, project string) (found bool, err error)
	// ListGroupGrants returns the grants of group id, by project ("*" first).
	ListGroupGrants(ctx context.Context, groupID string) ([]GroupGrant, error)
	// ListProjectGroupGrants returns up to limit group grants of ws on project and on
	// "*", by group name then project.
	ListProjectGroupGrants(ctx context.Context, ws, project string, limit int) ([]GroupGrant, error)
	// MemberGroupGrants returns the grants on project and on "*" (every grant when
	// project is "") of the groups of ws that principal ("sa:ID" or "person:NAME") belongs to.
	MemberGroupGrants(ctx context.Context, ws, principal, project string) ([]GroupGrant, error)
}
