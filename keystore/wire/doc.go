// Package wire is the format the admin and the sidecars share through Redis: the API
// key format and its hash, roles and key states, the key records, change events and
// markers, and the Ed25519 seals over them, single or in groups (tree.go). The admin
// writes it (keystore/redissync), the sidecar reads it (keystore/keycache); it links
// neither side's logic, so the Caddy binary carries no more of the admin than this.
//
// docs/protocol.md walks through the protocol.
package wire
