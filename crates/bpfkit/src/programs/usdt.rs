//! USDT probes (`SEC("usdt/<binary>:<provider>:<name>")`): SystemTap SDT notes in
//! `.note.stapsdt` are read from the ELF, each call site's argument specification (`-4@%eax`,
//! `8@-8(%rbp)`, `4@$5`) is turned into libbpf's `struct __bpf_usdt_spec` and stored in the
//! program's `__bpf_usdt_specs` map, and a uprobe is attached at each call site with the spec id
//! as BPF cookie (the `usdt.bpf.h` protocol: `bpf_usdt_arg()` reads the spec back), raising the
//! probe's semaphore through the uprobe reference counter while attached.
//!
//! Where the call site address is known in advance (non-PIE executables, or a given pid), the
//! `__bpf_usdt_ip_to_spec_id` map is filled too, for kernels without BPF cookies. Spec ids are
//! handed out per specs map for the life of the process and not reused.

use std::collections::HashMap;
use std::path::Path;
use std::sync::Mutex;

use object::{Object, ObjectSection};

use crate::links::Link;
use crate::loader::Program;
use crate::maps::MapData;

use super::perf_attach::expect_type;
use super::uprobe::{self, address_to_file_offset, resolve_binary, UprobeOptions};
use super::{AttachError, ProgramType};

/// `BPF_USDT_MAX_ARG_CNT` of `usdt.bpf.h`.
pub const MAX_ARGS: usize = 12;
/// Size of `struct __bpf_usdt_spec`.
pub const SPEC_SIZE: usize = 208;

/// Options of a USDT attach.
#[derive(Debug, Clone, Default)]
pub struct UsdtOptions {
    /// Only this process.
    pub pid: Option<i32>,
    /// The value `bpf_usdt_cookie()` returns.
    pub usdt_cookie: u64,
}

/// One call site of a probe, as read from its note.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UsdtNote {
    /// Provider.
    pub provider: String,
    /// Probe name.
    pub name: String,
    /// Virtual address of the call site (after `.stapsdt.base` adjustment).
    pub address: u64,
    /// Virtual address of the semaphore, 0 if none.
    pub semaphore: u64,
    /// The argument specification string.
    pub args: String,
}

/// How `bpf_usdt_arg()` finds one argument (`enum __bpf_usdt_arg_type` and its operands).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UsdtArg {
    /// A constant (`$5`).
    Const { value: u64, size: i8 },
    /// A register (`%eax`): offset of the register in `struct pt_regs`.
    Reg { reg_off: i16, size: i8 },
    /// Memory at register + offset (`-8(%rbp)`).
    RegDeref { reg_off: i16, offset: i64, size: i8 },
}

/// Every note of `.note.stapsdt` in an ELF image.
pub fn parse_notes(data: &[u8]) -> Result<Vec<UsdtNote>, String> {
    let file = object::File::parse(data).map_err(|e| format!("not an ELF file: {e}"))?;
    let base_section = file.section_by_name(".stapsdt.base").map(|s| s.address());
    let Some(section) = file.section_by_name(".note.stapsdt") else {
        return Ok(Vec::new());
    };
    let bytes = section.data().map_err(|e| format!(".note.stapsdt: {e}"))?;
    let u32_at = |o: usize| {
        bytes
            .get(o..o + 4)
            .map(|b| u32::from_ne_bytes([b[0], b[1], b[2], b[3]]))
    };
    let u64_at = |d: &[u8], o: usize| {
        d.get(o..o + 8)
            .map(|b| u64::from_ne_bytes(b.try_into().unwrap_or([0; 8])))
    };
    let align4 = |n: usize| (n + 3) & !3;
    let mut notes = Vec::new();
    let mut off = 0;
    while off + 12 <= bytes.len() {
        let at = off;
        let bad = move || format!(".note.stapsdt: truncated note at offset {at:#x}");
        let namesz = u32_at(off).ok_or_else(bad)? as usize;
        let descsz = u32_at(off + 4).ok_or_else(bad)? as usize;
        let note_type = u32_at(off + 8).ok_or_else(bad)?;
        let name_start = off + 12;
        let desc_start = name_start + align4(namesz);
        let next = desc_start + align4(descsz);
        let name = bytes.get(name_start..name_start + namesz).ok_or_else(bad)?;
        let desc = bytes.get(desc_start..desc_start + descsz).ok_or_else(bad)?;
        off = next;
        if name != b"stapsdt\0" || note_type != 3 {
            continue;
        }
        let (Some(pc), Some(note_base), Some(semaphore)) =
            (u64_at(desc, 0), u64_at(desc, 8), u64_at(desc, 16))
        else {
            return Err(bad());
        };
        let mut strings = desc.get(24..).unwrap_or_default().split(|&b| b == 0);
        let mut next_str = || {
            strings
                .next()
                .map(|s| String::from_utf8_lossy(s).into_owned())
        };
        let (Some(provider), Some(probe), args) =
            (next_str(), next_str(), next_str().unwrap_or_default())
        else {
            return Err(bad());
        };
        // Prelinked binaries moved: shift by how far .stapsdt.base moved from the note's idea.
        let address = match base_section {
            Some(actual) if note_base != 0 => pc.wrapping_add(actual).wrapping_sub(note_base),
            _ => pc,
        };
        notes.push(UsdtNote {
            provider,
            name: probe,
            address,
            semaphore,
            args,
        });
    }
    Ok(notes)
}

