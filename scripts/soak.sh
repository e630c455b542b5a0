#!/usr/bin/env bash
# make soak: the soak test. Builds sagate, Caddy with sagate and the soak
# program (internal/tools/soak), which starts its own redis-server, admin, upstream and one
# Caddy sidecar on loopback, sends requests at full speed for SOAK_DURATION with a mix
# of live, revoked and garbage keys while keys are revoked and roles changed through the
# admin, checks every decision against what the admin acknowledged, samples the
# sidecar's RSS and goroutines, prints a summary and exits non-zero on any wrong
# decision or growth. It stops everything it started.
#
# Knobs (environment): SOAK_DURATION (60s), SOAK_WORKERS (32), SOAK_WINDOW (1s, the
# propagation allowance after an acknowledged change), SOAK_MUTATE_EVERY (100ms).
# The summary is also kept in $BIN/soak-latest.txt.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/ensure-deps.sh redis

# Absolute: the soak program starts each process in a directory of its own.
BIN=$(mkdir -p "${BIN:-bin}" && cd "${BIN:-bin}" && pwd)
go build -o "$BIN/sagate" ./cmd/sagate
go build -o "$BIN/caddy" ./cmd/caddy
go build -o "$BIN/soak" ./internal/tools/soak

timeout 600 "$BIN/soak" -sagate "$BIN/sagate" -caddy "$BIN/caddy" \
  -duration "${SOAK_DURATION:-60s}" -workers "${SOAK_WORKERS:-32}" \
  -window "${SOAK_WINDOW:-1s}" -mutate-every "${SOAK_MUTATE_EVERY:-100ms}" |
  tee "$BIN/soak-latest.txt"
exit "${PIPESTATUS[0]}"
