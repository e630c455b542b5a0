// Package admin is sagate's admin HTTP API (v1, every route under /v1; docs/api.md) and
// the Go client that drives it.
//
// The server is a thin layer over keystore.Service: it authenticates the caller, decodes JSON strictly, calls the Service and maps keystore error kinds to
// HTTP statuses. Every rule lives in keystore.
//
// Wire rules:
//
//   - Errors are {"error": {"code", "message"}}. Codes: the keystore kinds
//     (invalid_argument 400, not_found 404, already_exists / limit_reached / ambiguous 409,
//     failed_precondition 422, permission_denied 403, unauthenticated 401), plus method_not_allowed 405,
//     payload_too_large 413 and internal 500 (generic message; the cause is logged).
//   - Request bodies are JSON objects of at most MaxBodyBytes (default 64 KiB). Unknown
//     fields, field names in other letter case than documented ("NAME" for "name"), a field
//     given twice, trailing data and a Content-Type other than application/json are 400,
//     naming the field. An empty body is accepted where every field is optional.
//   - Every answer to a request that committed a change carries SyncHeader (Sagate-Sync):
//     "applied", or `pending; reason="redis unreachable"` (or "redis sync failed") when the
//     change is in the store but Redis has not taken it yet; the admin retries with a full
//     sync, and until then sidecars may act on the old state. Reads and requests that
//     committed nothing carry no such header. The Client reports it through TrackSync;
//     /readyz shows "sync_backlog" while such changes wait.
//   - Durations ("key_expires_in", "expires_in", "retain") are strings parsed by
//     keystore.ParseDuration ("60m", "90d", "1d12h"). "retain" also accepts "0" (and absent or
//     ""), which revokes the old key at once.
//   - POST …/keys/revoke-all answers 200 with the service account object plus
//     "revoked": the number of keys it revoked.
//   - "max_service_accounts" absent or 0 takes keystore.DefaultMaxServiceAccounts on
//     create; PATCH /v1/workspaces/{ws} changes it (1..keystore.MaxServiceAccountsLimit).
//   - {sa} is an account id, name, or full name name@workspace of the path's workspace.
//   - Lists take ?page_size= (1..keystore.MaxPageSize) and ?page_token= (opaque).
//   - Every /v1 call is made by an authenticated principal (auth.go): an operator token,
//     a service account's live sak_ key, or a person named by a trusted proxy. keystore
//     decides what it may do (keystore.AccessRules, one table); a refusal is 403 permission_denied
//     naming the missing right. The audit trail records the principal; X-Sagate-Actor
//     is refused (400).
//   - The admin token must have at least MinTokenBits of estimated entropy (CheckToken).
//     CertReloader serves TLS from certificate files it reloads when they change.
//   - Every answer carries Cache-Control: no-store. Secrets appear only in the answers of
//     service-account create and reactivate, key create and rotate.
//
// openapi.json is the OpenAPI 3.1 description of every route, embedded in the binary and
// served without a token at GET /v1/openapi.json. Tests validate real requests and
// answers of every route against it.
package admin
