//! Kernel addresses to names as bpftrace prints them: `ksym()` (`vfs_read`) and `kstack`
//! frames (`vfs_read+12`) from `/proc/kallsyms`, stacks read back from the program's stack
//! trace map the runtime hands to the printers ([`Stacks`]). User addresses
//! (`usym()`, `ustack`) resolve through the process's `/proc/PID/maps` and the mapped
//! files' ELF symbols when printed, so a process that has exited prints hex, as bpftrace.

use std::collections::HashMap;
use std::sync::OnceLock;

use bpfkit::maps::{MapData, StackTraceMap};
use bpfkit::programs::proc_maps::{self, Mapping};

use crate::types::StackMode;

/// Frames a stack trace map value holds (bpftrace's `perf_event_max_stack`).
pub const MAX_FRAMES: u32 = 127;

/// The stack trace map `kstack`/`ustack` ids refer to (`None`: no program records stacks,
/// every stack prints empty).
pub type Stacks<'a> = Option<&'a StackTraceMap<MapData>>;

/// `/proc/kallsyms`, read once per process (empty if it cannot be read): the kernel
/// formats all of it on every read, and `kaddr()` is asked once per call site and
/// compiler pass.
fn kallsyms_text() -> &'static str {
    static TEXT: OnceLock<String> = OnceLock::new();
    TEXT.get_or_init(|| std::fs::read_to_string("/proc/kallsyms").unwrap_or_default())
}

fn kallsyms() -> &'static [(u64, String)] {
    static SYMS: OnceLock<Vec<(u64, String)>> = OnceLock::new();
    SYMS.get_or_init(|| parse_kallsyms(kallsyms_text()))
}

/// Text symbols of a `/proc/kallsyms` listing, by address (module suffixes dropped).
pub fn parse_kallsyms(text: &str) -> Vec<(u64, String)> {
    let mut out: Vec<(u64, String)> = text
        .lines()
        .filter_map(|l| {
            let mut p = l.split_whitespace();
            let addr = u64::from_str_radix(p.next()?, 16).ok()?;
            let kind = p.next()?;
            let name = p.next()?;
            (addr != 0 && matches!(kind, "t" | "T" | "w" | "W")).then(|| (addr, name.to_string()))
        })
        .collect();
    out.sort();
    out
}

fn lookup(syms: &[(u64, String)], addr: u64) -> Option<(&str, u64)> {
    let i = syms.partition_point(|(a, _)| *a <= addr);
    let (start, name) = syms.get(i.checked_sub(1)?)?;
    Some((name, addr - start))
}

/// `ksym(addr)`: the name of the kernel function holding `addr`, else the address in hex.
pub fn ksym(addr: u64) -> String {
    lookup(kallsyms(), addr).map_or_else(|| format!("0x{addr:x}"), |(n, _)| n.to_string())
}

/// `kaddr(name)`: the address of a kernel symbol (any kind), from `/proc/kallsyms`.
pub fn kaddr(name: &str) -> Option<u64> {
    static BY_NAME: OnceLock<HashMap<&'static str, u64>> = OnceLock::new();
    let by_name = BY_NAME.get_or_init(|| {
        let mut by_name = HashMap::new();
        for l in kallsyms_text().lines() {
            let mut p = l.split_whitespace();
            let (Some(addr), Some(_kind), Some(name)) = (p.next(), p.next(), p.next()) else {
                continue;
            };
            if let Ok(addr) = u64::from_str_radix(addr, 16) {
                // The first line naming it, as a scan would find.
                by_name.entry(name).or_insert(addr);
            }
        }
        by_name
    });
    by_name.get(name).copied()
}

/// One stack frame: `name+offset`, else the address in hex.
pub fn frame(addr: u64) -> String {
    lookup(kallsyms(), addr).map_or_else(|| format!("0x{addr:x}"), |(n, off)| format!("{n}+{off}"))
}

/// A kernel stack as bpftrace prints it: a newline, then each frame (at most `limit`) and
/// a newline; in [`StackMode::Bpftrace`] a frame is `name+offset` indented by `indent`
/// spaces, in [`StackMode::Perf`] a tab, the address in hex and `name+offset`. A failed
/// `bpf_get_stackid` (a negative id: no kernel stack in user context) prints as nothing,
/// as bpftrace prints `@[]`.
pub fn kstack(stacks: Stacks<'_>, id: u64, limit: u8, mode: StackMode, indent: usize) -> String {
    print_stack(stacks, id, limit, |addr| match mode {
        StackMode::Bpftrace => format!("{}{}", " ".repeat(indent), frame(addr)),
        StackMode::Perf => format!("\t{addr:x} {}", frame(addr)),
    })
}

