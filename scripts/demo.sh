#!/usr/bin/env bash
# make demo: builds sagate and a Caddy with the sagate module, starts Redis, the admin,
# a sample API and a Caddy sidecar from Caddyfile.example, and walks through a key's life:
# created, used (200, with the identity headers the API received), a forged identity
# header stripped, revoked, refused (401). Every command it runs is printed as it can be
# pasted into a shell. KEEP=1 leaves everything running for you to play with.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh
scripts/ensure-deps.sh redis curl

BIN=$(mkdir -p "${BIN:-bin}" && cd "${BIN:-bin}" && pwd)
say()  { printf '\n\033[1m== %s\033[0m\n' "$*"; }
# run prints a shell line as it can be pasted, runs it, and prints its output, which
# it also leaves in OUT for the checks that follow.
# It runs in this shell, so that a line like KEY=... sets KEY here as in yours.
run()  { printf '\033[36m$ %s\033[0m\n' "$1"; eval "$1" >"$WORK/out"; OUT=$(cat "$WORK/out"); printf '%s\n' "$OUT"; }
# status is the HTTP status of the response curl -i printed in OUT.
status() { printf '%s\n' "$OUT" | head -1 | awk '{print $2}'; }
# fail says what went wrong, with the sidecar's log, and stops the demo.
fail() { echo "demo: $*" >&2; cat "$WORK/caddy.log" >&2; exit 1; }

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

export SAGATE_ADMIN_TOKEN="demo-$(head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n')"
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

URL="http://127.0.0.1:$SIDECAR_PORT/models"
say "The commands below can be pasted into a shell that has (KEEP=1 keeps the demo running):"
printf '  export PATH="%s:$PATH" SAGATE_ADMIN_URL=%s SAGATE_WORKSPACE=ml-team SAGATE_ADMIN_TOKEN=%s\n' "$BIN" "$SAGATE_ADMIN_URL" "$SAGATE_ADMIN_TOKEN"

say "Create a workspace and a service account; its key is shown once"
run "sagate workspace create ml-team"
run "sagate sa create ci-bot --description 'nightly CI' --all-projects-role contributor"
say "A second key, kept in KEY for the calls below"
run "KEY=\$(sagate key create ci-bot --name demo | grep -o 'sak_[0-9A-Za-z]\\{49\\}'); echo \"\$KEY\""
[ -n "$KEY" ] || fail "no key in the answer"
LAST6=${KEY: -6}

say "Call the API through the sidecar with the key: 200, and the API sees who called"
run "curl -sS -i -H \"Authorization: Bearer \$KEY\" -H 'X-Project: forecasting' $URL"
[ "$(status)" = 200 ] || fail "expected 200, got $(status)"

say "Forged identity headers (also in underscore spelling) are stripped: the API sees the real caller"
run "curl -sS -i -H \"Authorization: Bearer \$KEY\" -H 'X-Project: forecasting' -H 'X-Service-Account: root@ml-team' -H 'X_Service_Account: root@ml-team' -H 'X-Project-Role: owner' $URL"
[ "$(status)" = 200 ] || fail "expected 200 with forged headers, got $(status)"
case "$OUT" in *root@ml-team* | *'"owner"'*) fail "a forged identity reached the API" ;; esac
for want in '"X-Service-Account": "ci-bot@ml-team"' '"X-Project-Role": "contributor"'; do
  case "$OUT" in *"$want"*) ;; *) fail "the API did not get the real identity ($want)" ;; esac
done

say "Without a key: 401"
run "curl -sS -o /dev/null -w '%{http_code}\\n' $URL"
[ "$OUT" = 401 ] || fail "expected 401 without a key, got $OUT"

say "The key list shows when each key was last used (sidecars report it, the admin folds it in)"
sleep 2.5
run "sagate key list ci-bot"
say "Revoke the key (by its last six characters, $LAST6)"
run "sagate key revoke ci-bot $LAST6"

say "The same request now: 401 invalid_token"
run "curl -sS -i -H \"Authorization: Bearer \$KEY\" -H 'X-Project: forecasting' $URL"
[ "$(status)" = 401 ] || fail "expected 401 after revocation, got $(status)"

run "sagate audit"
if [ "${KEEP:-0}" = 1 ]; then
  say "Left running (KEEP=1). Try:"
  cat <<TXT
  export SAGATE_ADMIN_URL=$SAGATE_ADMIN_URL SAGATE_ADMIN_TOKEN=$SAGATE_ADMIN_TOKEN SAGATE_WORKSPACE=ml-team PATH="$BIN:\$PATH"
  KEY=\$(sagate key create ci-bot | grep -o 'sak_[0-9A-Za-z]\{49\}')
  curl -i -H "Authorization: Bearer \$KEY" -H 'X-Project: forecasting' $URL
  Logs in $WORK. Stop everything with: kill ${PIDS[*]}
TXT
  trap - EXIT
else
  say "Demo finished: everything it started is stopped."
fi
