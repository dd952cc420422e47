#!/usr/bin/env bash
# Ring/perf buffer drain benchmarks: bpfkit, libbpf (Debian's libbpf-dev, through
# testdata/oracle/libbpf_bench.c) and Aya (crates.io aya 0.13, ./aya, its own workspace), in
# one run, rounds alternating; then the perf buffer stream rate with sampled wake-ups
# (bpfkit vs ./libbpf_stream.c). Needs root, clang-19, gcc, libbpf-dev. Not part of the tests.
#   bench/readers/run.sh [ROUNDS]        (NO_AYA=1 skips building Aya)
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
target="${CARGO_TARGET_DIR:-$here/../../target}"
rounds="${1:-10}"
CARGO_TARGET_DIR="$target/readers-bench" cargo build --release -q --manifest-path "$here/bpfkit/Cargo.toml"
if [ -z "${NO_AYA:-}" ]; then
    CARGO_TARGET_DIR="$target/readers-bench-aya" cargo build --release -q --manifest-path "$here/aya/Cargo.toml"
    export AYA_BENCH="$target/readers-bench-aya/release/aya-readers-bench"
fi
gcc -O2 -Wall -o "$target/readers-bench/libbpf_stream" "$here/libbpf_stream.c" -lbpf -lpthread
export LIBBPF_STREAM="$target/readers-bench/libbpf_stream"
exec "$target/readers-bench/release/bpfkit-readers-bench" "$rounds"
