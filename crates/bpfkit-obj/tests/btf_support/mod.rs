//! Helpers shared by the BTF integration tests: reading sections and running bpftool.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;

use bpfkit_obj::btf::Member;
use object::{Object, ObjectSection};

pub const VMLINUX: &str = "/sys/kernel/btf/vmlinux";

/// The named section of an ELF file, if present.
pub fn elf_section(path: &Path, name: &str) -> Option<Vec<u8>> {
    let bytes = std::fs::read(path).expect("read object");
    let file = object::File::parse(&*bytes).expect("parse ELF");
    let section = file.section_by_name(name)?;
    Some(section.data().expect("section data").to_vec())
}

/// Every corpus object that has a `.BTF` section, with that section.
pub fn corpus_btf() -> Vec<(std::path::PathBuf, Vec<u8>)> {
    bpfkit_test_support::corpus_objects()
        .into_iter()
        .filter_map(|p| elf_section(&p, ".BTF").map(|b| (p, b)))
        .collect()
}

/// `bpftool btf dump file PATH` as text.
pub fn bpftool_dump(path: &str) -> String {
    let out = Command::new("bpftool")
        .args(["btf", "dump", "file", path])
        .output()
        .expect("run bpftool");
    assert!(
        out.status.success(),
        "bpftool failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("utf8")
}

/// Types per kind name in a bpftool text dump.
pub fn bpftool_kind_counts(dump: &str) -> BTreeMap<String, usize> {
    let mut counts = BTreeMap::new();
    for line in dump.lines().filter(|l| l.starts_with('[')) {
        let kind = line.split_whitespace().nth(1).expect("kind column");
        *counts.entry(kind.to_string()).or_insert(0) += 1;
    }
    counts
}

/// A struct member as bpftool prints it.
#[derive(Debug, PartialEq, Eq)]
pub struct DumpMember {
    pub name: String,
    pub type_id: u32,
    pub bit_offset: u32,
    pub bitfield_size: u32,
}

impl DumpMember {
    /// One trimmed member line of a bpftool dump:
    /// `'name' type_id=N bits_offset=N [bitfield_size=N]`, `(anon)` for no name.
    pub fn parse(l: &str) -> Self {
        let q = l[1..].find('\'').unwrap() + 1;
        DumpMember {
            name: if &l[1..q] == "(anon)" {
                String::new()
            } else {
                l[1..q].to_string()
            },
            type_id: field(l, "type_id="),
            bit_offset: field(l, "bits_offset="),
            bitfield_size: if l.contains("bitfield_size=") {
                field(l, "bitfield_size=")
            } else {
                0
            },
        }
    }

    /// bpfkit's members of a struct or union, in the same form.
    pub fn ours(members: &[Member<'_>]) -> Vec<Self> {
        members
            .iter()
            .map(|m| DumpMember {
                name: m.name.to_string(),
                type_id: m.type_id,
                bit_offset: m.bit_offset,
                bitfield_size: u32::from(m.bitfield_size),
            })
            .collect()
    }
}

/// The id, size and members of `STRUCT 'name'` in a bpftool text dump.
pub fn bpftool_struct(dump: &str, name: &str) -> (u32, u32, Vec<DumpMember>) {
    let needle = format!("] STRUCT '{name}' size=");
    let mut lines = dump.lines();
    let head = lines
        .by_ref()
        .find(|l| l.contains(&needle))
        .unwrap_or_else(|| panic!("bpftool has no struct {name}"));
    let id: u32 = head[1..head.find(']').unwrap()].parse().unwrap();
    let size: u32 = field(head, "size=");
    let mut members = Vec::new();
    for l in lines.take_while(|l| l.starts_with('\t')) {
        members.push(DumpMember::parse(l.trim()));
    }
    (id, size, members)
}

fn field(line: &str, key: &str) -> u32 {
    let start = line.find(key).unwrap_or_else(|| panic!("{key} in {line}")) + key.len();
    line[start..]
        .split(|c: char| !c.is_ascii_digit())
        .next()
        .unwrap()
        .parse()
        .unwrap()
}

/// Compile a C fixture of `tests/btf_fixtures` with clang-19 into the test temp dir.
pub fn build_fixture(name: &str) -> std::path::PathBuf {
    build_fixture_for(name, "bpf")
}

/// Compile a C fixture for a clang BPF target (`bpf`, `bpfel`, `bpfeb`).
pub fn build_fixture_for(name: &str, target: &str) -> std::path::PathBuf {
    let src = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/btf_fixtures")
        .join(name);
    let out =
        Path::new(env!("CARGO_TARGET_TMPDIR")).join(name.replace(".c", &format!(".{target}.o")));
    // Tests run in parallel: compile to a private name, then rename atomically.
    let tmp = out.with_extension(
        format!(
            "{}.{:?}.tmp",
            std::process::id(),
            std::thread::current().id()
        )
        .replace(['(', ')'], ""),
    );
    let status = Command::new("clang-19")
        .args([
            "-O2",
            "-g",
            "-target",
            target,
            "-I/usr/include/x86_64-linux-gnu",
            "-c",
        ])
        .arg(&src)
        .arg("-o")
        .arg(&tmp)
        .status()
        .expect("run clang-19");
    assert!(status.success(), "clang-19 failed on {}", src.display());
    std::fs::rename(&tmp, &out).unwrap();
    out
}

/// Section sizes and global variable symbols of an ELF object, for DATASEC fix-up.
pub struct ElfLayout {
    pub sections: BTreeMap<String, u32>,
    pub vars: BTreeMap<String, bpfkit_obj::btf::VarSymbol>,
}

impl ElfLayout {
    pub fn read(path: &Path) -> Self {
        use object::ObjectSymbol;
        let bytes = std::fs::read(path).unwrap();
        let file = object::File::parse(&*bytes).unwrap();
        let sections = file
            .sections()
            .map(|s| (s.name().unwrap().to_string(), s.size() as u32))
            .collect();
        let mut vars = BTreeMap::new();
        for sym in file.symbols() {
            if sym.kind() != object::SymbolKind::Data || !sym.is_global() {
                continue;
            }
            let object::SymbolFlags::Elf { st_other, .. } = sym.flags() else {
                continue;
            };
            let vis = st_other & 3;
            vars.insert(
                sym.name().unwrap().to_string(),
                bpfkit_obj::btf::VarSymbol {
                    offset: sym.address() as u32,
                    hidden: vis == 1 || vis == 2,
                },
            );
        }
        ElfLayout { sections, vars }
    }
}

impl bpfkit_obj::btf::DatasecLayout for ElfLayout {
    fn section_size(&self, section: &str) -> Option<u32> {
        self.sections.get(section).copied()
    }
    fn variable(&self, _section: &str, var: &str) -> Option<bpfkit_obj::btf::VarSymbol> {
        self.vars.get(var).copied()
    }
}

/// Load BTF into the running kernel (`BPF_BTF_LOAD`); Err carries the kernel's log.
pub fn kernel_load_btf(bytes: &[u8]) -> Result<(), String> {
    #[repr(C)]
    struct BtfLoadAttr {
        btf: u64,
        btf_log_buf: u64,
        btf_size: u32,
        btf_log_size: u32,
        btf_log_level: u32,
        pad: [u8; 100],
    }
    let mut log = vec![0u8; 1 << 20];
    let attr = BtfLoadAttr {
        btf: bytes.as_ptr() as u64,
        btf_log_buf: log.as_mut_ptr() as u64,
        btf_size: bytes.len() as u32,
        btf_log_size: log.len() as u32,
        btf_log_level: 1,
        pad: [0; 100],
    };
    const BPF_BTF_LOAD: libc::c_long = 18;
    // SAFETY: attr points to a valid, zero-padded bpf_attr for BPF_BTF_LOAD whose buffers
    // (bytes, log) outlive the call; the size passed matches the struct.
    let fd = unsafe {
        libc::syscall(
            libc::SYS_bpf,
            BPF_BTF_LOAD,
            &attr as *const BtfLoadAttr,
            std::mem::size_of::<BtfLoadAttr>() as libc::c_uint,
        )
    };
    if fd < 0 {
        let err = std::io::Error::last_os_error();
        let end = log.iter().position(|&b| b == 0).unwrap_or(log.len());
        return Err(format!("{err}: {}", String::from_utf8_lossy(&log[..end])));
    }
    // SAFETY: fd was just returned by the kernel and is owned by nobody else.
    unsafe { libc::close(fd as libc::c_int) };
    Ok(())
}

/// `bpftool [-B base] btf dump file PATH` as text.
pub fn bpftool_dump_split(path: &Path, base: &Path) -> String {
    let out = Command::new("bpftool")
        .arg("-B")
        .arg(base)
        .args(["btf", "dump", "file"])
        .arg(path)
        .output()
        .expect("run bpftool");
    assert!(
        out.status.success(),
        "bpftool failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("utf8")
}

/// Check every `[id] KIND 'name'` line and every struct/union member line of a bpftool
/// dump against `btf`; returns the number of types checked.
pub fn assert_matches_bpftool_dump(btf: &bpfkit_obj::btf::Btf<'_>, dump: &str) -> usize {
    use bpfkit_obj::btf::Type;
    let mut checked = 0;
    let mut lines = dump.lines().peekable();
    while let Some(line) = lines.next() {
        let close = line.find(']').expect("[id]");
        let id: u32 = line[1..close].parse().unwrap();
        let mut words = line[close + 2..].splitn(2, ' ');
        let kind = words.next().unwrap();
        let rest = words.next().unwrap_or("");
        let name = rest
            .strip_prefix('\'')
            .and_then(|r| r.split('\'').next())
            .unwrap_or("");
        let t = btf.type_by_id(id).unwrap();
        assert_eq!(t.kind().name(), kind, "[{id}]");
        let ours = if t.name().is_empty() {
            "(anon)"
        } else {
            t.name()
        };
        assert_eq!(ours, name, "[{id}] name");
        let mut sub = Vec::new();
        while let Some(l) = lines.peek() {
            if !l.starts_with('\t') {
                break;
            }
            sub.push(lines.next().unwrap().trim());
        }
        if let Type::Struct(s) | Type::Union(s) = &t {
            let theirs: Vec<DumpMember> = sub.iter().map(|l| DumpMember::parse(l)).collect();
            let ours = DumpMember::ours(&s.members.to_vec());
            assert_eq!(ours, theirs, "[{id}] members");
        }
        checked += 1;
    }
    checked
}
