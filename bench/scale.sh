#!/usr/bin/env bash
# Many agents on this machine against one ambari-sim, started by
# `ambari-agent multiplier` (one process per host), every host with three
# components whose status scripts are tiny Python scripts
# (configs/sim/scale-status.json).
#
#   bench/scale.sh [HOSTS] [HOLD_SECONDS]      (default 100 hosts, 60 s)
#
# Prints one "name value unit" line per figure: the time until every host
# registered, heartbeat lateness as ambari-sim saw it during the hold
# (p50/p99 bucket bounds, max), hosts whose three components reported
# STARTED, the agents' total RSS and PSS, the simulator's RSS, and how long
# stopping all took. Every process it started is stopped on exit. Needs
# bin/ (make build), python3, and ports BENCH_PORT_BASE..+2 and
# 5000+BENCH_START .. 5000+BENCH_START+HOSTS-1 free.
#
# Many agents in one process (`multiplier run`) is not built yet; only the
# separate-process mode is measured.
set -euo pipefail
cd "$(dirname "$0")/.."
hosts=${1:-100}
hold=${2:-60}
base=${BENCH_PORT_BASE:-20540}
first=${BENCH_START:-20001}
parallel=${BENCH_PARALLEL:-16}
api=http://127.0.0.1:$((base + 2))/api/v1
work=$(mktemp -d /tmp/ambari-scale.XXXXXX)
tpl=$work/template
root=$work/homes
sim=

cleanup() {
  trap - EXIT INT TERM
  bin/ambari-agent multiplier stop --home "$tpl" --home-root "$root" --no-etc-hosts --parallel 32 >/dev/null 2>&1 || true
  # Whatever a stop cut short: the agents this run started, by pid file.
  for pf in "$root"/*/var/run/ambari-agent/ambari-agent.pid; do
    [ -f "$pf" ] && kill -KILL "$(cat "$pf")" 2>/dev/null || true
  done
  if [ -n "$sim" ]; then kill "$sim" 2>/dev/null || true; wait "$sim" 2>/dev/null || true; fi
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

metric() { curl -sf "$api/metrics" | python3 -c "import json,sys; m=json.load(sys.stdin); print($1)"; }

t0=$(date +%s%N)
bin/ambari-agent multiplier start --home "$tpl" --home-root "$root" --no-etc-hosts --parallel "$parallel" >"$work/start.log" 2>&1 || {
  tail -20 "$work/start.log"; exit 1; }
t1=$(date +%s%N)
echo "hosts $hosts"
echo "multiplier_start $(( (t1 - t0) / 1000000 )) ms"
deadline=$(( $(date +%s) + 300 ))
while [ "$(metric 'm["registeredHosts"]')" -lt "$hosts" ]; do
  if [ "$(date +%s)" -gt "$deadline" ]; then echo "registered $(metric 'm["registeredHosts"]') of $hosts after 300 s"; exit 1; fi
  sleep 0.5
done
t2=$(date +%s%N)
echo "all_registered $(( (t2 - t0) / 1000000 )) ms"

curl -sf "$api/metrics" > "$work/m0.json"
sleep "$hold"
curl -sf "$api/metrics" > "$work/m1.json"
python3 - "$work/m0.json" "$work/m1.json" <<'PY'
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
curl -sf "$api/hosts" | python3 -c '
import json, sys
hosts = json.load(sys.stdin)
hosts = hosts.get("hosts", hosts) if isinstance(hosts, dict) else hosts
ok = sum(1 for h in hosts if sum(1 for s in (h.get("componentStatus") or {}).values() if (s.get("status") if isinstance(s, dict) else s) == "STARTED") == 3)
print("hosts_with_3_started %d" % ok)'

rss=0 pss=0 n=0
for pf in "$root"/*/var/run/ambari-agent/ambari-agent.pid; do
  pid=$(cat "$pf" 2>/dev/null) || continue
  [ -r /proc/$pid/smaps_rollup ] || continue
  read -r r p < <(awk '/^Rss:/{r=$2} /^Pss:/{p=$2} END{print r+0, p+0}' /proc/$pid/smaps_rollup 2>/dev/null || echo 0 0)
  rss=$((rss + r)); pss=$((pss + p)); n=$((n + 1))
done
echo "agents_running $n"
echo "agents_rss_total $((rss / 1024)) MB"
echo "agents_pss_total $((pss / 1024)) MB"
[ "$n" -eq 0 ] || echo "agent_pss_mean $((pss / n)) kB"
echo "sim_rss $(awk '/^VmRSS/{print int($2/1024)}' /proc/$sim/status) MB"

t3=$(date +%s%N)
bin/ambari-agent multiplier stop --home "$tpl" --home-root "$root" --no-etc-hosts --parallel 32 >"$work/stop.log" 2>&1 || tail -5 "$work/stop.log"
t4=$(date +%s%N)
echo "multiplier_stop $(( (t4 - t3) / 1000000 )) ms"
