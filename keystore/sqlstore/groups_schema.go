package sqlstore

import "strings"

// groupsMigrationTemplate adds groups, their members and their grants, and the view
// account_roles: every role row of an account, its own grants and those of the groups it
// belongs to, from which the key records are built (merged by keystore.AddRole). A
// member is "sa:ID" (sa_id set, so that deleting the account removes it from its
// groups) or "person:NAME". $KEY is a sorted text column's type, $TIME a time
// column's: groupsMigration fills them for each store.
const groupsMigrationTemplate = `
CREATE TABLE access_groups (
	id          $KEY PRIMARY KEY,
	workspace   $KEY NOT NULL REFERENCES workspaces (name),
	name        $KEY NOT NULL,
	description TEXT NOT NULL,
	created_at  $TIME NOT NULL,
	updated_at  $TIME NOT NULL,
	UNIQUE (workspace, name)
);

CREATE TABLE access_group_members (
	group_id   $KEY NOT NULL REFERENCES access_groups (id) ON DELETE CASCADE,
	principal  $KEY NOT NULL,
	sa_id      $KEY REFERENCES service_accounts (id) ON DELETE CASCADE,
	created_at $TIME NOT NULL,
	PRIMARY KEY (group_id, principal)
);
CREATE INDEX access_group_members_by_sa ON access_group_members (sa_id);
CREATE INDEX access_group_members_by_principal ON access_group_members (principal);

CREATE TABLE access_group_grants (
	group_id   $KEY NOT NULL REFERENCES access_groups (id) ON DELETE CASCADE,
	project    $KEY NOT NULL,
	workspace  $KEY NOT NULL,
	role       TEXT NOT NULL,
	created_at $TIME NOT NULL,
	updated_at $TIME NOT NULL,
	PRIMARY KEY (group_id, project)
);
CREATE INDEX access_group_grants_by_project ON access_group_grants (workspace, project);

CREATE VIEW account_roles AS
	SELECT sa_id, project, role FROM grants
	UNION ALL
	SELECT m.sa_id, a.project, a.role FROM access_group_members m JOIN access_group_grants a ON a.group_id = m.group_id
	WHERE m.sa_id IS NOT NULL;
`

// ownershipMigration records who created each account and who is responsible for it
// (keystore.ServiceAccount's CreatedBy and Owner); accounts created before have neither.
const ownershipMigration = `
ALTER TABLE service_accounts ADD COLUMN created_by TEXT NOT NULL DEFAULT '';
ALTER TABLE service_accounts ADD COLUMN owner TEXT NOT NULL DEFAULT '';
`

// groupsMigration returns groupsMigrationTemplate for a store whose sorted text columns
// are key and whose time columns are ts.
func groupsMigration(key, ts string) string {
	return strings.NewReplacer("$KEY", key, "$TIME", ts).Replace(groupsMigrationTemplate)
}
