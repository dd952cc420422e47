#!/usr/bin/env python3
"""Generate crates/bpfkit/src/sys/uapi.rs from the kernel UAPI header <linux/bpf.h>.

The header is the copy vendored in gen/include/linux/ (gen/include/PROVENANCE says where it came
from); only <linux/types.h> comes from the system (Debian: linux-libc-dev). Needs clang
(default `clang-19`, override with $CLANG). It reads clang's JSON AST of
<linux/bpf.h>, emits `#[repr(C)]` Rust types for the records bpfkit uses, every enum
constant and every integer `#define` of the BPF headers, then compiles and runs a small C
program to record the C sizes and offsets, which become compile-time assertions in the
Rust output. Usage, from crates/bpfkit:
`python3 gen/gen_uapi.py > src/sys/uapi.rs && rustfmt --edition 2021 src/sys/uapi.rs`.
The test `uapi_generated` (tests/uapi_generated.rs) re-runs it and compares.
"""
import json
import os
import re
import subprocess
import sys
import tempfile

CLANG = os.environ.get("CLANG", "clang-19")
HERE = os.path.dirname(os.path.abspath(__file__))
# The vendored header first, so it wins over the system's <linux/bpf.h>.
INCLUDE = ["-I" + os.path.join(HERE, "include")] + (
    ["-I/usr/include/x86_64-linux-gnu"] if os.path.isdir("/usr/include/x86_64-linux-gnu") else [])
# First line of gen/include/PROVENANCE: where the vendored header was taken from.
with open(os.path.join(HERE, "include", "PROVENANCE")) as _f:
    SOURCE = _f.readline().strip()

# Records emitted, in this order (dependencies first).
RECORDS = [
    "bpf_insn", "bpf_attr", "bpf_prog_info", "bpf_map_info", "bpf_btf_info", "bpf_link_info",
    "bpf_func_info", "bpf_line_info", "bpf_devmap_val", "bpf_cpumap_val",
    "bpf_perf_event_value", "bpf_stack_build_id", "bpf_cgroup_storage_key",
    "bpf_lpm_trie_key_hdr", "bpf_iter_link_info",
]
# Names for the anonymous structs of `union bpf_attr`, keyed by their first field (the
# header names them only in comments: "anonymous struct used by BPF_MAP_CREATE command").
ATTR_ANON = {
    "map_type": "map_create", "map_fd": "map_elem", "prog_type": "prog_load",
    "pathname": "obj", "btf": "btf_load",
}
# Those whose first member is itself an anonymous union, keyed by a field that only they hold.
ATTR_ANON_BY_FIELD = {"attach_bpf_fd": "prog_attach", "query_flags": "query", "start_id": "get_id"}
HEADER_FILES = ("linux/bpf.h", "linux/bpf_common.h")

PRIMS = {
    "unsigned char": "u8", "char": "u8", "signed char": "i8", "unsigned short": "u16",
    "short": "i16", "unsigned int": "u32", "int": "i32", "unsigned long long": "u64",
    "long long": "i64", "unsigned long": "u64", "long": "i64",
    "__u8": "u8", "__s8": "i8", "__u16": "u16", "__s16": "i16", "__u32": "u32", "__s32": "i32",
    "__u64": "u64", "__s64": "i64", "__be16": "u16", "__be32": "u32", "__aligned_u64": "u64",
}


def run(cmd, **kw):
    p = subprocess.run(cmd, capture_output=True, text=True, **kw)
    if p.returncode != 0:
        raise SystemExit(f"{cmd[0]} failed: {p.stderr[:2000]}")
    return p.stdout


def ast():
    with tempfile.NamedTemporaryFile("w", suffix=".c", delete=False) as f:
        f.write("#include <linux/bpf.h>\n")
        path = f.name
    try:
        return json.loads(run([CLANG, *INCLUDE, "-Xclang", "-ast-dump=json", "-fsyntax-only", path]))
    finally:
        os.unlink(path)


