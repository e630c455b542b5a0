// Package bench holds what the load harness (scripts/bench.sh, `make bench`) shares
// between its programs: the keys files handed from one step to the next, the CPU and
// memory figures read from /proc, and percentiles. The programs themselves live in the
// sub-directories: authsvc (the forward_auth comparison), issue (admin key issuance),
// propagation (revocation reaching 3 sidecars), reconcile (1,000,000 keys into an
// empty Redis), memory (RSS of a full sidecar cache), report (the results table) and
// instructions (instructions per request from callgrind dumps, which do not move with
// the machine's speed); fleet (`make bench-fleet`: what 1 to 100 sidecars cost one
// Redis) runs on its own.
//
// Keys files hold secrets: the harness writes them under a private temporary
// directory and removes them when it stops. Nothing here logs a key.
package bench
