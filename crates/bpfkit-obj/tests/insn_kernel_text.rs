//! The disassembler prints what the kernel prints. Programs are loaded by libbpf (bpftool)
//! into the running kernel; their translated instructions are disassembled here and
//! compared line by line with bpftool's own text of the same dump, and a cpu v4/atomics
//! fixture is compared with the kernel verifier log's listing. Needs root and bpftool.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};

use bpfkit_obj::btf::Btf;
use bpfkit_obj::insn::{
    decode_slots, disassemble_insn, logical_insns, Insn, Insns, Instruction, LogicalInsn,
    Symbolizer,
};
use object::{Endianness, Object, ObjectSection};

/// A directory on bpffs, removed (programs unpinned) on drop.
struct PinDir(PathBuf);

impl PinDir {
    fn new(tag: &str) -> Self {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let mounts = std::fs::read_to_string("/proc/mounts").unwrap_or_default();
        if !mounts
            .lines()
            .any(|l| l.split_whitespace().nth(1) == Some("/sys/fs/bpf") && l.contains(" bpf "))
        {
            let status = Command::new("mount")
                .args(["-t", "bpf", "bpf", "/sys/fs/bpf"])
                .status();
            assert!(
                status.is_ok_and(|s| s.success()),
                "cannot mount bpffs on /sys/fs/bpf"
            );
        }
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        Self(PathBuf::from(format!(
            "/sys/fs/bpf/bpfkit-insn-{tag}-{}-{n}",
            std::process::id()
        )))
    }
}

impl Drop for PinDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn bpftool(args: &[&str]) -> std::process::Output {
    Command::new("bpftool")
        .args(args)
        .output()
        .expect("bpftool is installed (Debian package bpftool)")
}

fn prog_id(pin: &Path) -> u32 {
    let out = bpftool(&["-j", "prog", "show", "pinned", pin.to_str().unwrap()]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    v["id"].as_u64().unwrap() as u32
}

/// Kernel symbols by address, and `__bpf_call_base`, as bpftool resolves helper calls in
/// translated programs (call `imm` = function address − `__bpf_call_base`).
struct Kallsyms {
    by_address: HashMap<u64, Vec<String>>,
    call_base: u64,
}

impl Kallsyms {
    fn load() -> Self {
        let text = std::fs::read_to_string("/proc/kallsyms").unwrap();
        let mut by_address: HashMap<u64, Vec<String>> = HashMap::new();
        let mut call_base = 0;
        for line in text.lines() {
            let mut fields = line.split_whitespace();
            let (Some(addr), Some(_), Some(name)) = (fields.next(), fields.next(), fields.next())
            else {
                continue;
            };
            let Ok(addr) = u64::from_str_radix(addr, 16) else {
                continue;
            };
            if name == "__bpf_call_base" {
                call_base = addr;
            }
            by_address.entry(addr).or_default().push(name.to_string());
        }
        assert_ne!(
            call_base, 0,
            "__bpf_call_base not in /proc/kallsyms (run as root)"
        );
        Self {
            by_address,
            call_base,
        }
    }

    fn names(&self, insn: &Insn) -> (u64, &[String]) {
        let address = self.call_base.wrapping_add(i64::from(insn.imm) as u64);
        (
            address,
            self.by_address.get(&address).map_or(&[], |v| v.as_slice()),
        )
    }
}

/// Names calls and map references the way bpftool's xlated dumper does.
struct XlatedSymbols<'a>(&'a Kallsyms);

impl Symbolizer for XlatedSymbols<'_> {
    fn call_name(&self, call: &Insn) -> Option<String> {
        if call.is_pseudo_call() {
            // In a JITed dump `off` keeps the original distance and `imm` indexes the
            // subprogram symbols, which bpftool appends after `#` (compared separately).
            return Some(format!("{:+}#", call.off));
        }
        let (address, names) = self.0.names(call);
        Some(
            names
                .first()
                .cloned()
                .unwrap_or_else(|| format!("{address:#x}")),
        )
    }

    fn imm64_name(&self, first: &Insn, second: &Insn, _imm: u64) -> Option<String> {
        match first.src_reg {
            1 => Some(format!("map[id:{}]", first.imm as u32)),
            2 => Some(format!(
                "map[id:{}][0]+{}",
                first.imm as u32, second.imm as u32
            )),
            6 => Some(format!(
                "map[idx:{}]+{}",
                first.imm as u32, second.imm as u32
            )),
            4 => Some(format!("subprog[{:+}]", first.imm)),
            _ => None,
        }
    }
}

