// Package keystore is the domain of sagate's admin: workspaces, service accounts, keys
// and grants (the types), the rules every change obeys and who may make it (Service and
// its authorization), the records the sidecars read from Redis (Record, sealing and
// opening them with the admin's signing key), and the Store and Tx interfaces a durable
// store implements.
//
// The SQL stores (SQLite and PostgreSQL) live in keystore/sqlstore, which only the admin
// side imports: the Caddy sidecar links keystore for records and signing, never a
// database driver.
package keystore
