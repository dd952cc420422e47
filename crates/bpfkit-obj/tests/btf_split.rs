//! Split BTF (kernel modules) on top of its base, compared with bpftool's `-B base` dump.

mod btf_support;

use std::path::Path;

use bpfkit_obj::btf::{Btf, BtfMut, Kind, Type};
use btf_support::*;

/// Parse `split` on `base` and check every type against bpftool; returns (base, split)
/// type counts.
fn check_split(base_path: &Path, base_bytes: &[u8], split_path: &Path) -> (u32, usize) {
    let base = Btf::parse(base_bytes).unwrap();
    let split_bytes = std::fs::read(split_path).unwrap();
    let split = Btf::parse_split(&split_bytes, &base).unwrap();
    assert_eq!(
        split.local_ids().start,
        base.type_count(),
        "ids continue after the base"
    );
    let dump = bpftool_dump_split(split_path, base_path);
    let checked = assert_matches_bpftool_dump(&split, &dump);
    assert_eq!(checked, split.local_ids().len(), "{}", split_path.display());

    // Base types are reachable through the split BTF, by id and by name.
    let int = base.id_by_name_kind("int", Kind::Int).unwrap();
    assert_eq!(
        split.type_by_id(int).unwrap(),
        base.type_by_id(int).unwrap()
    );
    assert_eq!(split.id_by_name_kind("int", Kind::Int), Some(int));

    // The split blob round-trips byte-identical, strings offset after the base's.
    let written = BtfMut::from_btf(&split).unwrap().to_bytes().unwrap();
    assert!(
        written == split_bytes,
        "{}: round trip",
        split_path.display()
    );
    (base.type_count(), checked)
}

#[test]
fn module_btf_on_kernel_or_cilium_testmod_matches_bpftool() {
    let modules: Vec<_> = std::fs::read_dir("/sys/kernel/btf")
        .map(|d| {
            d.flatten()
                .map(|e| e.path())
                .filter(|p| !p.ends_with("vmlinux"))
                .collect()
        })
        .unwrap_or_default();
    if !modules.is_empty() {
        let base = std::fs::read(VMLINUX).unwrap();
        for m in modules.iter().take(20) {
            check_split(Path::new(VMLINUX), &base, m);
        }
        return;
    }
    // No module BTF on this kernel: cilium's testmod on its vmlinux.
    let dir = bpfkit_test_support::corpus_dir().join("cilium/btf/testdata");
    let gz = dir.join("vmlinux.btf.gz");
    let out = std::process::Command::new("gzip")
        .arg("-dc")
        .arg(&gz)
        .output()
        .unwrap();
    assert!(out.status.success());
    let base_path = Path::new(env!("CARGO_TARGET_TMPDIR")).join("cilium-vmlinux.btf");
    std::fs::write(&base_path, &out.stdout).unwrap();
    let (base_count, checked) = check_split(&base_path, &out.stdout, &dir.join("btf_testmod.btf"));
    assert_eq!(base_count, 106700, "cilium's vmlinux.btf ends at id 106699");
    assert_eq!(checked, 191);
}

#[test]
fn split_struct_members_resolve_into_the_base() {
    let dir = bpfkit_test_support::corpus_dir().join("cilium/btf/testdata");
    let out = std::process::Command::new("gzip")
        .arg("-dc")
        .arg(dir.join("vmlinux.btf.gz"))
        .output()
        .unwrap();
    let base = Btf::parse(&out.stdout).unwrap();
    let split_bytes = std::fs::read(dir.join("btf_testmod.btf")).unwrap();
    let split = Btf::parse_split(&split_bytes, &base).unwrap();
    // The testmod BTF carries its own copy of 'module' (id in the split range).
    let module = split
        .ids_by_name("module")
        .into_iter()
        .find(|&id| id >= base.type_count() && split.kind(id).unwrap() == Kind::Struct)
        .expect("split struct module");
    let Type::Struct(s) = split.type_by_id(module).unwrap() else {
        panic!()
    };
    assert_eq!(split.resolve_size(module).unwrap(), u64::from(s.size));
    let mut into_base = 0;
    for m in &s.members {
        split.type_by_id(m.type_id).unwrap();
        if m.type_id < base.type_count() {
            into_base += 1;
        }
    }
    assert!(into_base > 0, "module members use base types");
    // A split id is unknown to the base alone.
    assert!(base.type_by_id(module).is_err());
}

#[test]
fn split_btf_resolves_sizes_of_base_types_from_the_base() {
    let dir = bpfkit_test_support::corpus_dir().join("cilium/btf/testdata");
    let out = std::process::Command::new("gzip")
        .arg("-dc")
        .arg(dir.join("vmlinux.btf.gz"))
        .output()
        .unwrap();
    let base = Btf::parse(&out.stdout).unwrap();
    let split_bytes = std::fs::read(dir.join("btf_testmod.btf")).unwrap();
    let split = Btf::parse_split(&split_bytes, &base).unwrap();
    // Every sized base type (arrays included, whose element and count are read from the
    // base's bytes) has the same size seen through the split BTF.
    let mut arrays = 0;
    for id in 1..base.type_count() {
        if let Ok(size) = base.resolve_size(id) {
            assert_eq!(split.resolve_size(id).unwrap(), size, "type {id}");
            arrays += usize::from(base.kind(id).unwrap() == Kind::Array);
        }
    }
    assert!(arrays > 1000, "{arrays} arrays");
}
