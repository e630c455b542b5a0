#!/usr/bin/env bash
# Renders the charts of BENCHMARKS.md ("A fleet of sidecars on one Redis") from the CSV
# the fleet tool wrote (default docs/bench/sidecars.csv), beside it.
set -euo pipefail
csv=${1:-docs/bench/sidecars.csv}
dir=$(dirname "$csv")
GO=${GO:-go}
plot() { $GO run ./internal/tools/plotcsv -csv "$csv" -x sidecars -xlabel "sidecars on one Redis" -logx "$@"; }
plot -y revocation_p50_ms,revocation_p99_ms -ylabel "milliseconds" \
  -title "Revocation: acknowledgement to the last sidecar refusing" -out "$dir/sidecars-revocation.png"
plot -y redis_cpu_idle_ms_per_s_per_sidecar -ylabel "Redis CPU ms per second" \
  -title "Redis CPU per idle sidecar" -out "$dir/sidecars-redis-cpu.png"
echo "wrote $dir/sidecars-revocation.png $dir/sidecars-redis-cpu.png"