fn print_stack(stacks: Stacks<'_>, id: u64, limit: u8, line: impl Fn(u64) -> String) -> String {
    if (id as i64) < 0 {
        return String::new();
    }
    let mut out = String::from("\n");
    let Some(frames) = stacks.and_then(|map| map.get(id as u32).ok().flatten()) else {
        return out;
    };
    for addr in frames
        .into_iter()
        .take_while(|&a| a != 0)
        .take(limit as usize)
    {
        out.push_str(&line(addr));
        out.push('\n');
    }
    out
}

/// The file-backed mapping (a path starting with `/`) of a `/proc/PID/maps` listing that
/// holds `addr`.
fn mapping_of<'m>(maps: &'m [Mapping<'m>], addr: u64) -> Option<&'m Mapping<'m>> {
    maps.iter()
        .find(|m| m.start <= addr && addr < m.end && m.path.is_some_and(|p| p.starts_with('/')))
}

/// Function symbols of an ELF file: `(start, size, name)` sorted by start, and its
/// loadable segments `(file offset, virtual address, file size)`.
#[derive(Debug, Default)]
struct ElfSyms {
    syms: Vec<(u64, u64, String)>,
    segments: Vec<(u64, u64, u64)>,
}

fn read_syms(file: &object::read::File<'_>, out: &mut Vec<(u64, u64, String)>) {
    use object::{Object, ObjectSymbol, SymbolKind};
    for sym in file.symbols().chain(file.dynamic_symbols()) {
        if sym.kind() == SymbolKind::Text && sym.address() != 0 {
            if let Ok(name) = sym.name() {
                out.push((sym.address(), sym.size(), name.to_string()));
            }
        }
    }
}

/// Reads `path`'s symbols (`.symtab`, `.dynsym`, and those of its separate debug file
/// under `/usr/lib/debug/.build-id/` when one is installed).
fn load_elf(path: &str) -> ElfSyms {
    use object::{Object, ObjectSegment};
    let Ok(data) = std::fs::read(path) else {
        return ElfSyms::default();
    };
    let Ok(file) = object::read::File::parse(&*data) else {
        return ElfSyms::default();
    };
    let mut syms = vec![];
    read_syms(&file, &mut syms);
    if let Ok(Some(id)) = file.build_id() {
        if id.len() > 1 {
            let hex: String = id.iter().map(|b| format!("{b:02x}")).collect();
            let debug = format!("/usr/lib/debug/.build-id/{}/{}.debug", &hex[..2], &hex[2..]);
            if let Ok(d) = std::fs::read(debug) {
                if let Ok(df) = object::read::File::parse(&*d) {
                    read_syms(&df, &mut syms);
                }
            }
        }
    }
    syms.sort();
    syms.dedup_by(|a, b| a.0 == b.0);
    let segments = file
        .segments()
        .map(|s| {
            let (off, size) = s.file_range();
            (off, s.address(), size)
        })
        .collect();
    ElfSyms { syms, segments }
}

/// Symbols of each file read so far, by device and inode (one entry for a library
/// however many processes map it; files do not change while tracing).
fn elf_syms(path: &str) -> std::sync::Arc<ElfSyms> {
    use std::collections::HashMap;
    use std::os::unix::fs::MetadataExt;
    use std::sync::{Arc, Mutex};
    type ByInode = HashMap<(u64, u64), Arc<ElfSyms>>;
    static CACHE: OnceLock<Mutex<ByInode>> = OnceLock::new();
    let Ok(meta) = std::fs::metadata(path) else {
        return Arc::default();
    };
    let cache = CACHE.get_or_init(Default::default);
    let mut cache = cache.lock().unwrap_or_else(|e| e.into_inner());
    cache
        .entry((meta.dev(), meta.ino()))
        .or_insert_with(|| Arc::new(load_elf(path)))
        .clone()
}