/// Compares our text of one translated program with bpftool's JSON text of it; returns the
/// number of instructions compared.
fn compare_xlated(id: u32, syms: &Kallsyms, what: &str) -> usize {
    let file = std::env::temp_dir().join(format!("bpfkit-insn-xlated-{}-{id}", std::process::id()));
    let out = bpftool(&[
        "prog",
        "dump",
        "xlated",
        "id",
        &id.to_string(),
        "file",
        file.to_str().unwrap(),
    ]);
    assert!(
        out.status.success(),
        "{what}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let raw = std::fs::read(&file).unwrap();
    let _ = std::fs::remove_file(&file);
    let out = bpftool(&["-j", "prog", "dump", "xlated", "id", &id.to_string()]);
    assert!(
        out.status.success(),
        "{what}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let theirs: Vec<&str> = json
        .as_array()
        .unwrap()
        .iter()
        .map(|entry| entry["disasm"].as_str().unwrap())
        .collect();

    let slots = decode_slots(&raw, Endianness::Little).unwrap();
    let ours: Vec<(LogicalInsn, String)> = logical_insns(&slots)
        .map(|item| {
            let (_, insn) = item.unwrap();
            (insn, disassemble_insn(&insn, &XlatedSymbols(syms)))
        })
        .collect();
    assert_eq!(ours.len(), theirs.len(), "{what}: instruction count");
    for (index, ((insn, mine), theirs)) in ours.iter().zip(&theirs).enumerate() {
        let first = insn.first();
        if first.is_pseudo_call() {
            // bpftool: "call pc+N#bpf_prog_<tag>_<name>" (the JITed subprogram's symbol).
            let (head, sym) = theirs.split_once('#').unwrap_or((theirs, ""));
            let (my_head, _) = mine.split_once('#').unwrap();
            assert_eq!(my_head, head, "{what}: insn {index}");
            assert!(
                sym.starts_with("bpf_prog_"),
                "{what}: insn {index}: {theirs}"
            );
            continue;
        }
        if let Instruction::MovPercpuAddr { dst, src } = insn.instruction() {
            // The verifier inlines per-CPU helpers with a move whose `off` is -1 (kernel
            // 6.7+); bpftool 7.1's disassembler predates it and prints a plain move.
            assert_eq!(mine, &format!("(bf) r{dst} = &(void __percpu *)(r{src})"));
            assert_eq!(
                *theirs,
                format!("(bf) r{dst} = r{src}"),
                "{what}: insn {index}"
            );
            continue;
        }
        if mine != theirs && first.is_call() {
            // Several kernel symbols can share an address; bpftool picks any of them.
            let (_, names) = syms.names(first);
            let matches_alias = names
                .iter()
                .any(|name| *theirs == format!("({:02x}) call {name}#{}", first.code, first.imm));
            assert!(
                matches_alias,
                "{what}: insn {index}: ours {mine:?}, bpftool {theirs:?}"
            );
            continue;
        }
        assert_eq!(mine, theirs, "{what}: insn {index}");
    }
    ours.len()
}

#[test]
fn disassembly_of_translated_corpus_programs_equals_bpftool() {
    let syms = Kallsyms::load();
    let objects = bpfkit_test_support::corpus_objects_in("libbpf-tools");
    let (mut loaded, mut programs, mut insns) = (0, 0, 0);
    for object in objects
        .iter()
        .filter(|p| p.extension().is_some_and(|e| e == "o"))
    {
        let pins = PinDir::new("corpus");
        let out = bpftool(&[
            "prog",
            "loadall",
            object.to_str().unwrap(),
            pins.0.to_str().unwrap(),
        ]);
        if !out.status.success() {
            // libbpf itself refuses some objects on this kernel (see TESTING.md); nothing to compare.
            continue;
        }
        loaded += 1;
        let mut pinned: Vec<_> = std::fs::read_dir(&pins.0)
            .unwrap()
            .flatten()
            .map(|e| e.path())
            .collect();
        pinned.sort();
        for pin in pinned {
            let what = format!("{} prog {}", object.display(), pin.display());
            insns += compare_xlated(prog_id(&pin), &syms, &what);
            programs += 1;
        }
    }
    eprintln!("compared {insns} instructions of {programs} programs from {loaded} objects");
    assert!(loaded >= 25, "bpftool loaded only {loaded} corpus objects");
    assert!(
        programs >= 80 && insns >= 5_000,
        "{programs} programs, {insns} insns"
    );
}

/// A socket filter with every cpu v4 instruction, every atomic family in both widths,
/// legacy packet loads and a 64-bit constant, written in assembly so that the compiler
/// cannot fold any away. Atomics work on stack memory: libbpf loads the instructions
/// exactly as they are in the ELF (no relocations), so the kernel's listing of them can
/// be compared with the disassembly of the section bytes.
const CPU_V4_FIXTURE: &str = r#"
#include <linux/bpf.h>
#define SEC(n) __attribute__((section(n), used))
SEC("socket") int cpu_v4_and_atomics(struct __sk_buff *skb) {
    volatile long slot = skb->len;
    long r = 0;
    asm volatile("r6 = %[ctx]; r0 = *(u8 *)skb[12]; r2 = 2; r0 = *(u16 *)skb[r2];"
        :: [ctx] "r"(skb) : "r0", "r1", "r2", "r3", "r4", "r5", "r6");
    asm volatile(
        "r1 = 100; r2 = 7; r0 = 5; r3 = 0x1122334455667788 ll;"
        "r1 s/= r2; r1 s%%= r2; r1 s/= -3; r1 s%%= 5; w1 s/= w2; w1 s%%= w2; w1 s/= 3; w1 s%%= -4;"
        "r3 = (s8)r1; r3 = (s16)r1; r3 = (s32)r1; w3 = (s8)w1; w3 = (s16)w1;"
        "r1 = bswap16 r1; r1 = bswap32 r1; r1 = bswap64 r1; r1 = le16 r1; r1 = be32 r1; r1 = be64 r1;"
        "r3 = *(s8 *)(%[p] + 0); r3 = *(s16 *)(%[p] + 2); r3 = *(s32 *)(%[p] + 4);"
        "lock *(u64 *)(%[p] + 0) += r2; lock *(u32 *)(%[p] + 0) += w2;"
        "lock *(u64 *)(%[p] + 0) &= r2; lock *(u32 *)(%[p] + 0) |= w2; lock *(u64 *)(%[p] + 0) ^= r2;"
        "r2 = atomic_fetch_add((u64 *)(%[p] + 0), r2); w2 = atomic_fetch_add((u32 *)(%[p] + 0), w2);"
        "r2 = atomic_fetch_and((u64 *)(%[p] + 0), r2); w2 = atomic_fetch_or((u32 *)(%[p] + 0), w2);"
        "r2 = atomic_fetch_xor((u64 *)(%[p] + 0), r2); w2 = atomic_fetch_xor((u32 *)(%[p] + 0), w2);"
        "r2 = xchg_64(%[p] + 0, r2); w2 = xchg32_32(%[p] + 0, w2);"
        "r0 = cmpxchg_64(%[p] + 0, r0, r2); w0 = cmpxchg32_32(%[p] + 0, w0, w2);"
        "gotol +0; may_goto +0;"
        "%[r] = r1;"
        : [r] "=r"(r)
        : [p] "r"(&slot)
        : "r0", "r1", "r2", "r3", "memory");
    return r;
}
char _license[] SEC("license") = "GPL";
"#;

fn compile_fixture(target: &str, source: &str) -> (tempdir::Dir, PathBuf) {
    let dir = tempdir::Dir::new();
    let src = dir.0.join("fixture.c");
    std::fs::write(&src, source).unwrap();
    let obj = dir.0.join(format!("fixture-{target}.o"));
    let out = Command::new("clang-19")
        .args([
            "-O2",
            "-g",
            "-target",
            target,
            "-mcpu=v4",
            "-I/usr/include/x86_64-linux-gnu",
            "-c",
        ])
        .arg(&src)
        .arg("-o")
        .arg(&obj)
        .output()
        .expect("clang-19 is installed");
    assert!(
        out.status.success(),
        "clang-19: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    (dir, obj)
}

mod tempdir {
    /// A scratch directory removed on drop.
    pub struct Dir(pub std::path::PathBuf);

    impl Dir {
        pub fn new() -> Self {
            use std::sync::atomic::{AtomicUsize, Ordering};
            static NEXT: AtomicUsize = AtomicUsize::new(0);
            let n = NEXT.fetch_add(1, Ordering::Relaxed);
            let path = std::env::temp_dir().join(format!("bpfkit-insn-{}-{n}", std::process::id()));
            std::fs::create_dir_all(&path).unwrap();
            Self(path)
        }
    }

    impl Drop for Dir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }
}

fn section_bytes(obj: &Path, name: &str) -> (Endianness, Vec<u8>) {
    let data = std::fs::read(obj).unwrap();
    let file = object::File::parse(&*data).unwrap();
    let endian = if file.is_little_endian() {
        Endianness::Little
    } else {
        Endianness::Big
    };
    let section = file.section_by_name(name).unwrap();
    (endian, section.data().unwrap().to_vec())
}

#[test]
fn disassembly_of_cpu_v4_and_atomics_equals_the_verifier_log() {
    let (_dir, obj) = compile_fixture("bpfel", CPU_V4_FIXTURE);
    let (endian, bytes) = section_bytes(&obj, "socket");
    let pins = PinDir::new("v4");
    // -d: libbpf loads with the verifier log at level 2 and prints it.
    let out = bpftool(&[
        "-d",
        "prog",
        "loadall",
        obj.to_str().unwrap(),
        pins.0.to_str().unwrap(),
    ]);
    let log = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "bpftool loadall failed:\n{log}");
    // "Live regs before insn:" lists every instruction once, in order, as
    // "<index>: <live registers> <text>".
    let listing: Vec<(usize, String)> = log
        .lines()
        .skip_while(|l| !l.starts_with("Live regs before insn:"))
        .skip(1)
        .map_while(|l| {
            let (index, rest) = l.trim_start().split_once(": ")?;
            let index = index.parse().ok()?;
            let (live, text) = rest.split_once(' ')?;
            let is_live_mask = live.chars().all(|c| c == '.' || c.is_ascii_digit());
            (is_live_mask && text.starts_with('(')).then(|| (index, text.to_string()))
        })
        .collect();
    let ours: Vec<(usize, String)> = Insns::new(&bytes, endian)
        .map(|item| {
            let (index, insn) = item.unwrap();
            (index, insn.to_string())
        })
        .collect();
    assert!(
        !listing.is_empty(),
        "no instruction listing in the verifier log:\n{log}"
    );
    for (mine, kernel) in ours.iter().zip(&listing) {
        assert_eq!(mine, kernel);
    }
    assert_eq!(ours.len(), listing.len());
    let text: String = ours.iter().map(|(_, t)| format!("{t}\n")).collect();
    for form in [
        "(30) r0 = *(u8 *)skb[12]",
        "(48) r0 = *(u16 *)skb[r2 + 0]",
        "(18) r3 = 0x1122334455667788",
        "(3f) r1 s/= r2",
        "(9f) r1 s%= r2",
        "(37) r1 s/= -3",
        "(97) r1 s%= 5",
        "(3c) w1 s/= w2",
        "(9c) w1 s%= w2",
        "(34) w1 s/= 3",
        "(94) w1 s%= -4",
        "(bf) r3 = (s8)r1",
        "(bf) r3 = (s16)r1",
        "(bf) r3 = (s32)r1",
        "(bc) w3 = (s8)w1",
        "(bc) w3 = (s16)w1",
        "(d7) r1 = bswap16 r1",
        "(d7) r1 = bswap32 r1",
        "(d7) r1 = bswap64 r1",
        "(d4) r1 = le16 r1",
        "(dc) r1 = be32 r1",
        "(dc) r1 = be64 r1",
        "= *(s8 *)(",
        "= *(s16 *)(",
        "= *(s32 *)(",
        "(db) lock *(u64 *)",
        "(c3) lock *(u32 *)",
        ") += r2",
        ") &= r2",
        ") |= r2",
        ") ^= r2",
        "r2 = atomic64_fetch_add((u64 *)",
        "r2 = atomic_fetch_add((u32 *)",
        "r2 = atomic64_fetch_and((u64 *)",
        "r2 = atomic_fetch_or((u32 *)",
        "r2 = atomic64_fetch_xor((u64 *)",
        "r2 = atomic_fetch_xor((u32 *)",
        "r2 = atomic64_xchg((u64 *)",
        "r2 = atomic_xchg((u32 *)",
        "r0 = atomic64_cmpxchg((u64 *)",
        "r0 = atomic_cmpxchg((u32 *)",
        "(06) gotol pc+0",
        "(e5) may_goto pc+0",
    ] {
        assert!(text.contains(form), "fixture lacks {form:?}:\n{text}");
    }
}

/// Code whose instruction stream does not depend on the byte order of data.
const BYTE_ORDER_NEUTRAL_FIXTURE: &str = r#"
#include <linux/bpf.h>
#define SEC(n) __attribute__((section(n), used))
static long (*bpf_get_current_pid_tgid)(void) = (void *)14;
static __attribute__((noinline)) long twice(long x) { return x * 2 + 0x123456789; }
SEC("socket") int byte_order(struct __sk_buff *skb) {
    volatile long slot = skb->len;
    long a = skb->len, b = skb->protocol;
    long r = (long)(int)a + (a - 100) / (b - 50) + (long)__builtin_bswap64(a);
    __sync_fetch_and_add(&slot, 1);
    r += __sync_val_compare_and_swap(&slot, 5, 6) + twice(b) + bpf_get_current_pid_tgid();
    volatile long k = 0x1122334455667788;
    if ((int)r > -3)
        r += k;
    return r;
}
char _license[] SEC("license") = "GPL";
"#;

#[test]
fn big_endian_objects_decode_to_the_same_instructions() {
    let (_le_dir, le_obj) = compile_fixture("bpfel", BYTE_ORDER_NEUTRAL_FIXTURE);
    let (_be_dir, be_obj) = compile_fixture("bpfeb", BYTE_ORDER_NEUTRAL_FIXTURE);
    for section in ["socket", ".text"] {
        let (le_endian, le) = section_bytes(&le_obj, section);
        let (be_endian, be) = section_bytes(&be_obj, section);
        assert_eq!(
            (le_endian, be_endian),
            (Endianness::Little, Endianness::Big)
        );
        assert_ne!(le, be, "{section}: the byte streams differ");
        let le_slots = decode_slots(&le, le_endian).unwrap();
        let be_slots = decode_slots(&be, be_endian).unwrap();
        assert_eq!(le_slots.len(), be_slots.len(), "{section}");
        for (index, (le, be)) in le_slots.iter().zip(&be_slots).enumerate() {
            assert_eq!(le, be, "{section}: slot {index}");
        }
        assert_eq!(
            bpfkit_obj::insn::encode_slots(&be_slots, Endianness::Big),
            be
        );
        let text = bpfkit_obj::insn::disassemble(&be_slots, &bpfkit_obj::insn::NoSymbols).unwrap();
        assert!(!text.contains("BUG_"), "{text}");
        if section == "socket" {
            for form in [
                "= 0x1122334455667788",
                "call pc-1",
                "call bpf_get_current_pid_tgid#14",
                "atomic64_cmpxchg",
                "if w",
            ] {
                assert!(text.contains(form), "{form:?} missing in:\n{text}");
            }
        }
    }
}

/// Names kfunc calls by their vmlinux BTF id, as the verifier log does.
struct KfuncNames(Btf<'static>);

impl Symbolizer for KfuncNames {
    fn call_name(&self, call: &Insn) -> Option<String> {
        if !call.is_kfunc_call() || call.off != 0 {
            return None;
        }
        let id = u32::try_from(call.imm).ok()?;
        self.0.name(id).ok().map(str::to_string)
    }
}

/// Each program's "Live regs before insn" listing from libbpf's debug output of a load
/// with the verifier log at level 2, by program name.
fn verifier_listings(log: &str) -> HashMap<String, Vec<(usize, String)>> {
    let mut out = HashMap::new();
    let mut current: Option<(String, Vec<(usize, String)>)> = None;
    for line in log.lines() {
        if let Some(rest) = line.strip_prefix("libbpf: prog '") {
            if let Some((name, tail)) = rest.split_once("': ") {
                if tail.starts_with("-- BEGIN PROG LOAD LOG --") {
                    current = Some((name.to_string(), Vec::new()));
                }
            }
            continue;
        }
        if line.starts_with("-- END PROG LOAD LOG --") {
            if let Some((name, listing)) = current.take() {
                out.insert(name, listing);
            }
            continue;
        }
        let Some((_, listing)) = current.as_mut() else {
            continue;
        };
        let Some((index, rest)) = line.trim_start().split_once(": ") else {
            continue;
        };
        // Instructions inside loops are prefixed with their loop depth: "  1  32: ...".
        let index = index.split_whitespace().last().unwrap_or_default();
        let (Ok(index), Some((live, text))) = (index.parse::<usize>(), rest.split_once(' ')) else {
            continue;
        };
        // Only the listing's lines: "<index>: <live mask of 10 chars> (<code>) <text>".
        if live.len() == 10
            && live.chars().all(|c| c == '.' || c.is_ascii_digit())
            && text.starts_with('(')
        {
            if listing.last().is_some_and(|(last, _)| *last >= index) {
                continue; // the state-printing pass repeats instructions; keep the listing
            }
            listing.push((index, text.to_string()));
        }
    }
    out
}

#[test]
fn disassembly_of_every_fixture_equals_the_verifier_log() {
    let vmlinux = std::fs::read("/sys/kernel/btf/vmlinux").expect("kernel BTF");
    let kfuncs = KfuncNames(Btf::parse_owned(vmlinux).unwrap());
    let (mut programs, mut insns, mut skipped_values) = (0, 0, 0);
    let mut compared_fixtures = Vec::new();
    let mut all_text = String::new();
    for name in bpfkit_test_support::fixture_names() {
        let Ok(obj) = bpfkit_test_support::try_fixture(&name) else {
            continue;
        };
        let pins = PinDir::new("fixture");
        let out = bpftool(&[
            "-d",
            "prog",
            "loadall",
            obj.to_str().unwrap(),
            pins.0.to_str().unwrap(),
        ]);
        let listings = verifier_listings(&String::from_utf8_lossy(&out.stderr));
        drop(pins);
        if listings.values().all(Vec::is_empty) {
            continue; // libbpf refused the object before any program reached the verifier
        }
        let relocated = bpfkit_test_support::libbpf_relocated(&obj, &Default::default())
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        for prog in &relocated.programs {
            let Some(listing) = listings.get(&prog.name).filter(|l| !l.is_empty()) else {
                continue;
            };
            let bytes: Vec<u8> = prog.load.insns.iter().flat_map(|i| i.to_bytes()).collect();
            let ours: Vec<(usize, LogicalInsn, String)> = Insns::new(&bytes, Endianness::Little)
                .map(|item| {
                    let (index, insn) = item.unwrap();
                    (index, insn, disassemble_insn(&insn, &kfuncs))
                })
                .collect();
            let what = format!("fixture {name} prog {}", prog.name);
            assert_eq!(ours.len(), listing.len(), "{what}: instruction count");
            for ((index, insn, mine), (kernel_index, kernel)) in ours.iter().zip(listing) {
                assert_eq!(index, kernel_index, "{what}");
                let first = insn.first();
                // Map and kernel-variable references are resolved to kernel addresses
                // before the listing is printed; libbpf handed over fds and BTF ids.
                if first.is_ld_imm64() && matches!(first.src_reg, 1 | 2 | 3 | 5 | 6) {
                    let prefix = format!("(18) r{} = 0x", first.dst_reg);
                    assert!(
                        kernel.starts_with(&prefix),
                        "{what}: insn {index}: {kernel}"
                    );
                    assert!(
                        mine.starts_with(&format!("(18) r{} = ", first.dst_reg)),
                        "{what}: {mine}"
                    );
                    skipped_values += 1;
                    continue;
                }
                assert_eq!(mine, kernel, "{what}: insn {index}");
                all_text.push_str(mine);
                all_text.push('\n');
            }
            programs += 1;
            insns += ours.len();
        }
        compared_fixtures.push(name);
    }
    eprintln!(
        "compared {insns} instructions of {programs} programs of fixtures {compared_fixtures:?} \
         ({skipped_values} map/ksym ld_imm64 values not comparable)"
    );
    for needed in [
        "cpu_v4_atomics",
        "callbacks",
        "bpf_calls",
        "tail_calls",
        "ksyms_kfuncs",
    ] {
        assert!(
            compared_fixtures.iter().any(|f| f == needed),
            "{needed} not compared"
        );
    }
    assert!(programs >= 20, "{programs} programs");
    // The kernel's own text for the families the fixtures exist to cover.
    for form in [
        "(85) call pc+",
        "(85) call bpf_loop#181",
        "(85) call bpf_tail_call#12",
        "(85) call bpf_task_acquire#",
        "s/=",
        "= bswap64",
        "= *(s8 *)",
        "(06) gotol",
        "atomic64_cmpxchg",
        "atomic_fetch_add((u32 *)",
        "lock *(u32 *)",
    ] {
        assert!(
            all_text.contains(form),
            "no {form:?} among the compared instructions"
        );
    }
}
