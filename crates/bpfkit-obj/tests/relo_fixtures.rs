//! CO-RE on the project's C fixtures (clang-19) against this kernel: every kind, including
//! TYPE_MATCHES and `___flavor` types, relocates exactly as libbpf does.

mod relo_support;

use std::collections::BTreeSet;

use bpfkit_obj::btf::{Btf, Kind};
use bpfkit_obj::relo::{CoreReloKind, ReloOutcome};
use bpfkit_test_support::{fixture, libbpf_relocated, RelocateOptions};

#[test]
fn core_kinds_fixture_covers_all_13_kinds_and_matches_libbpf() {
    let (vmlinux_bytes, module_bytes) = relo_support::kernel_btf_bytes();
    let vmlinux = Btf::parse(&vmlinux_bytes).unwrap();
    let modules = relo_support::kernel_modules(&vmlinux, &module_bytes);
    let targets = relo_support::kernel_targets(&vmlinux, &modules);

    let path = fixture("core_kinds");
    let elf = std::fs::read(&path).unwrap();
    let ours = relo_support::relocate_object(&elf, &targets);
    let opts = RelocateOptions {
        fake_load: true,
        ..Default::default()
    };
    let libbpf = libbpf_relocated(&path, &opts).unwrap();
    assert_eq!(libbpf.load_error, None);
    let cmp = relo_support::assert_same_as_libbpf(&ours, &libbpf, "core_kinds");

    let applied: Vec<_> = ours
        .sections
        .values()
        .flat_map(|s| s.applied().iter().cloned())
        .collect();
    assert_eq!(
        cmp.relos,
        applied.len(),
        "every record compared with libbpf"
    );
    let kinds: BTreeSet<CoreReloKind> = applied.iter().map(|a| a.kind).collect();
    assert_eq!(kinds.len(), 13, "kinds: {kinds:?}");

    let task_struct = vmlinux
        .id_by_name_kind("task_struct", Kind::Struct)
        .unwrap();
    let value = |kind: CoreReloKind, type_name: &str| {
        applied
            .iter()
            .find(|a| a.kind == kind && a.local_type_name == type_name)
            .map(|a| (a.target_value, a.outcome))
            .unwrap_or_else(|| panic!("no {kind} relocation of {type_name}"))
    };
    let patched = ReloOutcome::Patched { mem_size: None };
    assert_eq!(
        value(CoreReloKind::TypeIdTarget, "task_struct"),
        (u64::from(task_struct), patched)
    );
    assert_eq!(
        value(CoreReloKind::TypeSize, "task_struct"),
        (vmlinux.resolve_size(task_struct).unwrap(), patched)
    );
    // vmlinux.h's own task_struct does not *match* the kernel's (libbpf agrees, compared
    // above): clang's BPF `char` (in `comm[]`) is SIGNED, the kernel's `char` has no encoding,
    // and TYPE_MATCHES compares int signedness. TYPE_EXISTS is looser.
    assert_eq!(
        value(CoreReloKind::TypeMatches, "task_struct"),
        (0, patched)
    );
    assert_eq!(value(CoreReloKind::TypeExists, "task_struct"), (1, patched));
    // The flavored subset view (two ints) matches the kernel's task_struct: TYPE_MATCHES
    // ignores the members it does not name. Its tgid read moves from 4 to the real offset.
    assert_eq!(
        value(CoreReloKind::TypeMatches, "task_struct___local_view"),
        (1, patched)
    );
    let tgid = vmlinux.type_by_id(task_struct).unwrap();
    let tgid_offset = tgid
        .members()
        .iter()
        .find(|m| m.name == "tgid")
        .unwrap()
        .bit_offset
        / 8;
    assert_eq!(
        value(CoreReloKind::FieldByteOffset, "task_struct___local_view"),
        (u64::from(tgid_offset), patched)
    );
    assert_eq!(
        value(CoreReloKind::FieldExists, "task_struct___missing"),
        (0, patched)
    );
    assert_eq!(value(CoreReloKind::EnumvalValue, "pid_type"), (2, patched));
    assert!(applied.iter().all(|a| a.outcome == patched), "{applied:#?}");
}

#[test]
fn every_fixture_with_core_records_relocates_like_libbpf() {
    let (vmlinux_bytes, module_bytes) = relo_support::kernel_btf_bytes();
    let vmlinux = Btf::parse(&vmlinux_bytes).unwrap();
    let modules = relo_support::kernel_modules(&vmlinux, &module_bytes);
    let targets = relo_support::kernel_targets(&vmlinux, &modules);
    let mut checked = Vec::new();
    for name in bpfkit_test_support::fixture_names() {
        let path = fixture(&name);
        let elf = std::fs::read(&path).unwrap();
        let ours = relo_support::relocate_object(&elf, &targets);
        let records: usize = ours.sections.values().map(|s| s.applied().len()).sum();
        if records == 0 {
            continue;
        }
        let libbpf = libbpf_relocated(
            &path,
            &RelocateOptions {
                fake_load: true,
                ..Default::default()
            },
        )
        .unwrap();
        if libbpf.programs.is_empty() {
            continue;
        }
        let cmp = relo_support::assert_same_as_libbpf(&ours, &libbpf, &name);
        checked.push((name, cmp.relos));
    }
    eprintln!("fixtures compared: {checked:?}");
    assert!(checked.iter().any(|(n, _)| n == "core_kinds"));
}
