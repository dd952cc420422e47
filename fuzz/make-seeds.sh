#!/bin/sh
# Builds seed inputs for every fuzz target from the corpus of third-party BPF objects:
#   corpus/elf      whole objects
#   corpus/btf      their .BTF sections
#   corpus/btf_ext  their .BTF.ext sections
#   corpus/insn     their executable sections
#   corpus/core     (local BTF, target BTF, CO-RE records, instructions) per program
#                   section with CO-RE records, in the layout fuzz_targets/core.rs reads
# Usage: fuzz/make-seeds.sh [corpus-dir]   (default: ../shared/corpus beside the repo)
set -eu
here=$(cd "$(dirname "$0")" && pwd)
corpus=${1:-${BPFKIT_CORPUS:-$here/../../shared/corpus}}
exec python3 - "$corpus" "$here/corpus" <<'PY'
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
