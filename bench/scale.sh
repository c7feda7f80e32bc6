#!/usr/bin/env bash
# Many agents on this machine against one ambari-sim, started by
# `ambari-agent multiplier` (one process per host), every host with three
# components whose status scripts are tiny Python scripts
# (configs/sim/scale-status.json).
#
#   bench/scale.sh [HOSTS] [HOLD_SECONDS] [MODE]   (default 100 hosts, 60 s)
#
# MODE "start" (the default) runs one agent process per host
# (`multiplier start`); "run" runs every host as an agent of one process
# (`multiplier run`).
#
# Prints one "name value unit" line per figure: the time until every host
# registered, heartbeat lateness as ambari-sim saw it during the hold
# (p50/p99 bucket bounds, max), hosts whose three components reported
# STARTED, the agents' total RSS and PSS (and their resident Python
# runners' apart), the simulator's RSS, and how long stopping all took.
# With BENCH_PPROF=DIR, run mode also saves a 20 s CPU profile taken during
# the hold and a heap profile to DIR. Every process it started is stopped
# on exit. Needs bin/ (make build), python3, and ports BENCH_PORT_BASE..+3
# and 5000+BENCH_START .. 5000+BENCH_START+HOSTS-1 free.
set -euo pipefail
cd "$(dirname "$0")/.."
hosts=${1:-100}
hold=${2:-60}
mode=${3:-start}
case $mode in start|run) ;; *) echo "MODE is start or run, not $mode" >&2; exit 2;; esac
base=${BENCH_PORT_BASE:-20540}
first=${BENCH_START:-20001}
parallel=${BENCH_PARALLEL:-16}
api=http://127.0.0.1:$((base + 2))/api/v1
work=$(mktemp -d /tmp/ambari-scale.XXXXXX)
tpl=$work/template
root=$work/homes
sim=
many=

