//! bpfkit-gen on the running kernel's BTF: the 300 most-referenced structs and unions plus
//! the syscall and sched tracepoint records compile for the host in both flavours, with an
//! assertion for every type's size and every named member's offset (checked here against
//! the BTF independently of the generator, and by rustc's const evaluation); all of
//! vmlinux generates into one file.

mod common;

use std::collections::HashMap;
use std::time::Instant;

use bpfkit_gen::{Flavour, Generator};
use bpfkit_obj::btf::{Btf, Type};

const VMLINUX: &str = "/sys/kernel/btf/vmlinux";

/// Tracepoint records every test generates besides the most-referenced types.
const RECORDS: [&str; 5] = [
    "trace_event_raw_sys_enter",
    "trace_event_raw_sys_exit",
    "trace_event_raw_sched_process_exec",
    "trace_event_raw_sched_process_fork",
    "trace_event_raw_sched_switch",
];

fn vmlinux() -> Option<Vec<u8>> {
    match std::fs::read(VMLINUX) {
        Ok(bytes) => Some(bytes),
        Err(e) => {
            println!("SKIP {VMLINUX} unreadable: {e}");
            None
        }
    }
}

const RUST_KEYWORDS: &[&str] = &[
    "as", "async", "await", "break", "const", "continue", "crate", "dyn", "else", "enum", "extern",
    "false", "fn", "for", "if", "impl", "in", "let", "loop", "match", "mod", "move", "mut", "pub",
    "ref", "return", "self", "Self", "static", "struct", "super", "trait", "true", "type",
    "unsafe", "use", "where", "while", "abstract", "become", "box", "do", "final", "macro",
    "override", "priv", "typeof", "unsized", "virtual", "yield", "try", "gen", "_",
];

/// The size and member offsets each generated type asserts, parsed from the source.
fn parse_asserts(source: &str) -> HashMap<&str, (u32, HashMap<&str, u32>)> {
    let mut types: HashMap<&str, (u32, HashMap<&str, u32>)> = HashMap::new();
    for line in source.lines() {
        let line = line.trim();
        if let Some(rest) = line.strip_prefix("assert!(::core::mem::size_of::<") {
            let (name, size) = rest.split_once(">() == ").expect("size assertion");
            let size = size.trim_end_matches(");").parse().expect("size");
            types.entry(name).or_default().0 = size;
        } else if let Some(rest) = line.strip_prefix("assert!(::core::mem::offset_of!(") {
            let (name, rest) = rest.split_once(", ").expect("offset assertion");
            let (member, offset) = rest.split_once(") == ").expect("offset assertion");
            let offset = offset.trim_end_matches(");").parse().expect("offset");
            types.entry(name).or_default().1.insert(member, offset);
        }
    }
    types
}

/// For every named struct/union of the BTF that was generated (under its name or as
/// `name___N`), one generated type asserts the BTF's size and, for each named non-bitfield
/// member, the BTF's offset. Returns (types checked, member offsets checked).
fn asserts_match_btf(btf: &Btf<'_>, source: &str) -> (usize, usize) {
    let generated = parse_asserts(source);
    let mut by_c_name: HashMap<&str, Vec<&str>> = HashMap::new();
    for &name in generated.keys() {
        let c_name = name.split_once("___").map_or(name, |(c, _)| c);
        by_c_name.entry(c_name).or_default().push(name);
    }
    let mut types = 0;
    let mut members = 0;
    for id in btf.local_ids() {
        let ty = btf.type_by_id(id).expect("type");
        let c = match &ty {
            Type::Struct(c) | Type::Union(c) => c,
            _ => continue,
        };
        let Some(candidates) = by_c_name.get(c.name) else {
            continue;
        };
        let wanted: Vec<(&str, u32)> = c
            .members
            .iter()
            .filter(|m| {
                let bitfield = if c.kind_flag {
                    m.bitfield_size != 0
                } else {
                    m.bit_offset % 8 != 0
                };
                !m.name.is_empty() && !bitfield && !RUST_KEYWORDS.contains(&m.name)
            })
            .map(|m| (m.name, m.bit_offset / 8))
            .collect();
        let matches = candidates.iter().any(|rust| {
            let (size, offsets) = &generated[rust];
            *size == c.size && wanted.iter().all(|(m, off)| offsets.get(m) == Some(off))
        });
        if !matches {
            // Generated only if reached: a same-named type of another layout may be the one.
            let reached = candidates.iter().any(|rust| generated[rust].0 == c.size);
            assert!(
                !reached,
                "{} (id {id}): no generated type with its layout",
                c.name
            );
            continue;
        }
        types += 1;
        members += wanted.len();
    }
    (types, members)
}

