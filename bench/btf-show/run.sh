#!/usr/bin/env bash
# Benchmark: `bpfkit btf show BTF <100 struct names>` (release build, whole process) against
# libbpf_show.c (Debian's libbpf-dev) in both lookups: btf__parse + btf__find_by_name (the
# issue's baseline, "libbpf") and btf__parse + btf__find_by_name_kind ("libbpf-kind").
# Prints hyperfine's table and the ratios bpfkit / libbpf, also from alternating runs.
# Usage: bench/btf-show/run.sh [BTF_FILE]   (default /sys/kernel/btf/vmlinux)
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
btf="${1:-/sys/kernel/btf/vmlinux}"
target="${CARGO_TARGET_DIR:-$repo/target}"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

cc -O2 -o "$work/libbpf_show" "$here/libbpf_show.c" $(pkg-config --cflags --libs libbpf)
(cd "$repo" && cargo build -q --release -p bpfkit-cli)
bpfkit="$target/release/bpfkit"

# 100 struct names spread over the whole id range (named, unique, deterministic per kernel).
bpftool btf dump file "$btf" | sed -n "s/^\[[0-9]*\] STRUCT '\([A-Za-z_][A-Za-z0-9_]*\)'.*/\1/p" \
    | sort -u | awk '{ a[NR] = $0 } END { step = int(NR / 100); for (i = 1; i <= 100; i++) print a[i * step] }' \
    > "$work/names"
names="$(tr '\n' ' ' < "$work/names")"
[ "$(wc -l < "$work/names")" -eq 100 ]

# All must succeed and find the same struct ids (by_name: when the first type of a name is
# not the struct, libbpf prints OTHER and the comparison fails loudly).
"$bpfkit" btf show "$btf" $names | grep '^\[[0-9]*\] STRUCT ' | sed 's/ .*//' | sort > "$work/ids.bpfkit"
for lookup in name name_kind; do
    "$work/libbpf_show" "$lookup" "$btf" $names | grep '^\[[0-9]*\] STRUCT ' | sed 's/ .*//' \
        | sort > "$work/ids.libbpf"
    if ! cmp -s "$work/ids.libbpf" "$work/ids.bpfkit"; then
        echo "libbpf (btf__find_by_$lookup) and bpfkit found different struct ids" >&2
        exit 1
    fi
done

hyperfine -N --warmup 3 --runs "${RUNS:-50}" --export-json "$work/result.json" \
    -n libbpf "$work/libbpf_show name $btf $names" \
    -n libbpf-kind "$work/libbpf_show name_kind $btf $names" \
    -n bpfkit "$bpfkit btf show $btf $names"

# hyperfine runs one command's batch after the other; on a shared machine the load can
# change between batches, so also alternate the two, one run each, and compare medians of
# wall time and of CPU time (user + sys, from wait4).
python3 - "$work/result.json" "$work/libbpf_show" "$bpfkit" "$btf" "$work/names" "${PAIRS:-100}" <<'PY'
import json, os, statistics, subprocess, sys, time
res, libbpf, bpfkit, btf, names_file, pairs = sys.argv[1:7]
r = {x["command"]: x for x in json.load(open(res))["results"]}
ours = r["bpfkit"]["mean"]
for k in ("libbpf", "libbpf-kind"):
    lib = r[k]["mean"]
    print(f"hyperfine: {k} mean {lib*1e3:.2f} ms, bpfkit mean {ours*1e3:.2f} ms, "
          f"ratio bpfkit/{k} = {ours/lib:.2f}x (goal <= 0.50x)")
names = open(names_file).read().split()
cmds = {
    "libbpf": [libbpf, "name", btf] + names,
    "libbpf-kind": [libbpf, "name_kind", btf] + names,
    "bpfkit": [bpfkit, "btf", "show", btf] + names,
}
wall = {k: [] for k in cmds}
cpu = {k: [] for k in cmds}
devnull = open(os.devnull, "w")
for _ in range(int(pairs)):
    for k, argv in cmds.items():
        t0 = time.perf_counter()
        p = subprocess.Popen(argv, stdout=devnull)
        _, status, ru = os.wait4(p.pid, 0)
        wall[k].append(time.perf_counter() - t0)
        cpu[k].append(ru.ru_utime + ru.ru_stime)
        assert status == 0, f"{k} failed"
for what, d in (("wall", wall), ("cpu", cpu)):
    b = statistics.median(d["bpfkit"])
    for k in ("libbpf", "libbpf-kind"):
        l = statistics.median(d[k])
        print(f"alternating x{pairs}, median {what}: {k} {l*1e3:.2f} ms, "
              f"bpfkit {b*1e3:.2f} ms, ratio {b/l:.2f}x")
PY
