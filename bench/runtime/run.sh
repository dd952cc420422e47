#!/usr/bin/env bash
# Runtime benchmarks, bpfkit vs libbpf (Debian's libbpf-dev, C) vs Aya (crates.io), same run:
#   1. exec -> loaded -> exit of a small CO-RE tracepoint object and of the corpus'
#      execsnoop.bpf.o (hyperfine -N, the three loaders interleaved round by round);
#   2. peak RSS of each loader process for both objects (GNU time's %M);
#   3. hash update/lookup/delete and batch update/lookup of N elements (rounds alternate).
# The programs are those of crates/bpfkit/benches (examples/bench.rs, libbpf_bench.c, the
# Aya crate benches/aya with its own [workspace]) so there is one implementation of each side.
# Needs root, clang-19, gcc, bpftool, libbpf-dev, hyperfine. Not a test: prints raw numbers.
#   bench/runtime/run.sh [ROUNDS] [N]        (NO_AYA=1 skips Aya)
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

echo "== kernel $(uname -r), $(nproc) CPUs, $(date -u +%FT%TZ)"
for obj in "$work/core_tp.bpf.o" "$execsnoop"; do
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

echo "== maps: hash u32->u64, n=$n (times per whole pass; ${MAP_ROUNDS:-7} rounds, order rotated)"
for r in $(seq "${MAP_ROUNDS:-7}"); do
    order=(bpfkit libbpf aya)
    [ $((r % 3)) -eq 1 ] && order=(libbpf aya bpfkit)
    [ $((r % 3)) -eq 2 ] && order=(aya bpfkit libbpf)
    for who in "${order[@]}"; do
        # GNU time adds the process' CPU time: on a shared machine wall time includes
        # waiting for a CPU, CPU time does not.
        case "$who" in
            bpfkit) /usr/bin/time -f "bpfkit  cpu %U+%S s" "$bpfkit" maps "$n" 2>&1 ;;
            libbpf) /usr/bin/time -f "libbpf  cpu %U+%S s" "$libbpf" maps "$n" 2>&1 ;;
            aya) [ -n "$aya" ] && /usr/bin/time -f "aya     cpu %U+%S s" "$aya" maps "$work/maps.bpf.o" "$n" 2>&1 ;;
        esac
    done
done | tee "$work/maps.txt"
python3 - "$work/maps.txt" <<'PY'
import re, statistics, sys
d = {}
for line in open(sys.argv[1]):
    who = line.split()[0]
    for k, v in re.findall(r'(update|lookup|delete|update_batch|lookup_batch\(1024\)) ([\d.]+) ms', line):
        d.setdefault((who, k), []).append(float(v))
print("== maps medians (libbpf time / bpfkit time: >= 1.0 means bpfkit is as fast or faster)")
for k in ["update", "lookup", "delete", "update_batch", "lookup_batch(1024)"]:
    b, l = statistics.median(d[("bpfkit", k)]), statistics.median(d[("libbpf", k)])
    a = d.get(("aya", k))
    aya = f", aya {statistics.median(a):6.1f} ms" if a else ""
    print(f"  {k:19} bpfkit {b:6.1f} ms, libbpf {l:6.1f} ms{aya}  (libbpf/bpfkit {l / b:.2f})")
cpu = {}
for line in open(sys.argv[1]):
    m = re.match(r'(\w+)\s+cpu ([\d.]+)\+([\d.]+) s', line)
    if m:
        cpu.setdefault(m.group(1), []).append(float(m.group(2)) + float(m.group(3)))
print("  whole-run CPU time (user+sys) medians: " + ", ".join(f"{w} {statistics.median(v):.2f} s" for w, v in cpu.items()))
PY
