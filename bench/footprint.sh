#!/usr/bin/env bash
# Footprint of one agent: binary size, `start` to pid file, memory and CPU
# once registered and idle, against ambari-sim on loopback.
#
#   bench/footprint.sh [IDLE_SECONDS]
#
# Prints one "name value unit" line per figure. Needs bin/ (make build).
set -euo pipefail
cd "$(dirname "$0")/.."
idle=${1:-60}
base=${BENCH_PORT_BASE:-20440}
work=$(mktemp -d /tmp/ambari-bench.XXXXXX)
home=$work/home
trap 'bin/ambari-agent stop --home "$home" >/dev/null 2>&1 || true; kill $sim 2>/dev/null || true; wait 2>/dev/null || true; rm -rf "$work"' EXIT

bin/ambari-sim --quiet --url-port $base --secured-url-port $((base + 1)) --api-port $((base + 2)) &
sim=$!

mkdir -p "$home/etc/ambari-agent/conf"
sed -e "s/^hostname=localhost$/hostname=127.0.0.1/" \
    -e "s/^url_port=.*/url_port=$base/" -e "s/^secured_url_port=.*/secured_url_port=$((base + 1))/" \
    -e "s/^ping_port=.*/ping_port=$((base + 3))/" \
    configs/ambari-agent.ini > "$home/etc/ambari-agent/conf/ambari-agent.ini"

echo "binary_size $(stat -c %s bin/ambari-agent) bytes"

# start -> pid file: `start` returns once the daemon wrote it.
total=0 runs=10
for _ in $(seq $runs); do
  t0=$(date +%s%N)
  bin/ambari-agent start --home "$home" >/dev/null
  t1=$(date +%s%N)
  total=$((total + t1 - t0))
  bin/ambari-agent stop --home "$home" >/dev/null
done
echo "start_to_pidfile_mean $((total / runs / 1000)) us"

bin/ambari-agent start --home "$home" >/dev/null
pid=$(cat "$home/var/run/ambari-agent/ambari-agent.pid")
for _ in $(seq 100); do
  curl -sf "http://127.0.0.1:$((base + 2))/api/v1/hosts" | grep -q '"registered":true' && break
  sleep 0.1
done
sleep 2
ticks=$(getconf CLK_TCK)
read -r u0 s0 < <(awk '{print $14, $15}' /proc/$pid/stat)
sleep "$idle"
read -r u1 s1 < <(awk '{print $14, $15}' /proc/$pid/stat)
grep -E '^(VmRSS|RssAnon|RssFile|Threads)' /proc/$pid/status | awk '{print tolower($1), $2, $3}' | tr -d ':'
cpu_ms=$(( (u1 + s1 - u0 - s0) * 1000 / ticks ))
echo "idle_cpu ${cpu_ms} ms over ${idle} s"