cleanup() {
  trap - EXIT INT TERM
  if [ -n "$many" ]; then
    kill -TERM "$many" 2>/dev/null || true
    for _ in $(seq 150); do kill -0 "$many" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$many" 2>/dev/null || true
  fi
  bin/ambari-agent multiplier stop --home "$tpl" --home-root "$root" --no-etc-hosts --parallel 32 >/dev/null 2>&1 || true
  # Whatever a stop cut short: the agents this run started, by pid file.
  for pf in "$root"/*/var/run/ambari-agent/ambari-agent.pid; do
    [ -f "$pf" ] && kill -KILL "$(cat "$pf")" 2>/dev/null || true
  done
  if [ -n "$sim" ]; then kill "$sim" 2>/dev/null || true; wait "$sim" 2>/dev/null || true; fi
  if [ -n "${BENCH_PPROF:-}" ] && [ -f "$root/ambari-agent-multiplier.log" ]; then
    cp "$root/ambari-agent-multiplier.log" "$BENCH_PPROF/multiplier-$hosts.log"
  fi
  rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 143' INT TERM

bin/ambari-sim --quiet --scenario configs/sim/scale-status.json --url-port $base \
  --secured-url-port $((base + 1)) --api-port $((base + 2)) >"$work/sim.log" 2>&1 &
sim=$!
for _ in $(seq 100); do curl -sf "$api/status" >/dev/null && break; sleep 0.1; done

# The interpreter itself, not a wrapper (a pyenv shim costs a shell or
# two per status check).
py=$(python3 -c 'import sys; print(sys.executable)')
mkdir -p "$tpl/etc/ambari-agent/conf"
sed -e "s/^hostname=localhost$/hostname=127.0.0.1/" \
    -e "s/^url_port=.*/url_port=$base/" -e "s/^secured_url_port=.*/secured_url_port=$((base + 1))/" \
    -e "s#^;executable=.*#executable=$py#" \
    configs/ambari-agent.ini > "$tpl/etc/ambari-agent/conf/ambari-agent.ini"
mkdir -p "$tpl/var/lib/ambari-agent/data" && echo 2.7.8.0.0 > "$tpl/var/lib/ambari-agent/data/version"
printf 'start=%d\nnum=%d\nprefix=scale\n' "$first" "$hosts" > "$tpl/etc/ambari-agent/conf/agent-multiplier.conf"

metric() { curl -sf "$api/metrics" | "$py" -c "import json,sys; m=json.load(sys.stdin); print($1)"; }

http=$((base + 3))
t0=$(date +%s%N)
if [ "$mode" = run ]; then
  # Bounded like every run: at most the hold plus ten minutes.
  timeout -s TERM $((hold + 600)) bin/ambari-agent multiplier run --home "$tpl" --home-root "$root" --no-etc-hosts \
    --parallel "$parallel" --http-port "$http" >"$work/start.log" 2>&1 &
  many=$!
  echo "hosts $hosts (one process)"
else
  bin/ambari-agent multiplier start --home "$tpl" --home-root "$root" --no-etc-hosts --parallel "$parallel" >"$work/start.log" 2>&1 || {
    tail -20 "$work/start.log"; exit 1; }
  t1=$(date +%s%N)
  echo "hosts $hosts (one process each)"
  echo "multiplier_start $(( (t1 - t0) / 1000000 )) ms"
fi
deadline=$(( $(date +%s) + 300 ))
while [ "$(metric 'm["registeredHosts"]')" -lt "$hosts" ]; do
  if [ "$(date +%s)" -gt "$deadline" ]; then
    echo "registered $(metric 'm["registeredHosts"]') of $hosts after 300 s"
    [ -z "$many" ] || echo "agent_process_rss $(awk '/^VmRSS/{print int($2/1024)}' /proc/$(pgrep -P "$many")/status) MB"
    exit 1
  fi
  sleep 0.2
done
t2=$(date +%s%N)
echo "all_registered $(( (t2 - t0) / 1000000 )) ms"

curl -sf "$api/metrics" > "$work/m0.json"
if [ "$mode" = run ] && [ -n "${BENCH_PPROF:-}" ] && [ "$hold" -ge 25 ]; then
  mkdir -p "$BENCH_PPROF"
  curl -sf -o "$BENCH_PPROF/cpu-$hosts.pprof" "http://127.0.0.1:$http/debug/pprof/profile?seconds=20"
  sleep $((hold - 20))
  curl -sf -o "$BENCH_PPROF/heap-$hosts.pprof" "http://127.0.0.1:$http/debug/pprof/heap"
  echo "pprof $BENCH_PPROF/cpu-$hosts.pprof $BENCH_PPROF/heap-$hosts.pprof"
else
  sleep "$hold"
fi
curl -sf "$api/metrics" > "$work/m1.json"
"$py" - "$work/m0.json" "$work/m1.json" <<'PY'
import json, sys
a, b = (json.load(open(p))["heartbeatLateness"] for p in sys.argv[1:3])
counts = [y - x for x, y in zip(a["counts"], b["counts"])]
total, bounds = sum(counts), b["boundsMs"]
def q(f):
    cum = 0
    for i, c in enumerate(counts):
        cum += c
        if total and cum >= f * total:
            return bounds[i] if i < len(bounds) else float("inf")
    return 0
print("hold_heartbeats %d" % total)
print("heartbeat_late_p50_le %g ms" % q(0.5))
print("heartbeat_late_p99_le %g ms" % q(0.99))
print("heartbeat_late_max_since_start %g ms" % b["maxMs"])
PY
curl -sf "$api/hosts" | "$py" -c '
import json, sys
hosts = json.load(sys.stdin)
hosts = hosts.get("hosts", hosts) if isinstance(hosts, dict) else hosts
ok = sum(1 for h in hosts if sum(1 for s in (h.get("componentStatus") or {}).values() if (s.get("status") if isinstance(s, dict) else s) == "STARTED") == 3)
print("hosts_with_3_started %d" % ok)'

# RSS and PSS of the agent processes, and apart those of their resident
# Python runners (children running the runner script; its forked scripts
# come and go).
rss=0 pss=0 n=0 prss=0 ppss=0 pn=0
if [ "$mode" = run ]; then
  pids=$(pgrep -P "$many" || true) # under timeout
  for pid in $pids; do echo "agent_process_peak_rss $(awk '/^VmHWM/{print int($2/1024)}' /proc/$pid/status) MB"; done
else
  pids=$(for pf in "$root"/*/var/run/ambari-agent/ambari-agent.pid; do cat "$pf" 2>/dev/null && echo; done)
fi
mem() { awk '/^Rss:/{r=$2} /^Pss:/{p=$2} END{print r+0, p+0}' /proc/$1/smaps_rollup 2>/dev/null || echo 0 0; }
for pid in $pids; do
  [ -r /proc/$pid/smaps_rollup ] || continue
  read -r r p < <(mem "$pid")
  rss=$((rss + r)); pss=$((pss + p)); n=$((n + 1))
  for c in $(pgrep -P "$pid" -f ambari_agent_pyrunner || true); do
    read -r r p < <(mem "$c")
    prss=$((prss + r)); ppss=$((ppss + p)); pn=$((pn + 1))
  done
done
echo "agent_processes $n"
echo "agents_rss_total $((rss / 1024)) MB"
echo "agents_pss_total $((pss / 1024)) MB"
[ "$n" -eq 0 ] || echo "agent_process_pss_mean $((pss / n)) kB"
echo "agents_pss_per_host $((pss / hosts)) kB"
echo "python_runners $pn"
echo "python_runners_rss_total $((prss / 1024)) MB"
echo "python_runners_pss_total $((ppss / 1024)) MB"
echo "sim_rss $(awk '/^VmRSS/{print int($2/1024)}' /proc/$sim/status) MB"

t3=$(date +%s%N)
if [ "$mode" = run ]; then
  restarts=$(curl -sf "http://127.0.0.1:$http/hosts" | "$py" -c 'import json,sys; print(sum(h["restarts"] for h in json.load(sys.stdin)))')
  echo "host_restarts $restarts"
  kill -TERM "$many"
  wait "$many" || true
  many=
else
  bin/ambari-agent multiplier stop --home "$tpl" --home-root "$root" --no-etc-hosts --parallel 32 >"$work/stop.log" 2>&1 || tail -5 "$work/stop.log"
fi
t4=$(date +%s%N)
echo "multiplier_stop $(( (t4 - t3) / 1000000 )) ms"