/// `struct pt_regs` offset of an x86-64 register, by any of its names (`rax`, `eax`, `ax`, `al`).
fn x86_64_reg_off(reg: &str) -> Option<i16> {
    const REGS: &[(&[&str], i16)] = &[
        (&["r15", "r15d", "r15w", "r15b"], 0),
        (&["r14", "r14d", "r14w", "r14b"], 8),
        (&["r13", "r13d", "r13w", "r13b"], 16),
        (&["r12", "r12d", "r12w", "r12b"], 24),
        (&["rbp", "ebp", "bp", "bpl"], 32),
        (&["rbx", "ebx", "bx", "bl", "bh"], 40),
        (&["r11", "r11d", "r11w", "r11b"], 48),
        (&["r10", "r10d", "r10w", "r10b"], 56),
        (&["r9", "r9d", "r9w", "r9b"], 64),
        (&["r8", "r8d", "r8w", "r8b"], 72),
        (&["rax", "eax", "ax", "al", "ah"], 80),
        (&["rcx", "ecx", "cx", "cl", "ch"], 88),
        (&["rdx", "edx", "dx", "dl", "dh"], 96),
        (&["rsi", "esi", "si", "sil"], 104),
        (&["rdi", "edi", "di", "dil"], 112),
        (&["rip", "eip", "ip"], 128),
        (&["rsp", "esp", "sp", "spl"], 152),
    ];
    REGS.iter()
        .find(|(names, _)| names.contains(&reg))
        .map(|(_, off)| *off)
}

/// `struct user_pt_regs` offset of an arm64 register (`x0`..`x30`, `w0`.., `sp`).
fn aarch64_reg_off(reg: &str) -> Option<i16> {
    if reg == "sp" {
        return Some(31 * 8);
    }
    let n: i16 = reg
        .strip_prefix('x')
        .or_else(|| reg.strip_prefix('w'))?
        .parse()
        .ok()?;
    (0..31).contains(&n).then_some(n * 8)
}

/// Parse one argument (`-4@%eax`, `8@-8(%rbp)`, `4@$5`; arm64: `-4@x0`, `8@[sp, 16]`, `4@5`).
pub fn parse_arg(spec: &str) -> Option<UsdtArg> {
    let (size, loc) = spec.split_once('@')?;
    let size: i8 = size.parse().ok()?;
    if !matches!(size.unsigned_abs(), 1 | 2 | 4 | 8) {
        return None;
    }
    if std::env::consts::ARCH == "aarch64" {
        if let Some(inner) = loc.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
            let (reg, off) = inner
                .split_once(',')
                .map_or((inner, "0"), |(r, o)| (r, o.trim()));
            return Some(UsdtArg::RegDeref {
                reg_off: aarch64_reg_off(reg.trim())?,
                offset: off.parse().ok()?,
                size,
            });
        }
        if let Some(off) = aarch64_reg_off(loc) {
            return Some(UsdtArg::Reg { reg_off: off, size });
        }
        return Some(UsdtArg::Const {
            value: loc.parse::<i64>().ok()? as u64,
            size,
        });
    }
    if let Some(c) = loc.strip_prefix('$') {
        return Some(UsdtArg::Const {
            value: parse_int(c)? as u64,
            size,
        });
    }
    if let Some(reg) = loc.strip_prefix('%') {
        return Some(UsdtArg::Reg {
            reg_off: x86_64_reg_off(reg)?,
            size,
        });
    }
    let (off, rest) = loc.split_once('(')?;
    let reg = rest.strip_suffix(')')?.strip_prefix('%')?;
    let offset = if off.is_empty() { 0 } else { parse_int(off)? };
    Some(UsdtArg::RegDeref {
        reg_off: x86_64_reg_off(reg)?,
        offset,
        size,
    })
}

