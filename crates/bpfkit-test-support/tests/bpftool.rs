//! The bpftool helpers report what the kernel holds, and clean up after themselves.

use std::path::Path;

use bpfkit_test_support::{
    btf_kind_counts, btf_types, corpus_dir, map_show, prog_dump_xlated, prog_dump_xlated_text,
    prog_list, prog_loadall, prog_show, VMLINUX_BTF,
};

#[test]
fn loadall_execsnoop_reports_programs_maps_and_xlated_code_then_unloads() {
    let loaded = prog_loadall(&corpus_dir().join("libbpf-tools/execsnoop.bpf.o")).unwrap();
    let names: Vec<&str> = loaded
        .programs
        .iter()
        .map(|p| p.pin_name.as_str())
        .collect();
    assert_eq!(
        names,
        [
            "tracepoint__syscalls__sys_enter_execve",
            "tracepoint__syscalls__sys_exit_execve"
        ]
    );
    let enter = &loaded.programs[0];
    assert_eq!(enter.prog_type, "tracepoint");
    assert_eq!(enter.name, "tracepoint__syscalls__sys_enter_execve");
    assert_eq!(prog_show(enter.id).unwrap()["id"], enter.id);
    assert!(prog_list().unwrap().iter().any(|p| p["id"] == enter.id));

    let execs = loaded.map("execs").unwrap();
    let info = map_show(execs.id).unwrap();
    assert_eq!(info["type"], "hash");
    assert_eq!(
        (
            &info["bytes_key"],
            &info["bytes_value"],
            &info["max_entries"]
        ),
        (&4.into(), &7720.into(), &10240.into())
    );

    let xlated = prog_dump_xlated(enter.id).unwrap();
    assert_eq!(xlated.len(), enter.xlated_insns);
    // The kernel's dump names maps by id in ld_imm64 (BPF_PSEUDO_MAP_FD/VALUE).
    let map_refs: Vec<u32> = xlated
        .iter()
        .filter(|i| i.is_ld_imm64() && matches!(i.src_reg, 1 | 2))
        .map(|i| i.imm as u32)
        .collect();
    assert!(!map_refs.is_empty());
    assert!(map_refs.iter().all(|id| enter.map_ids.contains(id)));
    assert!(map_refs.contains(&execs.id));

    let text = prog_dump_xlated_text(enter.id).unwrap();
    assert!(text.starts_with("int tracepoint__syscalls__sys_enter_execve("));
    assert!(
        text.contains("   0: (bf) r"),
        "{}",
        &text[..200.min(text.len())]
    );

    let (id, dir) = (enter.id, loaded.pin_dir().to_path_buf());
    drop(loaded);
    assert!(!dir.exists());
    assert!(prog_show(id).is_err(), "program {id} still loaded");
}

#[test]
fn loadall_failure_carries_libbpf_and_kernel_messages() {
    // tcprtt has an fentry program: ftrace is locked down on the host, EPERM.
    let err = prog_loadall(&corpus_dir().join("libbpf-tools/tcprtt.bpf.o")).unwrap_err();
    assert!(
        err.contains("prog 'tcp_rcv': BPF program load failed: Operation not permitted"),
        "{err}"
    );
}

#[test]
fn vmlinux_btf_kind_counts_are_contiguous_ids_with_the_expected_kinds() {
    let vmlinux = Path::new(VMLINUX_BTF);
    let counts = btf_kind_counts(vmlinux).unwrap();
    let types = btf_types(vmlinux).unwrap();
    assert_eq!(counts["total"], types.len());
    assert_eq!(
        counts
            .iter()
            .filter(|(k, _)| *k != "total")
            .map(|(_, n)| n)
            .sum::<usize>(),
        types.len()
    );
    assert!(types
        .iter()
        .enumerate()
        .all(|(i, t)| t.id as usize == i + 1));
    for kind in [
        "INT",
        "STRUCT",
        "FUNC",
        "FUNC_PROTO",
        "ENUM",
        "VAR",
        "DATASEC",
    ] {
        assert!(
            counts.get(kind).copied().unwrap_or(0) > 0,
            "{kind}: {counts:?}"
        );
    }
    let int = types
        .iter()
        .find(|t| t.kind == "INT" && t.name.as_deref() == Some("int"))
        .unwrap();
    assert_eq!(int.size, Some(4));
}

#[test]
fn libbpf_load_pinned_sizes_maps_and_matches_bpftool_xlated() {
    use bpfkit_test_support::{libbpf_load_pinned, mask_fd_immediates, RelocateOptions};
    let dir = corpus_dir().join("libbpf-tools");

    let opts = RelocateOptions {
        max_entries: vec![("start".into(), 16), ("hists".into(), 32)],
        ..Default::default()
    };
    let cpudist = libbpf_load_pinned(&dir.join("cpudist.bpf.o"), &opts).unwrap();
    let names: Vec<&str> = cpudist
        .programs
        .iter()
        .map(|p| p.pin_name.as_str())
        .collect();
    assert_eq!(names, ["sched_switch_btf", "sched_switch_tp"]);
    let start = map_show(cpudist.map("start").unwrap().id).unwrap();
    assert_eq!(start["max_entries"], 16);
    let hists = map_show(cpudist.map("hists").unwrap().id).unwrap();
    assert_eq!(hists["max_entries"], 32);
    let pin_dir = cpudist.pin_dir().to_path_buf();
    drop(cpudist);
    assert!(!pin_dir.exists());

    // The same object loaded by libbpf twice (oracle, bpftool): identical xlated code
    // once map ids are masked.
    let obj = dir.join("execsnoop.bpf.o");
    let by_oracle = libbpf_load_pinned(&obj, &RelocateOptions::default()).unwrap();
    let by_bpftool = prog_loadall(&obj).unwrap();
    assert_eq!(by_oracle.programs.len(), 2);
    for (a, b) in by_oracle.programs.iter().zip(&by_bpftool.programs) {
        assert_eq!(a.pin_name, b.pin_name);
        assert_ne!(a.id, b.id);
        assert_eq!(
            mask_fd_immediates(&prog_dump_xlated(a.id).unwrap()),
            mask_fd_immediates(&prog_dump_xlated(b.id).unwrap()),
            "{}",
            a.pin_name
        );
    }
}
