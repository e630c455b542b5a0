// Package keystore is the domain of sagate's admin: workspaces, service accounts, keys
// and grants, the rules every change obeys, who may make it (Service, checked against
// access.go's table inside the store transaction), and the Store and Tx interfaces a
// durable store implements.
//
// The format shared with the sidecars through Redis is package keystore/wire; the
// Caddy sidecar links that, never this package. docs/architecture.md walks through
// the domain.
package keystore
