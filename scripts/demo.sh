#!/usr/bin/env bash
# make demo: builds sagate and a Caddy with the sagate module, starts Redis, the admin,
# a sample API and a Caddy sidecar from Caddyfile.example, and walks through a key's life:
# created, used (200, with the identity headers the API received), revoked, refused (401).
# KEEP=1 leaves everything running for you to play with.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh
scripts/ensure-deps.sh redis curl

BIN=$(mkdir -p "${BIN:-bin}" && cd "${BIN:-bin}" && pwd)
say()  { printf '\n\033[1m== %s\033[0m\n' "$*"; }
show() { printf '\033[36m$ %s\033[0m\n' "$*"; "$@"; }

say "Building bin/sagate, bin/caddy and the sample API"
go build -o "$BIN/sagate" ./cmd/sagate
go build -o "$BIN/caddy" ./cmd/caddy
go build -o "$BIN/upstream" ./examples/upstream
export PATH="$BIN:$PATH"

WORK=$(mktemp -d -t sagate-demo.XXXXXX)
REDIS_PORT=$(free_port); ADMIN_PORT=$(free_port); API_PORT=$(free_port); SIDECAR_PORT=$(free_port)
cleanup() {
  stop_all
  rm -rf "$WORK"
}
if [ "${KEEP:-0}" != 1 ]; then trap cleanup EXIT; else trap 'echo "demo failed; processes left running (KEEP=1)"' ERR; fi

say "Starting Redis on 127.0.0.1:$REDIS_PORT, the admin on :$ADMIN_PORT, the sample API on :$API_PORT"
redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --save "" --appendonly no --dir "$WORK" --logfile "$WORK/redis.log" &
PIDS+=($!)
wait_port "$REDIS_PORT"

export SAGATE_ADMIN_TOKEN="demo-$(head -c 18 /dev/urandom | od -An -tx1 | tr -d ' \n')"
export SAGATE_ADMIN_URL="http://127.0.0.1:$ADMIN_PORT"
export SAGATE_WORKSPACE=ml-team
# The admin signs what it writes to Redis; the sidecar trusts the public key
# (Caddyfile.example reads it from $SAGATE_SIGNING_KEY).
SAGATE_SIGNING_KEY=$(sagate signing-key generate "$WORK/signing.key")
export SAGATE_SIGNING_KEY
sagate serve --listen "127.0.0.1:$ADMIN_PORT" --store "sqlite://$WORK/sagate.db" --signing-key-file "$WORK/signing.key" \
  --redis "redis://127.0.0.1:$REDIS_PORT/0" --usage-fold-interval 1s >"$WORK/admin.log" 2>&1 &
PIDS+=($!)
upstream -listen "127.0.0.1:$API_PORT" >"$WORK/upstream.log" 2>&1 &
PIDS+=($!)
wait_http "$SAGATE_ADMIN_URL/healthz"
wait_port "$API_PORT"

say "Starting the Caddy sidecar on :$SIDECAR_PORT from Caddyfile.example"
CADDY_ADMIN_PORT=$(free_port)
export CADDY_ADMIN="127.0.0.1:$CADDY_ADMIN_PORT" SAGATE_LISTEN=":$SIDECAR_PORT" SAGATE_REDIS_URL="redis://127.0.0.1:$REDIS_PORT/0" SAGATE_UPSTREAM="127.0.0.1:$API_PORT"
caddy run --config Caddyfile.example --adapter caddyfile >"$WORK/caddy.log" 2>&1 &
PIDS+=($!)
wait_port "$SIDECAR_PORT"
wait_http "$SAGATE_ADMIN_URL/readyz"

say "Create a workspace and a service account; its key is shown once"
show sagate workspace create ml-team
show sagate sa create ci-bot --description "nightly CI" --all-projects-role contributor
out=$(sagate key create ci-bot --name demo -o json)
printf '\033[36m$ sagate key create ci-bot --name demo -o json\033[0m\n%s\n' "$out"
KEY=$(printf '%s' "$out" | grep -o 'sak_[0-9A-Za-z]\{49\}' | head -1)
LAST6=${KEY: -6}
[ -n "$KEY" ] || { echo "no key in the answer" >&2; exit 1; }

URL="http://127.0.0.1:$SIDECAR_PORT/models"
say "Call the API through the sidecar with the key: 200, and the API sees who called"
printf '\033[36m$ curl -i -H "Authorization: Bearer $KEY" -H "X-Project: forecasting" %s\033[0m\n' "$URL"
curl -sS -i -H "Authorization: Bearer $KEY" -H "X-Project: forecasting" "$URL" | tee "$WORK/resp"
code=$(head -1 "$WORK/resp" | awk '{print $2}')
[ "$code" = 200 ] || { echo "expected 200, got $code" >&2; cat "$WORK/caddy.log" >&2; exit 1; }

say "A forged identity header is stripped: the API still sees the real caller"
code=$(curl -sS -o "$WORK/body" -w '%{http_code}' -H "Authorization: Bearer $KEY" -H "X-Project: forecasting" \
  -H "X-Service-Account: admin@root" -H "X_Service_Account: admin@root" "$URL")
cat "$WORK/body"
grep -q 'admin@root' "$WORK/body" && { echo "forged identity reached the API" >&2; exit 1; }

say "Without a key: 401"
show curl -sS -w '%{http_code}\n' "$URL"

say "The key list shows when each key was last used (sidecars report it, the admin folds it in)"
sleep 2.5
show sagate key list ci-bot
say "Revoke the key (by its last six characters, $LAST6)"
show sagate key revoke ci-bot "$LAST6"

say "The same request now: 401 invalid_token"
printf '\033[36m$ curl -i -H "Authorization: Bearer $KEY" -H "X-Project: forecasting" %s\033[0m\n' "$URL"
curl -sS -i -H "Authorization: Bearer $KEY" -H "X-Project: forecasting" "$URL" | tee "$WORK/resp"; echo
code=$(head -1 "$WORK/resp" | awk '{print $2}')
[ "$code" = 401 ] || { echo "expected 401 after revocation, got $code" >&2; exit 1; }

show sagate audit
if [ "${KEEP:-0}" = 1 ]; then
  say "Left running (KEEP=1). Try:"
  cat <<TXT
  export SAGATE_ADMIN_URL=$SAGATE_ADMIN_URL SAGATE_ADMIN_TOKEN=$SAGATE_ADMIN_TOKEN SAGATE_WORKSPACE=ml-team PATH=$BIN:\$PATH
  sagate key create ci-bot
  curl -H "Authorization: Bearer <key>" -H "X-Project: forecasting" $URL
  Logs in $WORK. Stop everything with: kill ${PIDS[*]}
TXT
  trap - EXIT
else
  say "Demo finished: everything it started is stopped."
fi
