#!/usr/bin/env bash
# Runtime benchmarks, bpfkit vs libbpf (Debian's libbpf-dev, C) vs Aya (crates.io), same run:
#   1. exec -> loaded -> exit of a small CO-RE tracepoint object and of the corpus'
#      execsnoop.bpf.o (hyperfine -N, the three loaders interleaved round by round);
#   2. peak RSS of each loader process for both objects (GNU time's %M);
#   3. hash update/lookup/delete and batch update/lookup of N u32->u64 elements: the same
#      work on every side (looked-up values kept; batch lookup into preallocated, pre-faulted
#      buffers of all N elements, 1024 per syscall), CPU time (user+sys, getrusage around
#      each phase) medians over MAP_ROUNDS rounds in rotated order;
#   4. user-space instructions per operation (valgrind callgrind, --toggle-collect on each
#      phase's bench_* function; deterministic, the kernel part is the same syscall).
# The programs are those of crates/bpfkit/benches (examples/bench.rs, libbpf_bench.c, the
# Aya crate benches/aya with its own [workspace]) so there is one implementation of each side.
# Needs root, clang-19, gcc, bpftool, libbpf-dev, hyperfine. Not a test: prints raw numbers.
#   bench/runtime/run.sh [ROUNDS] [N]        (NO_AYA=1 skips Aya, MAPS_ONLY=1 skips 1-2,
#                                             CG_N=elements under callgrind, default 10000)
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
benches="$repo/crates/bpfkit/benches"
rounds="${1:-3}"
n="${2:-100000}"
target="${CARGO_TARGET_DIR:-$repo/target}"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

cargo build --release -q -p bpfkit --example bench --manifest-path "$repo/Cargo.toml"
bpfkit="$target/release/examples/bench"
gcc -O2 -o "$work/libbpf_bench" "$benches/libbpf_bench.c" -lbpf
libbpf="$work/libbpf_bench"
aya=""
if [ -z "${NO_AYA:-}" ]; then
    CARGO_TARGET_DIR="$target/aya" cargo build --release -q --manifest-path "$benches/aya/Cargo.toml"
    aya="$target/aya/release/aya-bench"
fi
bpftool btf dump file /sys/kernel/btf/vmlinux format c > "$work/vmlinux.h"
clang-19 -O2 -g -target bpf -D__TARGET_ARCH_x86 -I"$work" -c "$benches/core_tp.bpf.c" -o "$work/core_tp.bpf.o"
clang-19 -O2 -g -target bpf -I/usr/include/x86_64-linux-gnu -c "$benches/maps.bpf.c" -o "$work/maps.bpf.o"
corpus="${BPFKIT_CORPUS:-$repo/../shared/corpus}"
execsnoop="$corpus/libbpf-tools/execsnoop.bpf.o"

echo "== kernel $(uname -r), $(nproc) CPUs, $(date -u +%FT%TZ), load $(cut -d' ' -f1-3 /proc/loadavg)"
objs=("$work/core_tp.bpf.o" "$execsnoop")
[ -n "${MAPS_ONLY:-}" ] && objs=()
for obj in "${objs[@]}"; do
    echo "== exec->loaded: $(basename "$obj")"
    cmds=()
    for who in bpfkit libbpf aya; do
        bin="${!who}"
        [ -z "$bin" ] && continue
        if err=$("$bin" load "$obj" 2>&1 >/dev/null); then
            cmds+=("$bin load $obj")
        else
            echo "  $who cannot load it: $err"
        fi
    done
    for r in $(seq "$rounds"); do
        hyperfine -N -w 5 -r 30 --style basic --export-json "$work/h.json" "${cmds[@]}" >/dev/null
        python3 - "$work/h.json" "$r" <<'PY'
import json, sys
res = json.load(open(sys.argv[1]))["results"]
base = next(x for x in res if "libbpf_bench" in x["command"])["median"]
for x in res:
    who = "bpfkit" if "/examples/bench" in x["command"] else "libbpf" if "libbpf_bench" in x["command"] else "aya"
    print(f"  round {sys.argv[2]} {who:6} median {x['median']*1e3:6.2f} ms  mean {x['mean']*1e3:6.2f} ± {x['stddev']*1e3:4.2f} ms  ({x['median']/base:.2f}x libbpf)")
