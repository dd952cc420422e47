//! `bpfkit btf summary|show` against bpftool's view of the same BTF.

use std::collections::BTreeMap;
use std::process::{Command, Output};

use serde_json::Value;

const VMLINUX: &str = "/sys/kernel/btf/vmlinux";

fn bpfkit(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_bpfkit"))
        .args(args)
        .output()
        .expect("run bpfkit")
}

fn json_of(args: &[&str]) -> Value {
    let out = bpfkit(args);
    assert!(
        out.status.success(),
        "bpfkit {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("JSON")
}

fn bpftool_dump(path: &str) -> String {
    let out = Command::new("bpftool")
        .args(["btf", "dump", "file", path])
        .output()
        .unwrap();
    assert!(out.status.success());
    String::from_utf8(out.stdout).unwrap()
}

fn bpftool_kind_counts(dump: &str) -> BTreeMap<String, u64> {
    let mut counts = BTreeMap::new();
    for line in dump.lines().filter(|l| l.starts_with('[')) {
        *counts
            .entry(line.split_whitespace().nth(1).unwrap().to_string())
            .or_insert(0) += 1;
    }
    counts
}

fn our_kind_counts(summary: &Value) -> BTreeMap<String, u64> {
    summary["kinds"]
        .as_object()
        .unwrap()
        .iter()
        .map(|(k, v)| (k.clone(), v.as_u64().unwrap()))
        .filter(|(_, n)| *n > 0)
        .collect()
}

#[test]
fn summary_of_vmlinux_matches_bpftool_kind_counts() {
    let summary = json_of(&["btf", "summary", VMLINUX, "--json"]);
    let theirs = bpftool_kind_counts(&bpftool_dump(VMLINUX));
    assert_eq!(our_kind_counts(&summary), theirs);
    assert_eq!(
        summary["types"].as_u64().unwrap(),
        theirs.values().sum::<u64>()
    );
    assert_eq!(summary["source"], "raw");
    // string_bytes is the header's str_len.
    let bytes = std::fs::read(VMLINUX).unwrap();
    let str_len = u32::from_le_bytes(bytes[20..24].try_into().unwrap());
    assert_eq!(
        summary["string_bytes"].as_u64().unwrap(),
        u64::from(str_len)
    );
}

#[test]
fn summary_of_an_object_reads_its_btf_section() {
    let obj = bpfkit_test_support::corpus_dir().join("libbpf-tools/execsnoop.bpf.o");
    let obj = obj.to_str().unwrap();
    let summary = json_of(&["btf", "summary", obj, "--json"]);
    assert_eq!(summary["source"], "elf");
    assert_eq!(
        our_kind_counts(&summary),
        bpftool_kind_counts(&bpftool_dump(obj))
    );
    let text = bpfkit(&["btf", "summary", obj]);
    assert!(String::from_utf8(text.stdout).unwrap().contains(" types, "));
}

/// A member as (name, type_id, bits_offset, bitfield_size).
type MemberRow = (String, u64, u64, u64);

/// Id, size and members of bpftool's STRUCT 'name'.
fn bpftool_members(dump: &str, name: &str) -> (u64, u64, Vec<MemberRow>) {
    let needle = format!("] STRUCT '{name}' size=");
    let mut lines = dump.lines();
    let head = lines.by_ref().find(|l| l.contains(&needle)).unwrap();
    let num = |l: &str, key: &str| -> u64 {
        l.split_whitespace()
            .find_map(|w| w.strip_prefix(key))
            .map_or(0, |v| v.parse().unwrap())
    };
    let id = head[1..head.find(']').unwrap()].parse().unwrap();
    let members = lines
        .take_while(|l| l.starts_with('\t'))
        .map(|l| {
            let l = l.trim();
            let q = l[1..].find('\'').unwrap() + 1;
            let n = &l[1..q];
            (
                if n == "(anon)" {
                    String::new()
                } else {
                    n.to_string()
                },
                num(l, "type_id="),
                num(l, "bits_offset="),
                num(l, "bitfield_size="),
            )
        })
        .collect();
    (id, num(head, "size="), members)
}

#[test]
fn show_json_of_kernel_structs_matches_bpftool_members_and_bitfields() {
    let dump = bpftool_dump(VMLINUX);
    let names = ["task_struct", "sk_buff", "inode"];
    let shown = json_of(&[
        "btf",
        "show",
        VMLINUX,
        "task_struct",
        "sk_buff",
        "inode",
        "--json",
    ]);
    let types = shown["types"].as_array().unwrap();
    for name in names {
        let (id, size, members) = bpftool_members(&dump, name);
        let t = types
            .iter()
            .find(|t| t["name"] == name && t["kind"] == "STRUCT")
            .unwrap_or_else(|| panic!("{name} not shown"));
        assert_eq!(t["id"].as_u64().unwrap(), id, "{name}");
        assert_eq!(t["size"].as_u64().unwrap(), size, "{name}");
        let ours: Vec<MemberRow> = t["members"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| {
                (
                    m["name"].as_str().unwrap().to_string(),
                    m["type_id"].as_u64().unwrap(),
                    m["bit_offset"].as_u64().unwrap(),
                    m["bitfield_size"].as_u64().unwrap(),
                )
            })
            .collect();
        assert_eq!(ours, members, "{name}");
    }
    let task = types.iter().find(|t| t["name"] == "task_struct").unwrap();
    let bitfield = task["members"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["name"] == "sched_reset_on_fork")
        .expect("task_struct.sched_reset_on_fork");
    assert_eq!(bitfield["bitfield_size"], 1);
    assert_eq!(bitfield["type_name"], "unsigned int");
}

#[test]
fn show_unknown_name_exits_1_naming_it() {
    let out = bpfkit(&["btf", "show", VMLINUX, "task_struct", "no_such_type_xyz"]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(err.contains("no type named 'no_such_type_xyz'"), "{err}");
    assert!(out.stdout.is_empty(), "nothing printed on error");
}

#[test]
fn show_text_lists_members_like_bpftool() {
    let out = bpfkit(&["btf", "show", VMLINUX, "list_head"]);
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    let (id, _, _) = bpftool_members(&bpftool_dump(VMLINUX), "list_head");
    assert!(
        text.starts_with(&format!("[{id}] STRUCT 'list_head' size=16 vlen=2\n")),
        "{text}"
    );
    assert!(text.contains("\t'next' type_id="), "{text}");
}