#[test]
fn most_referenced_types_and_tracepoint_records_compile_for_the_host() {
    let Some(bytes) = vmlinux() else { return };
    let btf = Btf::parse(&bytes).expect("parse vmlinux BTF");
    for flavour in [Flavour::Kernel, Flavour::Userspace] {
        let started = Instant::now();
        let source = Generator::new(bytes.clone())
            .flavour(flavour)
            .most_referenced(300)
            .types(RECORDS)
            .generate()
            .expect("generate");
        let generated = started.elapsed();
        let (types, members) = asserts_match_btf(&btf, &source);
        assert!(types >= 300, "{flavour:?}: only {types} types checked");
        for record in RECORDS {
            assert!(
                source.contains(&format!("\npub struct {record} {{")),
                "{record}"
            );
        }
        assert!(
            !source.contains("Opaque bytes"),
            "{flavour:?}: a type fell back to opaque bytes"
        );
        let started = Instant::now();
        if let Err(e) = common::check_lib(&source, &[]) {
            panic!("{flavour:?} output does not compile:\n{e}");
        }
        eprintln!(
            "{flavour:?}: {} KiB, {types} structs/unions ({members} member offsets) checked \
             against the BTF; generated in {:.0} ms, rustc checked it in {:.1} s",
            source.len() / 1024,
            generated.as_secs_f64() * 1e3,
            started.elapsed().as_secs_f64()
        );
    }
}

#[test]
fn syscall_records_have_the_tracepoint_layout() {
    let Some(bytes) = vmlinux() else { return };
    let source = Generator::new(bytes)
        .flavour(Flavour::Userspace)
        .types(["trace_event_raw_sys_enter", "trace_event_raw_sys_exit"])
        .generate()
        .expect("generate");
    // The layout /sys/kernel/tracing/events/raw_syscalls/sys_enter/format documents.
    for needle in [
        "pub ent: trace_entry,",
        "pub id: i64,",
        "pub args: [u64; 6],",
        "pub ret: i64,",
        "offset_of!(trace_event_raw_sys_enter, id) == 8);",
        "offset_of!(trace_event_raw_sys_enter, args) == 16);",
        "offset_of!(trace_event_raw_sys_exit, ret) == 16);",
        "pub __data: [u8; 0],",
    ] {
        assert!(source.contains(needle), "missing {needle:?} in:\n{source}");
    }
}

/// bpfkit-ebpf's committed tracepoint records (`gen/gen_tracepoints.sh`) have the running
/// kernel's layout: every struct in the file asserts the BTF's size and member offsets.
#[test]
fn bpfkit_ebpf_tracepoint_records_match_the_running_kernel() {
    let Some(bytes) = vmlinux() else { return };
    let btf = Btf::parse(&bytes).expect("parse vmlinux BTF");
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../bpfkit-ebpf/src/tracepoints.rs"
    );
    let committed = std::fs::read_to_string(path).expect("read bpfkit-ebpf tracepoints.rs");
    let (types, members) = asserts_match_btf(&btf, &committed);
    let generated = parse_asserts(&committed).len();
    assert_eq!(
        types, generated,
        "a record in {path} differs from the running kernel's; rerun gen/gen_tracepoints.sh"
    );
    assert!(
        types >= 6 && members >= 20,
        "{types} types, {members} members"
    );
}

#[test]
fn all_of_vmlinux_generates_into_one_file() {
    let Some(bytes) = vmlinux() else { return };
    let started = Instant::now();
    let source = Generator::new(bytes)
        .all_types()
        .generate()
        .expect("generate all of vmlinux");
    let ours = started.elapsed();
    let started = Instant::now();
    let bpftool = std::process::Command::new("bpftool")
        .args(["btf", "dump", "file", VMLINUX, "format", "c"])
        .output();
    let theirs = started.elapsed();
    let types = source.matches("\npub struct ").count()
        + source.matches("\npub union ").count()
        + source.matches("\npub type ").count();
    assert!(types > 10_000, "only {types} types");
    assert!(source.contains("\npub struct task_struct {"));
    assert!(!source.contains("Opaque bytes"));
    match bpftool {
        Ok(out) if out.status.success() => eprintln!(
            "all of vmlinux: {types} types, {} MiB of Rust in {:.0} ms; bpftool format c: {} MiB in {:.0} ms",
            source.len() >> 20,
            ours.as_secs_f64() * 1e3,
            out.stdout.len() >> 20,
            theirs.as_secs_f64() * 1e3
        ),
        _ => eprintln!(
            "all of vmlinux: {types} types in {:.0} ms (bpftool unavailable)",
            ours.as_secs_f64() * 1e3
        ),
    }
}

/// Type-checks all of vmlinux (~16k types): 2 min and 2.5 GB for rustc, so not in CI.
#[test]
#[ignore = "rustc needs ~2 minutes and 2.5 GB for all of vmlinux"]
fn all_of_vmlinux_compiles() {
    let Some(bytes) = vmlinux() else { return };
    let source = Generator::new(bytes)
        .all_types()
        .generate()
        .expect("generate all of vmlinux");
    let started = Instant::now();
    if let Err(e) = common::check_lib(&source, &[]) {
        panic!(
            "all of vmlinux does not compile:\n{}",
            &e[..e.len().min(20_000)]
        );
    }
    eprintln!(
        "rustc checked all of vmlinux in {:.1} s",
        started.elapsed().as_secs_f64()
    );
}