PY
    done
    for who in bpfkit libbpf aya; do
        bin="${!who}"
        [ -z "$bin" ] && continue
        if rss=$(/usr/bin/time -f '%M' "$bin" load "$obj" 2>&1 >/dev/null); then
            echo "  peak RSS $who: $(tail -1 <<<"$rss") KiB"
        else
            echo "  peak RSS $who: n/a (load fails)"
        fi
    done
done

echo "== maps: hash u32->u64, n=$n, CPU time (user+sys) of each phase; ${MAP_ROUNDS:-7} rounds, order rotated"
for r in $(seq "${MAP_ROUNDS:-7}"); do
    order=(bpfkit libbpf aya)
    [ $((r % 3)) -eq 1 ] && order=(libbpf aya bpfkit)
    [ $((r % 3)) -eq 2 ] && order=(aya bpfkit libbpf)
    for who in "${order[@]}"; do
        case "$who" in
            bpfkit) "$bpfkit" maps "$n" ;;
            libbpf) "$libbpf" maps "$n" ;;
            aya) if [ -n "$aya" ]; then "$aya" maps "$work/maps.bpf.o" "$n"; fi ;;
        esac
    done
done | tee "$work/maps.txt"
python3 - "$work/maps.txt" "$n" <<'PY'
import re, statistics, sys
n = int(sys.argv[2])
d = {}
for line in open(sys.argv[1]):
    who = line.split()[0]
    for k, v in re.findall(r'(update|lookup|delete|update_batch|lookup_batch\(1024\)) ([\d.]+) ms', line):
        d.setdefault((who, k), []).append(float(v))
print("== maps CPU-time medians (libbpf / bpfkit: >= 1.0 means bpfkit uses as little CPU or less)")
for k in ["update", "lookup", "delete", "update_batch", "lookup_batch(1024)"]:
    b, l = statistics.median(d[("bpfkit", k)]), statistics.median(d[("libbpf", k)])
    a = d.get(("aya", k))
    aya = f", aya {statistics.median(a):6.1f} ms" if a else ""
    print(f"  {k:19} bpfkit {b:6.1f} ms ({b * 1e6 / n:5.0f} ns/elem), libbpf {l:6.1f} ms ({l * 1e6 / n:5.0f} ns/elem){aya}  (libbpf/bpfkit {l / b:.2f})")
PY

if command -v valgrind >/dev/null; then
    cg_n="${CG_N:-10000}"
    echo "== maps: user-space instructions (callgrind), n=$cg_n: per element (total for the phase)"
    # Instructions callgrind collected inside the function matching $2 while running "$@".
    instr() {
        local pat="$1"; shift
        valgrind --tool=callgrind --callgrind-out-file="$work/cg.out" --toggle-collect="$pat" "$@" >/dev/null 2>&1 \
            && awk '/^summary:/ {print $2}' "$work/cg.out" || echo fail
    }
    for phase in update lookup delete update_batch lookup_batch; do
        line="  $(printf '%-13s' "$phase")"
        for who in bpfkit libbpf aya; do
            case "$who" in
                bpfkit) i=$(instr "*bench::bench_$phase" "$bpfkit" maps "$cg_n") ;;
                libbpf) i=$(instr "bench_$phase" "$libbpf" maps "$cg_n") ;;
                aya) [ -z "$aya" ] || [[ "$phase" == *batch ]] && continue
                     i=$(instr "*aya_bench::bench_$phase" "$aya" maps "$work/maps.bpf.o" "$cg_n") ;;
            esac
            line+=$(awk -v w="$who" -v i="$i" -v n="$cg_n" 'BEGIN { if (i == "fail") printf "  %s fail", w; else printf "  %s %7.1f (%d)", w, i / n, i }')
        done
        echo "$line"
    done
fi
