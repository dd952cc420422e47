#!/bin/sh
# Builds seed inputs for every fuzz target from the corpus of third-party BPF objects:
#   corpus/elf      whole objects
#   corpus/btf      their .BTF sections
#   corpus/btf_ext  their .BTF.ext sections
#   corpus/insn     their executable sections
#   corpus/core     (local BTF, target BTF, CO-RE records, instructions) per program
#                   section with CO-RE records, in the layout bpfkit_fuzz_targets::core reads
# and for the other parsers from the repository and this machine:
#   corpus/trace_lang      the bpftrace programs of bpfkit trace's tests
#   corpus/tracefs_format  tracefs format files of a few events (needs root and tracefs)
#   corpus/proc_maps       /proc/self/maps and /proc/1/maps
#   corpus/ld_so_cache     /etc/ld.so.cache
#   corpus/usdt_notes      testdata/c/userspace/usdt_target built with cc, and argument specs
# The seeds go into fuzz/work/seeds/; `scripts/fuzz --minimize` reduces them (with what the
# fuzzers found) into the committed fuzz/corpus/.
# Usage: fuzz/make-seeds.sh [corpus-dir]   (default: ../shared/corpus beside the repo)
set -eu
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/.." && pwd)
corpus=${1:-${BPFKIT_CORPUS:-$here/../../shared/corpus}}
out=$here/work/seeds
mkdir -p "$out"
for t in trace_lang tracefs_format proc_maps ld_so_cache usdt_notes; do mkdir -p "$out/$t"; done

# bpfkit trace: every raw-string program of its tests.
python3 - "$repo" "$out/trace_lang" <<'PY'
import hashlib, os, re, sys
repo, dst = sys.argv[1], sys.argv[2]
n = 0
for f in ("crates/bpfkit-cli/tests/trace_conformance.rs", "crates/bpfkit-trace/tests/no_panics.rs",
          "crates/bpfkit-cli/tests/trace_cli.rs"):
    path = os.path.join(repo, f)
    if not os.path.exists(path):
        continue
    for prog in re.findall(r'r#"(.*?)"#', open(path).read(), re.S):
        if "{" in prog:
            name = hashlib.sha1(prog.encode()).hexdigest()[:16]
            open(os.path.join(dst, name), "w").write(prog)
            n += 1
print(f"trace_lang: {n} programs")
PY
# tracefs format files (root only).
tracefs=/sys/kernel/tracing/events
for ev in syscalls/sys_enter_openat syscalls/sys_exit_openat syscalls/sys_enter_execve \
          sched/sched_switch sched/sched_process_exec sched/sched_process_exit \
          net/netif_receive_skb irq/irq_handler_entry block/block_rq_issue \
          signal/signal_generate raw_syscalls/sys_enter task/task_rename; do
    [ -r "$tracefs/$ev/format" ] && cp "$tracefs/$ev/format" "$out/tracefs_format/$(echo "$ev" | tr / _)"
done
cp /proc/self/maps "$out/proc_maps/self"
cp /proc/1/maps "$out/proc_maps/init" 2>/dev/null || true
cp /etc/ld.so.cache "$out/ld_so_cache/host" 2>/dev/null || true
if cc -O1 -I"$repo/testdata/c/userspace" -I"$repo/testdata/c/include" \
      -o "$out/usdt_notes/usdt_target" "$repo/testdata/c/userspace/usdt_target.c"; then
    strip "$out/usdt_notes/usdt_target"
fi
printf '%s' '-4@%eax 8@-8(%rbp) -4@$5 8@%rdi 4@(%rsi) -2@16(%r12)' > "$out/usdt_notes/args"

exec python3 - "$corpus" "$out" <<'PY'
import os, struct, sys

src, out = sys.argv[1], sys.argv[2]
for t in ("elf", "btf", "btf_ext", "insn", "core"):
    os.makedirs(os.path.join(out, t), exist_ok=True)

def sections(data):
    """(name, flags, bytes) of each section of a little-endian ELF64 file."""
    if data[:4] != b"\x7fELF" or data[4] != 2 or data[5] != 1:
        return []
    shoff, = struct.unpack_from("<Q", data, 0x28)
    shentsize, shnum, shstrndx = struct.unpack_from("<HHH", data, 0x3a)
    hdrs = [struct.unpack_from("<IIQQQQIIQQ", data, shoff + i * shentsize) for i in range(shnum)]
    stroff = hdrs[shstrndx][4]
    result = []
    for name, typ, flags, _addr, off, size, *_ in hdrs:
        end = data.index(b"\0", stroff + name)
        body = b"" if typ == 8 else data[off:off + size]  # SHT_NOBITS
        result.append((data[stroff + name:end].decode(), flags, body))
    return result

def btf_string(btf, off):
    hdr_len, _to, _tl, str_off, _sl = struct.unpack_from("<IIIII", btf, 4)
    start = hdr_len + str_off + off
    return btf[start:btf.index(b"\0", start)].decode()

def core_relos(btf, ext):
    """{section name: [16-byte records]} from .BTF.ext's core_relo block."""
    hdr_len, = struct.unpack_from("<I", ext, 4)
    if hdr_len < 32:
        return {}
    off, length = struct.unpack_from("<II", ext, 24)
    if length == 0:
        return {}
    start = hdr_len + off
    rec_size, = struct.unpack_from("<I", ext, start)
    at, end, found = start + 4, start + length, {}
    while at < end:
        name_off, num = struct.unpack_from("<II", ext, at)
        recs = [ext[at + 8 + i * rec_size:at + 8 + i * rec_size + 16] for i in range(num)]
        found[btf_string(btf, name_off)] = recs
        at += 8 + num * rec_size
    return found

count = 0
for root, _dirs, files in os.walk(src):
    for f in sorted(files):
        if not (f.endswith(".o") or f.endswith(".elf")):
            continue
        data = open(os.path.join(root, f), "rb").read()
        secs = sections(data)
        if not secs:
            continue
        stem = f.replace(".", "_")
        open(os.path.join(out, "elf", stem), "wb").write(data)
        by_name = {n: b for n, _fl, b in secs}
        for name, flags, body in secs:
            if flags & 0x4 and body:  # SHF_EXECINSTR
                safe = name.replace("/", "_").replace(".", "_")
                open(os.path.join(out, "insn", f"{stem}-{safe}"), "wb").write(body)
        btf, ext = by_name.get(".BTF"), by_name.get(".BTF.ext")
        if btf:
            open(os.path.join(out, "btf", stem), "wb").write(btf)
        if ext:
            open(os.path.join(out, "btf_ext", stem), "wb").write(ext)
        if btf and ext and len(btf) < 200_000:
            for sec, recs in core_relos(btf, ext).items():
                insns = by_name.get(sec, b"")
                seed = struct.pack("<II", len(btf), len(btf)) + btf + btf
                seed += struct.pack("<H", len(recs)) + b"".join(recs) + insns
                safe = sec.replace("/", "_").replace(".", "_")
                open(os.path.join(out, "core", f"{stem}-{safe}"), "wb").write(seed)
        count += 1
print(f"seeds from {count} objects in {out}:",
      {t: len(os.listdir(os.path.join(out, t))) for t in sorted(os.listdir(out))})
PY
