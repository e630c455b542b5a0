# Shared shell helpers for demo.sh, bench.sh and soak.sh. Source it; it defines functions only.

# free_port prints a TCP port on 127.0.0.1 that nothing listens on (best effort). It draws
# from 20000-32767, below Linux's ephemeral range (32768-60999), so that a port it hands
# out is not taken meanwhile by some outgoing connection.
free_port() {
  local p
  for _ in $(seq 1 200); do
    p=$(( 20000 + RANDOM % 12768 ))
    if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then
      echo "$p"; return 0
    fi
  done
  echo "no free port found" >&2; return 1
}

# wait_http URL [seconds]: waits until URL answers any HTTP status.
wait_http() {
  local url=$1 secs=${2:-20} i
  for i in $(seq 1 $((secs * 10))); do
    if curl -s -o /dev/null "$url"; then return 0; fi
    sleep 0.1
  done
  echo "timed out waiting for $url" >&2; return 1
}

# wait_port PORT [seconds]: waits until something listens on 127.0.0.1:PORT.
wait_port() {
  local port=$1 secs=${2:-20} i
  for i in $(seq 1 $((secs * 10))); do
    if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then return 0; fi
    sleep 0.1
  done
  echo "timed out waiting for port $port" >&2; return 1
}

# PIDS holds what we started; stop_all stops them and waits, leaving nothing behind.
PIDS=()
stop_all() {
  local p
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${PIDS[@]}"; do reap "$p"; done
  PIDS=()
}

# reap PID: waits up to 5 s for a signalled child to exit, then kills it, and reaps it.
# Before the reaping the PID is still ours, so the KILL cannot reach another process.
reap() {
  for _ in $(seq 1 50); do kill -0 "$1" 2>/dev/null || break; sleep 0.1; done
  kill -9 "$1" 2>/dev/null || true
  wait "$1" 2>/dev/null || true
}

# stop_pid PID [SIGNAL]: stops one process that PIDS holds (SIGNAL, TERM by default, then
# KILL after 5 s), reaps it and forgets it, so that stop_all never signals its PID again
# (once reaped, the PID may belong to another process).
stop_pid() {
  local p=$1 i
  kill "-${2:-TERM}" "$p" 2>/dev/null || true
  reap "$p"
  for i in "${!PIDS[@]}"; do
    if [ "${PIDS[$i]}" = "$p" ]; then unset 'PIDS[i]'; fi
  done
}