class Gen:
    def __init__(self, tree):
        self.top = {}
        for n in tree["inner"]:
            if n.get("kind") == "RecordDecl" and n.get("completeDefinition") and n.get("name"):
                self.top[n["name"]] = n
        self.tree = tree
        self.out = []  # emitted type definitions (text)
        self.layout = []  # (rust_type, c_type_expr, [(rust_field, c_field)])

    def rust_type(self, qual, desugared):
        m = re.match(r"^(.*)\[(\d+)\]$", qual)
        if m:
            d = re.match(r"^(.*)\[(\d+)\]$", desugared or qual)
            inner = self.rust_type(m.group(1).strip(), d.group(1).strip() if d else None)
            return f"[{inner}; {m.group(2)}]"
        base = (desugared or qual).replace("const ", "").strip()
        if base.startswith("enum "):
            return "u32"
        if base.startswith("struct ") or base.startswith("union "):
            name = base.split()[1]
            if name in RECORDS:
                return name
            raise SystemExit(f"unsupported record type {base}")
        if base in PRIMS:
            return PRIMS[base]
        raise SystemExit(f"unsupported type {qual} / {desugared}")

    def record(self, node, rust_name, c_expr):
        """Emit one record (and its anonymous members first); return its Rust name."""
        kind = node["tagUsed"]
        fields = []  # (name, rust type, doc)
        anon_count = 0
        pending = None  # last anonymous record seen
        bitfields = []  # (name, width) of the current bitfield group
        bit_type = None
        bit_count = 0
        c_fields = []

        def flush_bits():
            nonlocal bitfields, bit_type, bit_count
            if bitfields:
                bit_count += 1
                doc = ", ".join(f"{n or '(padding)'}:{w}" for n, w in bitfields)
                fields.append((f"bitfield_{bit_count}", bit_type, f"Bitfield storage: {doc} (low bits first)."))
                bitfields, bit_type = [], None

        for child in node.get("inner", []):
            k = child["kind"]
            if k == "RecordDecl" and child.get("completeDefinition"):
                pending = child
                continue
            if k != "FieldDecl":
                continue
            qual = child["type"]["qualType"]
            desugared = child["type"].get("desugaredQualType")
            if child.get("isBitfield"):
                width = int(child["inner"][0]["value"])
                bitfields.append((child.get("name"), width))
                bit_type = self.rust_type(qual, desugared)
                continue
            flush_bits()
            if "(anonymous" in qual or "(unnamed" in qual:
                sub = pending
                pending = None
                alias = aliases(self, sub) if not child.get("name") else None
                if alias:
                    # An anonymous union of same-typed scalars (`prog_fd` / `map_fd`): one
                    # field named by the first, the others in its doc.
                    (first, ty), rest = alias[0], [n for n, _ in alias[1:]]
                    fields.append((first, ty, f"`{first}` (same storage as {', '.join(f'`{n}`' for n in rest)})."))
                    c_fields.append((first, first))
                    continue
                name = child.get("name")
                if not name:
                    anon_count += 1
                    name = f"anon_{anon_count}"
                    if rust_name == "bpf_attr":
                        first = [c.get("name") for c in sub.get("inner", []) if c["kind"] == "FieldDecl"]
                        if first and first[0]:
                            name = ATTR_ANON.get(first[0], name)
                        else:
                            held = field_names(sub)
                            name = next((v for k, v in ATTR_ANON_BY_FIELD.items() if k in held), name)
                sub_rust = f"{rust_name}__{name}"
                lvalue = (c_expr if c_expr.startswith("(*") else f"(*({c_expr}*)0)") if c_expr else None
                sub_c = f"{lvalue}.{name}" if child.get("name") and c_expr else None
                self.record(sub, sub_rust, sub_c)
                fields.append((name, sub_rust, None))
                if child.get("name"):
                    c_fields.append((name, name))
                continue
            name = child["name"]
            ty = self.rust_type(qual, desugared)
            fname = name + "_" if name in ("type", "match", "ref", "fn", "mod", "use", "in") else name
            fields.append((fname, ty, None))
            c_fields.append((fname, name))
        flush_bits()

        lines = []
        kw = "union" if kind == "union" else "struct"
        src = f"{kind} {node['name']}" if node.get("name") else f"anonymous {kind} in {rust_name.split('__')[0]}"
        lines.append(f"/// `{src}` from the kernel UAPI.")
        lines.append("#[repr(C)]")
        lines.append("#[derive(Clone, Copy)]")
        lines.append(f"pub {kw} {rust_name} {{")
        for name, ty, doc in fields:
            lines.append(f"    /// {doc}" if doc else f"    /// `{name.rstrip('_')}`.")
            lines.append(f"    pub {name}: {ty},")
        lines.append("}")
        lines.append("")
        lines.append(f"// SAFETY: `{rust_name}` is plain C data (integers, arrays and records of them); the")
        lines.append("// all-zero bit pattern is a valid value, as the kernel's zero-initialised attrs rely on.")
        lines.append(f"unsafe impl Zeroable for {rust_name} {{}}")
        lines.append("")
        self.out.append("\n".join(lines))
        if c_expr:
            self.layout.append((rust_name, c_expr, c_fields if kind == "struct" else []))
        return rust_name

    def run(self):
        for name in RECORDS:
            node = self.top[name]
            self.record(node, name, f"{node['tagUsed']} {name}")


def aliases(gen, node):
    """[(name, rust type)] of an anonymous union whose members are all scalars of one type."""
    if node.get("tagUsed") != "union":
        return None
    out = []
    for child in node.get("inner", []):
        if child["kind"] == "RecordDecl":
            return None
        if child["kind"] != "FieldDecl":
            continue
        if not child.get("name") or child.get("isBitfield"):
            return None
        ty = gen.rust_type(child["type"]["qualType"], child["type"].get("desugaredQualType"))
        if ty not in PRIMS.values():
            return None
        out.append((child["name"], ty))
    if len(out) < 2 or len({t for _, t in out}) != 1:
        return None
    return out


