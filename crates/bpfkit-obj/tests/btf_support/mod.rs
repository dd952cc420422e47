//! Helpers shared by the BTF integration tests: reading sections and running bpftool.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;

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
        let l = l.trim();
        let q = l[1..].find('\'').unwrap() + 1;
        members.push(DumpMember {
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
        });
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
