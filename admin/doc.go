// Package admin is sagate's admin HTTP API (every route under /v1) and the Go client
// that drives it.
//
// The server is a thin layer over keystore.Service: it names the caller (an operator,
// a service account's sak_ key, or a person named by a trusted proxy), decodes strict
// JSON, calls the Service and maps keystore's error kinds to statuses. Every rule,
// including who may do what, lives in keystore; a refusal is 403 naming the missing
// right and changes nothing. A change the store committed but Redis has not taken yet
// is answered with Sagate-Sync: pending, and the admin repairs it. Secrets appear only
// in the answers that create them.
//
// openapi.json describes every route (served at GET /v1/openapi.json, checked by the
// tests against real requests and answers); docs/api.md is the reference a user reads.
package admin
