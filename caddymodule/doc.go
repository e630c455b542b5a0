// Package caddymodule is the sagate sidecar: the Caddy HTTP handler
// http.handlers.sagate and its Caddyfile directive sagate.
//
// A request goes on to the next handler only with a live key, in
// "Authorization: Bearer <key>", of a workspace the site names and, when the site
// names a project, with a role of at least min_role in it. It then carries who called
// in identity headers no client can forge: the client's copies are removed in every
// spelling first. The path is put in the one form the upstream will read before
// anything is decided on it.
//
// What Redis holds counts only when the admin signed it with a key in signing_keys;
// anything else is "cannot tell". A key that could not be checked is never let
// through: it gets 503 (or, for a key verified before, a stale answer within
// stale_if_error), never 200 and never 401. Refusals are RFC 6750 answers with a JSON
// body, written by the handler (or handed to the site's handle_errors routes when the
// site asks):
//
//	400 invalid_request     several Authorization headers, or a path the path options refuse
//	401 (no error)          no bearer key
//	401 invalid_token       malformed, unknown, revoked, deactivated or expired key
//	403 insufficient_scope  another workspace, no project, no grant, role too low
//	503                     Redis cannot tell and nothing usable is cached (Retry-After: 1)
//	429 rate_limited        a key that passes, over its account's rate limit (Retry-After:
//	                        whole seconds until one more request)
//
// Sites of one Caddy process that name the same Redis, signing keys and cache settings
// share one Redis client and cache, which survive config reloads.
//
// An account's rate limit comes with its key's signed record; each process keeps one
// bucket per account, in memory, checked after every other check.
//
// docs/architecture.md walks through the request path and its choices;
// docs/operations.md lists every option.
package caddymodule
