// Package sqlstore holds the durable keystore.Store implementations: SQLiteStore (one
// file in WAL mode) and PostgresStore (several admins on one database), with their
// schema migrations. Open picks one from a store URL. Only the admin side (sagate serve
// and the CLI commands that open a store) imports it, so the Caddy sidecar links no
// database driver.
package sqlstore