/// The function holding `addr` in process `pid` and the offset into it, from the
/// process's current maps (`None` once the process has exited, as bpftrace).
fn user_lookup(maps: &[Mapping<'_>], pid: u32, addr: u64) -> Option<(String, u64)> {
    let m = mapping_of(maps, addr)?;
    let file_off = addr - m.start + m.offset;
    // Through the process's root, for processes in other mount namespaces.
    let elf = elf_syms(&format!("/proc/{pid}/root{}", m.path?));
    let &(seg_off, seg_addr, _) = elf
        .segments
        .iter()
        .find(|&&(off, _, size)| off <= file_off && file_off < off + size)?;
    let vaddr = file_off - seg_off + seg_addr;
    let i = elf.syms.partition_point(|(a, _, _)| *a <= vaddr);
    let (start, size, name) = elf.syms.get(i.checked_sub(1)?)?;
    (vaddr - start < (*size).max(1)).then(|| (name.clone(), vaddr - start))
}

/// The text of `/proc/PID/maps` (empty once the process has exited).
fn user_maps(pid: u32) -> String {
    std::fs::read_to_string(format!("/proc/{pid}/maps")).unwrap_or_default()
}

/// An address as bpftrace prints one it cannot name (C++'s `showbase`: `0` has no `0x`).
fn hex(addr: u64) -> String {
    if addr == 0 {
        "0".into()
    } else {
        format!("0x{addr:x}")
    }
}

/// `usym(addr)`: the name of the function holding `addr` in process `pid`, else the
/// address in hex.
pub fn usym(addr: u64, pid: u32) -> String {
    let maps = user_maps(pid);
    user_lookup(&proc_maps::parse(&maps), pid, addr).map_or_else(|| hex(addr), |(n, _)| n)
}

/// A user stack as bpftrace prints it (see [`kstack`]): frames `name+offset` from the
/// process's maps and its files' symbols, hex addresses for what does not resolve (every
/// frame once the process has exited); in perf mode each frame also names its mapped file
/// (`[unknown]` where none).
pub fn ustack(
    stacks: Stacks<'_>,
    id: u64,
    pid: u32,
    limit: u8,
    mode: StackMode,
    indent: usize,
) -> String {
    let text = user_maps(pid);
    let maps = proc_maps::parse(&text);
    print_stack(stacks, id, limit, |addr| {
        let name = user_lookup(&maps, pid, addr)
            .map_or_else(|| hex(addr), |(n, off)| format!("{n}+{off}"));
        match mode {
            StackMode::Bpftrace => format!("{}{name}", " ".repeat(indent)),
            StackMode::Perf => {
                let file = mapping_of(&maps, addr)
                    .and_then(|m| m.path)
                    .unwrap_or("[unknown]");
                format!("\t{addr:x} {name} ({file})")
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A failed `bpf_get_stackid` (kernel stack of a sample in user mode) prints nothing:
    /// bpftrace's `@k[]: 87` for `profile:hz:99 { @k[kstack] = count(); }`.
    #[test]
    fn a_failed_stack_id_prints_empty() {
        let efault = (-14i64) as u64;
        assert_eq!(kstack(None, efault, 3, StackMode::Bpftrace, 4), "");
        assert_eq!(kstack(None, efault, 3, StackMode::Perf, 4), "");
        assert_eq!(ustack(None, efault, 1, 3, StackMode::Perf, 4), "");
        // An id whose stack could not be read back: just the newline.
        assert_eq!(kstack(None, 5, 3, StackMode::Bpftrace, 4), "\n");
    }

    #[test]
    fn addresses_resolve_to_the_symbol_below_them() {
        let syms = parse_kallsyms(
            "ffffffff81000000 T _stext\nffffffff81000100 t helper\nffffffff81000200 d data\nffffffff81000300 T last [mod]\n",
        );
        assert_eq!(syms.len(), 3);
        assert_eq!(lookup(&syms, 0xffffffff81000104), Some(("helper", 4)));
        assert_eq!(lookup(&syms, 0xffffffff81000000), Some(("_stext", 0)));
        assert_eq!(lookup(&syms, 0x1000), None);
    }

    #[test]
    fn addresses_map_to_file_backed_mappings_only() {
        let maps = proc_maps::parse(
            "55d0a0000000-55d0a0001000 r-xp 00001000 08:01 123 /usr/bin/my prog\n7ffd1000-7ffd2000 rw-p 00000000 00:00 0 [stack]\n7f00-7f10 r--p 00000000 00:00 0\n",
        );
        assert_eq!(
            mapping_of(&maps, 0x55d0a0000010),
            Some(&Mapping {
                start: 0x55d0a0000000,
                end: 0x55d0a0001000,
                offset: 0x1000,
                path: Some("/usr/bin/my prog"),
            })
        );
        assert_eq!(mapping_of(&maps, 0x7ffd1008), None);
        assert_eq!(mapping_of(&maps, 0x7f08), None);
        assert_eq!(mapping_of(&maps, 0x55d0a0001000), None);
        assert_eq!(hex(0), "0");
        assert_eq!(hex(0x4d2), "0x4d2");
    }

    #[test]
    fn this_process_resolves_its_own_function() {
        #[inline(never)]
        fn marker() -> u64 {
            std::hint::black_box(42)
        }
        let addr = marker as fn() -> u64 as usize as u64;
        let pid = std::process::id();
        let name = usym(addr + 1, pid);
        assert!(name.contains("marker"), "{name}");
        assert_eq!(usym(0, pid), "0");
    }
}
