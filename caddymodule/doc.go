// Package caddymodule is the sagate sidecar: the Caddy HTTP handler
// http.handlers.sagate and its Caddyfile directive sagate.
//
// It sits before reverse_proxy in front of an existing API. For each request it
// first puts the path in a form every component reads the same way
// (httpauth.CleanPath: dot segments resolved, slashes merged, encoded slashes
// refused, by default) and changes the request to it, so that the project
// placeholder, later handlers and the upstream read the path that was checked. It
// then takes the key from "Authorization: Bearer <key>", checks its format and checksum
// without any I/O (wire.CheckKey), hashes it (SHA-256) and looks the hash up in
// a shared keystore/keycache.Cache (a bounded local cache kept honest by the
// admin's Redis events, one Redis round trip on a miss). What Redis holds counts only
// when the admin signed it with a key that signing_keys trusts: a record, marker or
// event that does not verify, or a Redis older than what the sidecar has seen, is
// "cannot tell" (503, or a stale answer), never 200 and never 401. A live key of a
// workspace the site names (workspace is required; "*" names any), with a role at least min_role in the requested project when one is
// configured, goes on to the next handler carrying who called in headers that no
// client can forge: every identity header the client sent is removed first, in any
// letter case and in underscore spelling, and its name is taken out of Connection.
//
// Refusals are written by the handler itself, because their body and their
// WWW-Authenticate header are part of sagate's contract (RFC 6750):
//
//	400 error="invalid_request"     several Authorization headers, or a path refused by the path options
//	401 (no error attribute)        no Authorization header, or another scheme
//	401 error="invalid_token"       malformed, unknown, revoked, deactivated or expired key
//	403 error="insufficient_scope"  key of another workspace, no project, no grant, role too low
//	503 temporarily_unavailable     Redis cannot tell (down, slow, not synced, may evict keys, unsigned or
//	                                older data) and nothing usable is cached (Retry-After: 1)
//	429 rate_limited                a key that passes, over its account's rate limit (Retry-After:
//	                                whole seconds until one more request)
//
// Every refusal has a JSON body {"error": "...", "error_description": "..."} and
// Cache-Control: no-store. A key is never accepted that could not be checked.
//
// An account's rate limit comes with its key's signed record; the buckets are
// package ratelimit's, one per account for the whole process, checked after every
// other check, in memory. Each process enforces it on its own.
//
// Every site of a Caddy process that names the same Redis URL, signing keys and cache
// settings shares one Redis client and one keycache.Cache (so one events subscription),
// held in a caddy.UsagePool: it survives config reloads and is closed when the
// last handler using it is cleaned up.
package caddymodule
