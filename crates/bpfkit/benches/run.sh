#!/usr/bin/env bash
# Side-by-side benchmarks of bpfkit and libbpf (Debian's libbpf-dev), same run, alternating.
# Needs root, clang-19, gcc, bpftool, libbpf-dev. Prints raw numbers; not part of the tests.
#   crates/bpfkit/benches/run.sh [ROUNDS]
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
repo="$here/../../.."
rounds="${1:-10}"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

cargo build --release -q -p bpfkit --example bench --manifest-path "$repo/Cargo.toml"
bench="${CARGO_TARGET_DIR:-$repo/target}/release/examples/bench"
gcc -O2 -o "$work/libbpf_bench" "$here/libbpf_bench.c" -lbpf
bpftool btf dump file /sys/kernel/btf/vmlinux format c > "$work/vmlinux.h"
clang-19 -O2 -g -target bpf -D__TARGET_ARCH_x86 -I"$work" -c "$here/core_tp.bpf.c" -o "$work/core_tp.bpf.o"
corpus="${BPFKIT_CORPUS:-$repo/../shared/corpus}"

# Whole-process wall time (exec -> loaded -> exit) in ms, median of $rounds, alternating.
time_loads() {
    local label="$1"; shift
    local a=() b=()
    for _ in $(seq "$rounds"); do
        local t0 t1
        t0=$(date +%s%N); "$bench" load "$@" >/dev/null; t1=$(date +%s%N); a+=($(( (t1 - t0) / 1000 )))
        t0=$(date +%s%N); "$work/libbpf_bench" load "$@" >/dev/null; t1=$(date +%s%N); b+=($(( (t1 - t0) / 1000 )))
    done
    local ma mb
    ma=$(printf '%s\n' "${a[@]}" | sort -n | awk '{v[NR]=$1} END {print v[int((NR+1)/2)]}')
    mb=$(printf '%s\n' "${b[@]}" | sort -n | awk '{v[NR]=$1} END {print v[int((NR+1)/2)]}')
    awk -v l="$label" -v a="$ma" -v b="$mb" 'BEGIN { printf "load %-12s bpfkit %.1f ms, libbpf %.1f ms, ratio %.2f\n", l, a/1000, b/1000, a/b }'
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
done
