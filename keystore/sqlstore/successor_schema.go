package sqlstore

import "database/sql"

// keySuccessorMigration adds api_keys.successor_id: the id of the key that rotating this
// one issued, so that a second rotation of the same key can be told from a first (a
// retried rotation must not leave an extra live key). The same statement serves SQLite
// and PostgreSQL.
const keySuccessorMigration = `ALTER TABLE api_keys ADD COLUMN successor_id TEXT;`

// nullString stores "" as NULL.
func nullString(s string) sql.NullString { return sql.NullString{String: s, Valid: s != ""} }
