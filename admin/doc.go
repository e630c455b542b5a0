// Package admin is sagate's admin HTTP API (v1, every route under /v1; docs/api.md) and
// the Go client that drives it.
//
// The server is a thin layer over keystore.Service: it authenticates the caller with the
// admin token, decodes JSON strictly, calls the Service and maps keystore error kinds to
// HTTP statuses. Every rule lives in keystore.
//
// Wire rules:
//
//   - Errors are {"error": {"code", "message"}}. Codes: the keystore kinds
//     (invalid_argument 400, not_found 404, already_exists / limit_reached / ambiguous 409,
//     failed_precondition 422), plus unauthenticated 401, method_not_allowed 405,
//     payload_too_large 413 and internal 500 (generic message; the cause is logged).
//   - Request bodies are JSON objects of at most MaxBodyBytes (default 64 KiB). Unknown
//     fields, trailing data and a Content-Type other than application/json are 400. An empty
//     body is accepted where every field is optional.
//   - Durations ("key_expires_in", "expires_in", "retain") are strings parsed by
//     keystore.ParseDuration ("60m", "90d", "1d12h"). "retain" also accepts "0" (and absent or
//     ""), which revokes the old key at once.
//   - POST …/keys/revoke-all answers 200 with the service account object plus
//     "revoked": the number of keys it revoked.
//   - "max_service_accounts" absent or 0 takes keystore.DefaultMaxServiceAccounts.
//   - Lists take ?page_size= (1..keystore.MaxPageSize) and ?page_token= (opaque).
//   - The audit actor is the X-Sagate-Actor header (printable, at most 64 characters),
//     else "admin".
//   - Every answer carries Cache-Control: no-store. Secrets appear only in the answers of
//     service-account create and reactivate, key create and rotate.
//
// openapi.json is the OpenAPI 3.1 description of every route, embedded in the binary and
// served without a token at GET /v1/openapi.json. Tests validate real requests and
// answers of every route against it.
package admin
