#!/usr/bin/env bash
# make bench-sidecar-memory: a sidecar's memory with a full key cache, against how many
# keys Redis holds (BENCHMARKS.md, "A fleet of sidecars on one Redis"). For each N of
# MEMORY_REDIS_KEYS: a fresh Redis filled by the admin's full reconcile of a store of N keys
# (internal/tools/bench/reconcile, as `make bench` step 7; the store and its first keys are
# kept in $BIN/bench-cache and reused by the next run), then for each C of
# MEMORY_CACHE_SIZES up to N: a fresh Caddy with `cache_size C`, sent C distinct keys once
# (a miss each, then cached: the cache full), its RSS read from /proc as in `make bench`
# step 8 (internal/tools/bench/memory); then, where Redis holds 2C keys, C more distinct
# keys (each a miss that evicts one), and the RSS again. One CSV row per (N, C, keys sent).
#
#   MEMORY_REDIS_KEYS="10000 100000 1000000" MEMORY_CACHE_SIZES="10000 100000" scripts/bench-sidecar-memory.sh
#
# Stops everything it started. About 3 minutes with the defaults on 2 idle cores when the
# stores are cached, 2 more to fill them the first time.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh

GO=${GO:-go}
BIN=${BIN:-bin}
read -r -a REDIS_KEYS <<<"${MEMORY_REDIS_KEYS:-10000 100000 1000000}"
read -r -a CACHE_SIZES <<<"${MEMORY_CACHE_SIZES:-10000 100000}"
CSV=${MEMORY_CSV:-docs/bench/sidecar-memory.csv}

scripts/ensure-deps.sh redis
mkdir -p "$BIN"
$GO build -o "$BIN/sagate" ./cmd/sagate
$GO build -o "$BIN/caddy" ./cmd/caddy
$GO build -o "$BIN/upstream" ./examples/upstream
$GO build -o "$BIN/reconcile" ./internal/tools/bench/reconcile
$GO build -o "$BIN/memory" ./internal/tools/bench/memory
BIN=$(cd "$BIN" && pwd)

WORK=$(mktemp -d -t sagate-memory.XXXXXX)
chmod 700 "$WORK"
trap 'stop_all; rm -rf "$WORK"' EXIT
trap 'exit 130' INT TERM
export HOME="$WORK/home" XDG_DATA_HOME="$WORK/home/data" XDG_CONFIG_HOME="$WORK/home/config"

# The stores in the cache were signed with this key: it is kept beside them.
CACHE="$BIN/bench-cache"
mkdir -p "$CACHE" && chmod 700 "$CACHE"
SIGNING_KEY="$CACHE/sidecar-memory-signing.key"
[ -f "$SIGNING_KEY" ] || "$BIN/sagate" signing-key generate "$SIGNING_KEY" >/dev/null
SIGNING_PUB=$("$BIN/sagate" signing-key public "$SIGNING_KEY")

API_PORT=$(free_port)
"$BIN/upstream" -quiet -listen "127.0.0.1:$API_PORT" >"$WORK/upstream.log" 2>&1 &
PIDS+=($!)
wait_port "$API_PORT"

max_c=0
for c in "${CACHE_SIZES[@]}"; do [ "$c" -le "$max_c" ] || max_c=$c; done
mkdir -p "$(dirname "$CSV")"
echo "redis_keys,cache_size,keys_sent,redis_used_memory_mb,rss_empty_mb,rss_mb,anon_mb,file_mb,load_avg" >"$CSV"
echo "load avg before: $(cut -d' ' -f1-3 /proc/loadavg)"

for n in "${REDIS_KEYS[@]}"; do
  rport=$(free_port)
  redis-server --port "$rport" --bind 127.0.0.1 --save "" --appendonly no --dir "$WORK" \
    --logfile "$WORK/redis-$n.log" &
  RPID=$!
  PIDS+=($RPID)
  wait_port "$rport"
  redis_url="redis://127.0.0.1:$rport/0"
  kc=$((2 * max_c < n ? 2 * max_c : n))
  db="$CACHE/sidecar-memory-$n.db"
  keys="$CACHE/sidecar-memory-$n-first-$kc.tsv"
  echo "== Redis with $n keys (full reconcile of a store of $n keys)"
  "$BIN/reconcile" -redis "$redis_url" -db "$db" -n "$n" -reuse -signing-key-file "$SIGNING_KEY" \
    -keys-out "$keys" -keys-count "$kc" | grep -v '^TARGET'
  used_mb=$(redis-cli -p "$rport" info memory | awk -F: '/^used_memory:/ {printf "%.1f", $2/1e6}')
  for c in "${CACHE_SIZES[@]}"; do
    [ "$c" -le "$n" ] || continue
    cport=$(free_port); aport=$(free_port)
    printf '{\n\tadmin 127.0.0.1:%s\n\tpersist_config off\n}\nhttp://127.0.0.1:%s {\n\tbind 127.0.0.1\n' "$aport" "$cport" >"$WORK/caddy.Caddyfile"
    printf '\tsagate {\n\t\tredis %s\n\t\tsigning_keys %s\n\t\tworkspace bench\n\t\tcache_size %s\n\t}\n' "$redis_url" "$SIGNING_PUB" "$c" >>"$WORK/caddy.Caddyfile"
    printf '\treverse_proxy 127.0.0.1:%s\n}\n' "$API_PORT" >>"$WORK/caddy.Caddyfile"
    "$BIN/caddy" run --config "$WORK/caddy.Caddyfile" --adapter caddyfile >"$WORK/caddy-$n-$c.log" 2>&1 &
    CPID=$!
    PIDS+=($CPID)
    wait_port "$cport" 30
    for pass in 1 2; do
      [ "$pass" = 1 ] || [ $((2 * c)) -le "$kc" ] || break
      part="$WORK/keys-$pass.tsv"
      sed -n "$(((pass - 1) * c + 1)),$((pass * c))p" "$keys" >"$part"
      out=$("$BIN/memory" -url "http://127.0.0.1:$cport/" -pid "$CPID" -keys "$part" -c 32 | grep '^MEMORY')
      field() { sed -n "s/.* $1=\([0-9.]*\).*/\1/p" <<<"$out"; }
      [ "$pass" = 1 ] && empty=$(field rss_before_mb)
      sent=$((pass * c))
      echo "MEMORY_SCALE redis_keys=$n cache_size=$c keys_sent=$sent redis_used_memory_mb=$used_mb rss_empty_mb=$empty rss_mb=$(field rss_after_mb) anon_mb=$(field anon_after_mb) file_mb=$(field file_after_mb) fill_seconds=$(field fill_seconds) retried_503=$(field retried_503)"
      echo "$n,$c,$sent,$used_mb,$empty,$(field rss_after_mb),$(field anon_after_mb),$(field file_after_mb),$(cut -d' ' -f1 /proc/loadavg)" >>"$CSV"
    done
    stop_pid "$CPID"
  done
  stop_pid "$RPID"
done
echo "load avg after: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "wrote $CSV"