/// A decimal or `0x` hex integer with an optional leading `-`, within i64 (`-0x8000000000000000`
/// included); a second sign (`-0x-5`) or an overflow is `None`.
fn parse_int(s: &str) -> Option<i64> {
    let (neg, digits) = s.strip_prefix('-').map_or((false, s), |d| (true, d));
    let (radix, digits) = digits.strip_prefix("0x").map_or((10, digits), |h| (16, h));
    if !digits.chars().next()?.is_ascii_hexdigit() {
        return None;
    }
    let magnitude = i128::from(u64::from_str_radix(digits, radix).ok()?);
    i64::try_from(if neg { -magnitude } else { magnitude }).ok()
}

/// The `struct __bpf_usdt_spec` bytes for an argument string and cookie.
pub fn encode_spec(args: &str, usdt_cookie: u64) -> Result<[u8; SPEC_SIZE], String> {
    let mut out = [0u8; SPEC_SIZE];
    let parts: Vec<&str> = args.split_whitespace().collect();
    if parts.len() > MAX_ARGS {
        return Err(format!(
            "{} arguments, at most {MAX_ARGS} supported",
            parts.len()
        ));
    }
    for (i, part) in parts.iter().enumerate() {
        let arg = parse_arg(part).ok_or_else(|| format!("cannot parse argument {i} '{part}'"))?;
        let (val_off, arg_type, reg_off, size) = match arg {
            UsdtArg::Const { value, size } => (value, 0u32, 0i16, size),
            UsdtArg::Reg { reg_off, size } => (0, 1, reg_off, size),
            UsdtArg::RegDeref {
                reg_off,
                offset,
                size,
            } => (offset as u64, 2, reg_off, size),
        };
        let rec = &mut out[i * 16..i * 16 + 16];
        rec[0..8].copy_from_slice(&val_off.to_ne_bytes());
        rec[8..12].copy_from_slice(&arg_type.to_ne_bytes());
        rec[12..14].copy_from_slice(&reg_off.to_ne_bytes());
        rec[14] = u8::from(size < 0);
        rec[15] = (64 - 8 * size.unsigned_abs() as i32) as u8;
    }
    out[192..200].copy_from_slice(&usdt_cookie.to_ne_bytes());
    out[200..202].copy_from_slice(&(parts.len() as i16).to_ne_bytes());
    Ok(out)
}

/// The program's map whose kernel name starts with `prefix` (kernel names keep 15 bytes).
fn program_map(program: &Program, prefix: &str) -> Option<MapData> {
    let info = program.info().ok()?;
    info.map_ids.iter().find_map(|&id| {
        let map = MapData::from_id(id).ok()?;
        let kernel_name = map.name();
        (!kernel_name.is_empty() && prefix.starts_with(kernel_name)).then_some(map)
    })
}

static NEXT_SPEC_ID: Mutex<Option<HashMap<u32, u32>>> = Mutex::new(None);

fn allocate_spec_id(map_id: u32, capacity: u32) -> Option<u32> {
    let mut guard = NEXT_SPEC_ID.lock().unwrap_or_else(|p| p.into_inner());
    let next = guard
        .get_or_insert_with(HashMap::new)
        .entry(map_id)
        .or_insert(0);
    (*next < capacity).then(|| {
        *next += 1;
        *next - 1
    })
}

