#!/usr/bin/env bash
# Runs one agent against ambari-sim with the demo scenario and the demo
# stack, in a temporary --home, on loopback. Ctrl-C stops both.
#
# Environment: DEMO_HOME (keep the agent home there instead of a temporary
# directory), DEMO_PORT_BASE (default 18440: url_port, +1 secured_url_port,
# +2 the simulator's API and resources port, +3 the agent's ping port, +4
# the agent's /healthz, /metrics and /debug/pprof/ on 127.0.0.1).
set -euo pipefail
cd "$(dirname "$0")/.."

BIN=${BIN:-bin}
base=${DEMO_PORT_BASE:-18440}
url_port=$base secured_port=$((base + 1)) api_port=$((base + 2)) ping_port=$((base + 3)) http_port=$((base + 4))

if [ -n "${DEMO_HOME:-}" ]; then
  home=$DEMO_HOME
  mkdir -p "$home"
else
  home=$(mktemp -d /tmp/ambari-agent-demo.XXXXXX)
fi
home=$(cd "$home" && pwd)

conf="$home/etc/ambari-agent/conf"
mkdir -p "$conf" "$home/var/lib/ambari-agent/data"
sed -e "s/^hostname=localhost$/hostname=127.0.0.1/" \
    -e "s/^url_port=.*/url_port=$url_port/" \
    -e "s/^secured_url_port=.*/secured_url_port=$secured_port/" \
    -e "s/^ping_port=.*/ping_port=$ping_port/" \
    -e "s/^http_port=.*/http_port=$http_port/" \
    -e "s/^max_reconnect_retry_delay=.*/max_reconnect_retry_delay=5/" \
    -e "s/^connect_retry_delay=.*/connect_retry_delay=1/" \
    configs/ambari-agent.ini > "$conf/ambari-agent.ini"
# The demo stack is plain Python; no Ambari libraries are needed.
printf '\n[python]\nlib_dirs=%s\n' "$home/usr/lib/ambari-agent/lib" >> "$conf/ambari-agent.ini"

pids=()
cleanup() {
  trap - INT TERM EXIT
  echo
  echo "== stopping"
  for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  # Components the agent started outlive it by design (as Hadoop daemons
  # outlive an agent restart); the demo cleans up after itself.
  for f in $(find "$home" -name '*.pid' -path '*demo-stack*' 2>/dev/null); do
    kill "$(cat "$f")" 2>/dev/null || true
  done
  echo "== agent home kept at $home (log: $home/var/log/ambari-agent/ambari-agent.log)"
}
trap cleanup INT TERM EXIT

echo "== ambari-sim on 127.0.0.1:$url_port (https), :$secured_port (wss), :$api_port (control API + /resources)"
"$BIN/ambari-sim" --scenario configs/sim/demo.json --resources testdata/resources \
  --listen 127.0.0.1 --url-port "$url_port" --secured-url-port "$secured_port" --api-port "$api_port" \
  > >(sed -u 's/^/[sim]   /') 2>&1 &
pids+=($!)

echo "== ambari-agent run --home $home"
"$BIN/ambari-agent" run --home "$home" > >(sed -u 's/^/[agent] /') 2>&1 &
pids+=($!)

# The agent's own log, as it happens.
log="$home/var/log/ambari-agent/ambari-agent.log"
for _ in $(seq 50); do [ -f "$log" ] && break; sleep 0.1; done
tail -n +1 -F "$log" 2>/dev/null > >(sed -u 's/^/[agent] /') &
pids+=($!)

echo "== Ctrl-C to stop. Try: curl -s http://127.0.0.1:$api_port/api/hosts"
echo "==   the agent:     curl -s http://127.0.0.1:$http_port/healthz   (and /metrics, /debug/pprof/)"
echo "==   the simulator: curl -s http://127.0.0.1:$api_port/metrics"
wait
