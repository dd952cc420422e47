#!/usr/bin/env bash
# Side-by-side benchmarks of bpfkit, libbpf (Debian's libbpf-dev) and Aya (crates.io,
# built from benches/aya, its own workspace), same run, alternating.
# Needs root, clang-19, gcc, bpftool, libbpf-dev. Prints raw numbers; not part of the tests.
#   crates/bpfkit/benches/run.sh [ROUNDS]      (NO_AYA=1 skips building Aya;
#   BPFKIT_BENCH=PATH uses that bench binary instead of building one)
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
repo="$here/../../.."
rounds="${1:-10}"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

if [ -n "${BPFKIT_BENCH:-}" ]; then
    bench="$BPFKIT_BENCH"   # a prebuilt bench binary, e.g. an older build for before/after runs
else
    cargo build --release -q -p bpfkit --example bench --manifest-path "$repo/Cargo.toml"
    bench="${CARGO_TARGET_DIR:-$repo/target}/release/examples/bench"
fi
gcc -O2 -o "$work/libbpf_bench" "$here/libbpf_bench.c" -lbpf
aya=""
if [ -z "${NO_AYA:-}" ]; then
    CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$repo/target}/aya" cargo build --release -q --manifest-path "$here/aya/Cargo.toml"
    aya="${CARGO_TARGET_DIR:-$repo/target}/aya/release/aya-bench"
fi
clang-19 -O2 -g -target bpf -I/usr/include/x86_64-linux-gnu -c "$here/maps.bpf.c" -o "$work/maps.bpf.o"
bpftool btf dump file /sys/kernel/btf/vmlinux format c > "$work/vmlinux.h"
clang-19 -O2 -g -target bpf -D__TARGET_ARCH_x86 -I"$work" -c "$here/core_tp.bpf.c" -o "$work/core_tp.bpf.o"
corpus="${BPFKIT_CORPUS:-$repo/../shared/corpus}"

median() { sort -n | awk '{v[NR]=$1} END {print v[int((NR+1)/2)]}'; }

# Wall time of one process in microseconds, or "fail".
run_us() {
    local t0 t1
    t0=$(date +%s%N)
    if "$@" >/dev/null 2>&1; then t1=$(date +%s%N); echo $(( (t1 - t0) / 1000 )); else echo fail; fi
}

# Whole-process wall time (exec -> loaded -> exit), median of $rounds, runs alternating.
time_loads() {
    local label="$1"; shift
    local a=() b=() c=()
    for _ in $(seq "$rounds"); do
        a+=("$(run_us "$bench" load "$@")")
        b+=("$(run_us "$work/libbpf_bench" load "$@")")
        if [ -n "$aya" ]; then c+=("$(run_us "$aya" load "$@")"); fi
    done
    local ma mb mc="n/a"
    ma=$(printf '%s\n' "${a[@]}" | grep -v fail | median)
    mb=$(printf '%s\n' "${b[@]}" | grep -v fail | median)
    if [ -n "$aya" ]; then
        if printf '%s\n' "${c[@]}" | grep -q fail; then mc="fails"; else mc=$(printf '%s\n' "${c[@]}" | median | awk '{printf "%.1f ms", $1/1000}'); fi
    fi
    awk -v l="$label" -v a="$ma" -v b="$mb" -v c="$mc" 'BEGIN { printf "load %-10s bpfkit %.1f ms, libbpf %.1f ms (bpfkit/libbpf %.2f), aya %s\n", l, a/1000, b/1000, a/b, c }'
}

# Peak RSS (KiB) of one load, from GNU time's format if present, else /proc via a wrapper.
peak_rss() {
    /usr/bin/time -f '%M' "$@" 2>&1 >/dev/null | tail -1
}

time_loads core_tp "$work/core_tp.bpf.o"
time_loads execsnoop "$corpus/libbpf-tools/execsnoop.bpf.o"
if [ -x /usr/bin/time ]; then
    echo "peak RSS execsnoop: bpfkit $(peak_rss "$bench" load "$corpus/libbpf-tools/execsnoop.bpf.o") KiB, libbpf $(peak_rss "$work/libbpf_bench" load "$corpus/libbpf-tools/execsnoop.bpf.o") KiB"
fi
for _ in 1 2 3; do
    "$bench" maps 100000
    "$work/libbpf_bench" maps 100000
    if [ -n "$aya" ]; then "$aya" maps "$work/maps.bpf.o" 100000; fi
done
