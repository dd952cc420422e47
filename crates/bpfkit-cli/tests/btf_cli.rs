//! `bpfkit btf summary|show` against bpftool's view of the same BTF.

use std::collections::BTreeMap;
use std::path::Path;
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
fn show_prints_the_types_found_and_exits_1_naming_every_missing_one() {
    let out = bpfkit(&[
        "btf",
        "show",
        VMLINUX,
        "no_such_type_xyz",
        "list_head",
        "no_such_type_abc",
    ]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(
        err.contains("no type named 'no_such_type_xyz', 'no_such_type_abc'"),
        "{err}"
    );
    let text = String::from_utf8(out.stdout).unwrap();
    let (id, _, _) = bpftool_members(&bpftool_dump(VMLINUX), "list_head");
    assert!(
        text.starts_with(&format!("[{id}] STRUCT 'list_head' size=16 vlen=2\n")),
        "{text}"
    );
    // JSON: the found types, and the missing names.
    let out = bpfkit(&[
        "btf",
        "show",
        VMLINUX,
        "list_head",
        "no_such_type_xyz",
        "--json",
    ]);
    assert_eq!(out.status.code(), Some(1));
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["types"][0]["id"], id);
    assert_eq!(v["missing"], serde_json::json!(["no_such_type_xyz"]));
}

/// bpftool's dump of split BTF on `base`.
fn bpftool_dump_split(path: &Path, base: &Path) -> String {
    let out = Command::new("bpftool")
        .args(["btf", "dump", "file"])
        .arg(path)
        .arg("-B")
        .arg(base)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// Summary and show of split BTF on `base` (given with --base, or the default when `None`)
/// against bpftool's `-B` dump: kind counts, first id, and a struct whose members are base
/// types.
fn check_split_btf(split: &Path, base: Option<&Path>) {
    let base_path = base.unwrap_or(Path::new(VMLINUX));
    let split_str = split.to_str().unwrap();
    let mut args = vec!["btf", "summary", split_str, "--json"];
    if let Some(b) = base {
        args.extend(["--base", b.to_str().unwrap()]);
    }
    let summary = json_of(&args);
    let dump = bpftool_dump_split(split, base_path);
    assert_eq!(
        our_kind_counts(&summary),
        bpftool_kind_counts(&dump),
        "{split_str}"
    );
    assert_eq!(summary["base"], base_path.to_str().unwrap());
    let first_dump_id: u64 = dump
        .lines()
        .find(|l| l.starts_with('['))
        .and_then(|l| l[1..l.find(']')?].parse().ok())
        .unwrap();
    assert_eq!(
        summary["first_id"], first_dump_id,
        "ids continue after the base"
    );

    // The first split STRUCT with members: shown with the ids bpftool gives its members.
    let mut lines = dump
        .lines()
        .skip_while(|l| !(l.starts_with('[') && l.contains(" STRUCT '") && !l.ends_with("vlen=0")));
    let header = lines.next().expect("a split struct with members");
    let name = header.split('\'').nth(1).unwrap();
    let mut args = vec!["btf", "show", split_str, name, "--json"];
    if let Some(b) = base {
        args.extend(["--base", b.to_str().unwrap()]);
    }
    let shown = json_of(&args);
    let ty = shown["types"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["id"].as_u64() == header[1..header.find(']').unwrap()].parse().ok())
        .unwrap_or_else(|| panic!("{name} of {header} not shown: {shown}"));
    let theirs: Vec<u64> = lines
        .take_while(|l| l.starts_with('\t'))
        .map(|l| {
            let at = l.find("type_id=").unwrap() + 8;
            l[at..].split_whitespace().next().unwrap().parse().unwrap()
        })
        .collect();
    let ours: Vec<u64> = ty["members"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["type_id"].as_u64().unwrap())
        .collect();
    assert_eq!(ours, theirs, "{name}");
    assert!(
        ty["members"]
            .as_array()
            .unwrap()
            .iter()
            .all(|m| !m["type_name"].as_str().unwrap().starts_with("<bad type")),
        "member types resolve through the base: {ty}"
    );
}

#[test]
fn split_module_btf_reads_on_its_base() {
    // A module of the running kernel: the base defaults to its vmlinux.
    let module = std::fs::read_dir("/sys/kernel/btf")
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.path())
        .find(|p| !p.ends_with("vmlinux"));
    match &module {
        Some(m) => check_split_btf(m, None),
        None => println!("SKIP module BTF of the running kernel: /sys/kernel/btf has only vmlinux"),
    }
    // cilium's test module on its own vmlinux, named with --base.
    let dir = bpfkit_test_support::corpus_dir().join("cilium/btf/testdata");
    let out = Command::new("gzip")
        .arg("-dc")
        .arg(dir.join("vmlinux.btf.gz"))
        .output()
        .unwrap();
    assert!(out.status.success());
    let base = Path::new(env!("CARGO_TARGET_TMPDIR")).join("bpfkit-cli-cilium-vmlinux.btf");
    std::fs::write(&base, &out.stdout).unwrap();
    let testmod = dir.join("btf_testmod.btf");
    check_split_btf(&testmod, Some(&base));
    // Without --base the testmod is still detected as split and read on the running
    // kernel's vmlinux (the wrong base for it, but ids continue after it).
    let summary = json_of(&["btf", "summary", testmod.to_str().unwrap(), "--json"]);
    assert_eq!(summary["base"], VMLINUX);
    assert_eq!(summary["types"], 191);
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