def field_names(node):
    """Every named field of a record, its anonymous members' included."""
    out = set()
    for child in node.get("inner", []):
        if child["kind"] == "FieldDecl" and child.get("name"):
            out.add(child["name"])
        elif child["kind"] == "RecordDecl":
            out |= field_names(child)
    return out


def first_constant(node):
    """The value of the first `ConstantExpr` under an enum constant (its initializer)."""
    for child in node.get("inner", []):
        if child["kind"] == "ConstantExpr":
            return int(child["value"])
        found = first_constant(child)
        if found is not None:
            return found
    return None


def enum_constants(tree):
    out = []
    for n in tree["inner"]:
        if n.get("kind") != "EnumDecl":
            continue
        f = n.get("loc", {}).get("file") or ""
        value = -1
        for c in n.get("inner", []):
            if c["kind"] != "EnumConstantDecl":
                continue
            init = first_constant(c)
            value = init if init is not None else value + 1
            out.append((c["name"], value, n.get("name")))
    return out


def define_constants():
    with tempfile.NamedTemporaryFile("w", suffix=".c", delete=False) as f:
        f.write("#include <linux/bpf.h>\n")
        path = f.name
    try:
        text = run([CLANG, *INCLUDE, "-E", "-dD", path])
    finally:
        os.unlink(path)
    current = ""
    out = {}
    for line in text.splitlines():
        m = re.match(r'^# \d+ "([^"]+)"', line)
        if m:
            current = m.group(1)
            continue
        if not any(current.endswith(h) for h in HEADER_FILES):
            continue
        m = re.match(r"^#define (BPF_\w+|MAX_BPF_\w+|XDP_\w+)\s+(.+)$", line)
        if not m:
            continue
        expr = re.sub(r"/\*.*?\*/", "", m.group(2)).strip()
        expr = re.sub(r"(?<=[0-9a-fA-F])(ULL|UL|U|LL|L)\b", "", expr)
        if not re.fullmatch(r"[0-9xXa-fA-F()<>|~+\- ]+", expr):
            continue
        try:
            out[m.group(1)] = eval(expr)
        except Exception:
            continue
    return out


def const_type(v):
    if v < 0:
        return "i32" if v >= -(2**31) else "i64"
    return "u32" if v < 2**32 else "u64"


def measure(layout):
    src = ["#include <stdio.h>", "#include <stddef.h>", "#include <linux/bpf.h>", "int main(void) {"]
    for rust, c, fields in layout:
        if c.startswith("(*"):
            src.append(f'printf("%zu\\n", sizeof({c}));')
        else:
            src.append(f'printf("%zu\\n", sizeof({c}));')
            for _rf, cf in fields:
                src.append(f'printf("%zu\\n", offsetof({c}, {cf}));')
    src.append("return 0; }")
    with tempfile.TemporaryDirectory() as d:
        with open(os.path.join(d, "m.c"), "w") as f:
            f.write("\n".join(src))
        run([CLANG, *INCLUDE, "-o", os.path.join(d, "m"), os.path.join(d, "m.c")])
        nums = [int(x) for x in run([os.path.join(d, "m")]).split()]
    asserts = []
    it = iter(nums)
    for rust, c, fields in layout:
        asserts.append(f"const _: () = assert!(core::mem::size_of::<{rust}>() == {next(it)});")
        if not c.startswith("(*"):
            for rf, _cf in fields:
                asserts.append(f"const _: () = assert!(core::mem::offset_of!({rust}, {rf}) == {next(it)});")
    return asserts


def main():
    tree = ast()
    g = Gen(tree)
    g.run()
    enums = enum_constants(tree)
    defines = define_constants()
    print(f"// @generated by crates/bpfkit/gen/gen_uapi.py from gen/include/linux/bpf.h ({SOURCE}).")
    print("// Do not edit by hand.")
    print("//! Kernel UAPI of bpf(2): `union bpf_attr`, the `bpf_*_info` records and constants.")
    print("#![allow(non_camel_case_types, non_upper_case_globals, missing_docs, dead_code)]")
    print()
    print("/// Marker for UAPI records whose all-zero bit pattern is a valid value.")
    print("///")
    print("/// # Safety")
    print("/// Implement only for `#[repr(C)]` plain data without references, pointers or niches.")
    print("pub unsafe trait Zeroable: Copy {}")
    print()
    for text in g.out:
        print(text)
    print("// Layout of the C compiler for the same header; a mismatch fails the build.")
    for a in measure(g.layout):
        print(a)
    print()
    seen = set()
    for name, value, enum in enums:
        if name in seen:
            continue
        seen.add(name)
        print(f"pub const {name}: {const_type(value)} = {value};")
    for name, value in sorted(defines.items()):
        if name in seen:
            continue
        seen.add(name)
        print(f"pub const {name}: {const_type(value)} = {value};")


if __name__ == "__main__":
    sys.exit(main())
