#!/usr/bin/env bash
# Installs what sagate's tests, demo and benchmarks need on a fresh Debian machine,
# and only what is missing. Usage: scripts/ensure-deps.sh [redis] [postgres] [wrk] [curl] [valgrind] [chromium] [node] [systemd] [hosts]
set -euo pipefail
want=("$@")
[ ${#want[@]} -gt 0 ] || want=(redis)
missing=()
for w in "${want[@]}"; do
  case "$w" in
    redis) command -v redis-server >/dev/null 2>&1 || missing+=(redis-server) ;;
    wrk) command -v wrk >/dev/null 2>&1 || missing+=(wrk) ;;
    curl) command -v curl >/dev/null 2>&1 || missing+=(curl) ;;
    valgrind) command -v callgrind_control >/dev/null 2>&1 || missing+=(valgrind) ;;
    postgres) ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || missing+=(postgresql) ;;
    # the console's browser test (e2e/console_browser_test.go) drives it headless
    chromium) command -v chromium >/dev/null 2>&1 || missing+=(chromium) ;;
    # the Node.js assertion verifier (examples/verifyassertion, run with jose by a test)
    node) command -v npm >/dev/null 2>&1 || missing+=(nodejs npm) ;;
    # systemd-analyze verify checks the walkthrough's unit files (e2e/walkthrough_files_test.go)
    systemd) command -v systemd-analyze >/dev/null 2>&1 || missing+=(systemd) ;;
    # the test across hosts (e2e/hosts_test.go, make test-hosts): namespaces, probes, an upstream
    hosts) command -v ip >/dev/null 2>&1 || missing+=(iproute2)
           command -v socat >/dev/null 2>&1 || missing+=(socat)
           command -v python3 >/dev/null 2>&1 || missing+=(python3) ;;
    *) echo "ensure-deps: unknown dependency $w" >&2; exit 2 ;;
  esac
done
command -v go >/dev/null 2>&1 || { echo "ensure-deps: Go is required (go.mod names the version)" >&2; exit 1; }
if [ ${#missing[@]} -gt 0 ]; then
  echo "ensure-deps: installing ${missing[*]}"
  SUDO=; [ "$(id -u)" -eq 0 ] || SUDO=sudo
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${missing[@]}"
fi
