#!/usr/bin/env bash
# Stack scripts in fresh interpreters against the resident Python runner,
# on this machine, in one run:
#   * CPU per status check, CPU and wall time per cycle of 100 components,
#     time from a command's arrival to its before-hook's and its script's
#     first line (go test -bench BenchmarkResident, internal/orchestrator);
#   * idle memory of one registered agent plus its runner (RSS, Pss and
#     private memory from /proc/PID/smaps_rollup).
#
#   bench/resident.sh                 # the stand-in library, testdata/stacklib
#   BENCH_PYTHON_LIB=/path/to/ambari-common/src/main/python bench/resident.sh
#
# BENCH_PYTHON selects the interpreter (the real library needs the distro
# module).
#
# The real library is the Apache Ambari source tree's
# ambari-common/src/main/python (not part of this repository).
# Needs bin/ (make build) for the memory part; BENCH_MEMORY_ONLY=1 skips
# the rest.
#
# Measured with the real library on a 2-core VM under heavy load (load
# average 50-60), resident status checks, medians of 3 paired runs:
# 0.100 CPU-s per check with a shepherd process per script, 0.087 with the
# script forked as the agent's own child (script 0.075, runner 0.008,
# agent 0.004). What remains is page faults: a check's child writes about
# 1,400 pages it shares with the runner (copy-on-write; obmalloc arenas,
# the C heap, the interpreter's static objects), a bare fork and exit of
# the warm runner costs about 260 faults, and each fault costs 20-25 us on
# this VM (shadow paging; about 1-2 us on bare metal or an EPT guest).
set -euo pipefail
cd "$(dirname "$0")/.."
lib=${BENCH_PYTHON_LIB:-$PWD/testdata/stacklib}
py=${BENCH_PYTHON:-$(command -v python3)}

if [ -z "${BENCH_MEMORY_ONLY:-}" ]; then
  go test -run '^$' -bench BenchmarkResident -benchtime 1x ./internal/orchestrator/ | grep -E '^Benchmark|^ok|FAIL'
fi

base=${BENCH_PORT_BASE:-20540}
work=$(mktemp -d /tmp/ambari-bench.XXXXXX)
home=$work/home
trap 'bin/ambari-agent stop --home "$home" >/dev/null 2>&1 || true; kill $sim 2>/dev/null || true; wait 2>/dev/null || true; rm -rf "$work"' EXIT
bin/ambari-sim --quiet --url-port $base --secured-url-port $((base + 1)) --api-port $((base + 2)) &
sim=$!
mkdir -p "$home/etc/ambari-agent/conf"
sed -e "s/^hostname=localhost$/hostname=127.0.0.1/" \
    -e "s/^url_port=.*/url_port=$base/" -e "s/^secured_url_port=.*/secured_url_port=$((base + 1))/" \
    -e "s/^ping_port=.*/ping_port=$((base + 3))/" \
    -e "s#^;lib_dirs=.*#lib_dirs=$lib#" -e "s#^;executable=.*#executable=$py#" \
    configs/ambari-agent.ini > "$home/etc/ambari-agent/conf/ambari-agent.ini"
bin/ambari-agent start --home "$home" >/dev/null
pid=$(cat "$home/var/run/ambari-agent/ambari-agent.pid")
for _ in $(seq 100); do
  curl -sf "http://127.0.0.1:$((base + 2))/api/v1/hosts" | grep -q '"registered":true' && break
  sleep 0.1
done
runner=""
for _ in $(seq 300); do
  runner=$(for c in $(cat /proc/$pid/task/*/children 2>/dev/null); do
    grep -qa ambari_agent_pyrunner_ /proc/$c/cmdline 2>/dev/null && echo $c; done | head -1)
  [ -n "$runner" ] && grep -q "Python runner started" "$home/var/log/ambari-agent/ambari-agent.log" && break
  sleep 0.1
done
sleep 5
mem() { # name pid
  awk -v n="$1" '/^(Rss|Pss|Private_Clean|Private_Dirty):/ {v[$1]=$2}
    END {printf "%s rss %d kB, pss %d kB, private %d kB\n", n, v["Rss:"], v["Pss:"], v["Private_Clean:"] + v["Private_Dirty:"]}' \
    /proc/"$2"/smaps_rollup
}
mem agent "$pid"
if [ -n "$runner" ]; then mem runner "$runner"; else echo "runner not running"; fi
