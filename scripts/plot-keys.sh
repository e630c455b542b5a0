#!/usr/bin/env bash
# Renders the charts of BENCHMARKS.md ("Scale: keys") from the CSV keyscale wrote
# (default docs/bench/keys.csv), beside it.
set -euo pipefail
csv=${1:-docs/bench/keys.csv}
dir=$(dirname "$csv")
GO=${GO:-go}
plot() { $GO run ./internal/tools/plotcsv -csv "$csv" -x keys -xlabel "keys in the store" -logx "$@"; }
plot -y full_sync_seconds,scan_repair_seconds,repair_seconds -logy -ylabel "wall seconds" \
  -title "Full sync into an empty Redis; repair scanning the store, and not" -out "$dir/keys-time.png"
plot -y full_sync_cpu_seconds,exact_repair_cpu_seconds,scan_repair_cpu_seconds,repair_cpu_seconds -logy -ylabel "admin CPU seconds (getrusage)" \
  -title "Admin CPU per pass: full sync, and repairs (exact, scanning the store, not)" -out "$dir/keys-cpu.png"
plot -y redis_bytes_per_key,digest_heap_bytes_per_key -ylabel "bytes per key" \
  -title "Redis used_memory per key, and the admin's heap per key (digests)" -out "$dir/keys-memory.png"
echo "wrote $dir/keys-time.png $dir/keys-cpu.png $dir/keys-memory.png"
