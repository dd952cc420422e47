#!/usr/bin/env bash
# Overhead of syscount on a loop of 10^6 getppid calls: no tracer, ours, libbpf-tools'
# (Debian's libbpf-tools), each counting system-wide per syscall (and with latency, -L).
# CPU time (user + system, where the BPF programs run) of the loop, best of RUNS runs,
# in ms; tracers alternate over ROUNDS rounds so load from other processes hits all alike.
# Needs root, cc and a release build:
#   cargo build --release -p syscount && tools/bench/overhead.sh
set -euo pipefail
cd "$(dirname "$0")/../.."
RUNS=${RUNS:-5}
ROUNDS=${ROUNDS:-3}
N=${N:-1000000}
OURS=${OURS:-target/release/syscount}
THEIRS=${THEIRS:-/usr/sbin/syscount}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cc -O2 -o "$tmp/workload" tools/syscount/syscount/tests/workload.c

best_ms() {
    local best=
    for _ in $(seq "$RUNS"); do
        local cpu ms
        cpu=$( { TIMEFORMAT='%3U %3S'; time "$tmp/workload" "$N" 0; } 2>&1 )
        ms=$(awk '{ printf "%d", ($1 + $2) * 1000 }' <<< "$cpu")
        if [ -z "$best" ] || [ "$ms" -lt "$best" ]; then best=$ms; fi
    done
    echo "$best"
}

# Runs a tracer in the background until the measurement is done.
with_tracer() {
    local name=$1; shift
    "$@" > "$tmp/$name.out" 2>&1 &
    local pid=$!
    sleep 2 # attach
    local ms
    ms=$(best_ms)
    kill -INT "$pid"
    wait "$pid" || true
    echo "$ms"
}

declare -A best
keep() { if [ -z "${best[$1]:-}" ] || [ "$2" -lt "${best[$1]}" ]; then best[$1]=$2; fi; }
for _ in $(seq "$ROUNDS"); do
    keep none "$(best_ms)"
    keep ours "$(with_tracer ours "$OURS" --top 1)"
    keep theirs "$(with_tracer theirs "$THEIRS" -T 1)"
    keep ours-L "$(with_tracer ours-l "$OURS" --latency --top 1)"
    keep theirs-L "$(with_tracer theirs-l "$THEIRS" -L -T 1)"
done
echo "getppid x $N: CPU ms, best of $RUNS runs x $ROUNDS rounds (load: $(cut -d' ' -f1 /proc/loadavg))"
echo "no tracer:                 ${best[none]}"
echo "ours (syscount):           ${best[ours]}"
echo "libbpf-tools syscount:     ${best[theirs]}"
echo "ours --latency:            ${best[ours-L]}"
echo "libbpf-tools syscount -L:  ${best[theirs-L]}"