/// Attach a USDT program to every call site of `provider:name` in `binary`.
///
/// ```no_run
/// # let object = bpfkit::loader::Loader::new().load_file("usdt.bpf.o")?;
/// use bpfkit::programs::usdt::{attach, UsdtOptions};
/// let program = object.program("on_tick").unwrap();
/// let link = attach(program, "/usr/bin/myapp", "myapp", "tick", &UsdtOptions::default())?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[doc(alias = "usdt")]
pub fn attach(
    program: &Program,
    binary: &str,
    provider: &str,
    name: &str,
    options: &UsdtOptions,
) -> Result<Link, AttachError> {
    expect_type(program, &[ProgramType::Kprobe], "a KPROBE (usdt) program")?;
    let prog = program.name();
    let target = format!("{binary}:{provider}:{name}");
    let path = resolve_binary(binary, options.pid)
        .ok_or_else(|| AttachError::target(prog, binary, "no such file, library or executable"))?;
    let data = crate::sys::fdtrace::read(&path, "USDT binary")
        .map_err(|e| AttachError::io(prog, format!("read {}", path.display()), e))?;
    let file = object::File::parse(&*data).map_err(|e| {
        AttachError::target(
            prog,
            &target,
            format!("{}: not an ELF file: {e}", path.display()),
        )
    })?;
    let notes: Vec<UsdtNote> = parse_notes(&data)
        .map_err(|e| AttachError::target(prog, &target, format!("{}: {e}", path.display())))?
        .into_iter()
        .filter(|n| n.provider == provider && n.name == name)
        .collect();
    if notes.is_empty() {
        return Err(AttachError::target(
            prog,
            &target,
            format!("no such USDT probe in {}", path.display()),
        ));
    }
    let specs = program_map(program, "__bpf_usdt_specs").ok_or_else(|| {
        AttachError::target(
            prog,
            &target,
            "the program uses no __bpf_usdt_specs map (is it built with usdt.bpf.h?)",
        )
    })?;
    let ip_map = program_map(program, "__bpf_usdt_ip_to_spec_id");
    let specs_id = specs
        .id()
        .map_err(|e| AttachError::target(prog, &target, e.to_string()))?;
    let is_exec = file.kind() == object::ObjectKind::Executable;
    let load_bias = match (is_exec, options.pid) {
        (true, _) => Some(0),
        (false, Some(pid)) => load_bias(pid, &path, &file),
        (false, None) => None,
    };
    let mut links = Vec::with_capacity(notes.len());
    for note in &notes {
        let site = format!("{target} at {:#x}", note.address);
        let offset = address_to_file_offset(&file, note.address).ok_or_else(|| {
            AttachError::target(prog, &site, "the call site is in no loadable segment")
        })?;
        let ref_ctr_offset = if note.semaphore != 0 {
            address_to_file_offset(&file, note.semaphore).ok_or_else(|| {
                AttachError::target(prog, &site, "the semaphore is in no loadable segment")
            })?
        } else {
            0
        };
        let spec = encode_spec(&note.args, options.usdt_cookie).map_err(|e| {
            AttachError::target(prog, &site, format!("argument spec '{}': {e}", note.args))
        })?;
        let spec_id = allocate_spec_id(specs_id, specs.max_entries())
            .ok_or_else(|| AttachError::target(prog, &site, "__bpf_usdt_specs is full"))?;
        specs
            .update_bytes(&spec_id.to_ne_bytes(), &spec, 0)
            .map_err(|e| AttachError::target(prog, &site, format!("storing the spec: {e}")))?;
        if let (Some(ip_map), Some(bias)) = (&ip_map, load_bias) {
            let ip = note.address.wrapping_add(bias) as i64;
            if let Err(e) = ip_map.update_bytes(&ip.to_ne_bytes(), &spec_id.to_ne_bytes(), 0) {
                log::debug!("program '{prog}': {site}: ip map not filled: {e}");
            }
        }
        let uprobe_options = UprobeOptions {
            retprobe: false,
            pid: options.pid,
            cookie: Some(u64::from(spec_id)),
            ref_ctr_offset,
        };
        links.push(uprobe::attach_offset(
            program,
            &path,
            offset,
            &uprobe_options,
        )?);
    }
    Ok(if links.len() == 1 {
        links.remove(0)
    } else {
        Link::group(links)
    })
}

/// How far process `pid` moved `path` (mapped start − first PT_LOAD address), for a PIE/library.
fn load_bias(pid: i32, path: &Path, file: &object::File<'_>) -> Option<u64> {
    use object::ObjectSegment;
    let shown = path.canonicalize().ok()?;
    let start = super::proc_maps::with_process(pid, |m| super::proc_maps::start_of(m, &shown))?;
    let first = file.segments().map(|s| s.address()).min()?;
    Some(start.wrapping_sub(first & !0xfff))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn integers_keep_to_i64_and_one_sign() {
        assert_eq!(parse_int("-8"), Some(-8));
        assert_eq!(parse_int("0x10"), Some(16));
        assert_eq!(parse_int("-0x8000000000000000"), Some(i64::MIN));
        assert_eq!(parse_int("0x8000000000000000"), None);
        // Found by the usdt_notes fuzz target (fuzz/regressions/usdt_notes/): a sign after
        // `0x` made i64::MIN, whose negation overflowed.
        assert_eq!(parse_int("-0x-8000000000000000"), None);
        assert_eq!(parse_int("--5"), None);
        assert_eq!(parse_int("+5"), None);
        assert_eq!(parse_int(""), None);
    }

    #[cfg(target_arch = "x86_64")]
    #[test]
    fn x86_64_argument_specs() {
        assert_eq!(
            parse_arg("-4@$5"),
            Some(UsdtArg::Const { value: 5, size: -4 })
        );
        assert!(matches!(
            parse_arg("8@-8(%rbp)"),
            Some(UsdtArg::RegDeref {
                offset: -8,
                size: 8,
                ..
            })
        ));
        assert_eq!(
            parse_arg("8@-0x-0000000000000000000000000008000000000000000000(%)"),
            None
        );
    }
}
