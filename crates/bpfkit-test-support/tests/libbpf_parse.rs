//! `libbpf_parse` reports what libbpf itself sees in corpus objects.

use bpfkit_test_support::{corpus_dir, corpus_objects, libbpf_parse};

#[test]
fn execsnoop_programs_and_maps_match_libbpf() {
    let obj = libbpf_parse(&corpus_dir().join("libbpf-tools/execsnoop.bpf.o")).unwrap();
    let progs: Vec<(&str, &str, u32, Option<&str>, bool)> = obj
        .programs
        .iter()
        .map(|p| {
            (
                p.name.as_str(),
                p.section.as_str(),
                p.prog_type,
                p.prog_type_name.as_deref(),
                p.autoload,
            )
        })
        .collect();
    assert_eq!(
        progs,
        [
            (
                "tracepoint__syscalls__sys_enter_execve",
                "tracepoint/syscalls/sys_enter_execve",
                5, // BPF_PROG_TYPE_TRACEPOINT
                Some("tracepoint"),
                true
            ),
            (
                "tracepoint__syscalls__sys_exit_execve",
                "tracepoint/syscalls/sys_exit_execve",
                5,
                Some("tracepoint"),
                true
            ),
        ]
    );
    assert_eq!(obj.programs[0].insn_count, 1935);
    assert_eq!(obj.programs[1].insn_count, 62);

    let execs = obj.map("execs").unwrap();
    assert_eq!(execs.map_type_name.as_deref(), Some("hash"));
    assert_eq!(
        (execs.key_size, execs.value_size, execs.max_entries),
        (4, 7720, 10240)
    );
    let events = obj.map("events").unwrap();
    assert_eq!(events.map_type_name.as_deref(), Some("perf_event_array"));
    let rodata = obj.map("execsnoo.rodata").unwrap();
    assert!(rodata.internal);
    assert_eq!(rodata.map_type, 2); // BPF_MAP_TYPE_ARRAY
}

#[test]
fn tp_btf_program_reports_expected_attach_type() {
    let obj = libbpf_parse(&corpus_dir().join("libbpf-tools/biolatency.bpf.o")).unwrap();
    let prog = obj.program("block_rq_insert_btf").unwrap();
    assert_eq!(prog.section, "tp_btf/block_rq_insert");
    assert_eq!(prog.prog_type_name.as_deref(), Some("tracing"));
    assert_eq!(prog.expected_attach_type, 23); // BPF_TRACE_RAW_TP
    assert_eq!(
        prog.expected_attach_type_name.as_deref(),
        Some("trace_raw_tp")
    );
}

#[test]
fn legacy_maps_section_is_refused_with_libbpf_message() {
    let err = libbpf_parse(&corpus_dir().join("cilium/testdata/invalid_map-el.elf")).unwrap_err();
    assert!(err.starts_with("errno 95 "), "{err}");
    assert!(
        err.contains("legacy map definitions in 'maps' section are not supported"),
        "{err}"
    );
}

#[test]
fn every_corpus_object_gets_an_answer_from_several_threads() {
    let objects = corpus_objects();
    assert!(objects.len() >= 60, "corpus has {} objects", objects.len());
    let results: Vec<(std::path::PathBuf, Result<usize, String>)> = std::thread::scope(|s| {
        let handles: Vec<_> = objects
            .chunks(objects.len().div_ceil(4))
            .map(|chunk| {
                s.spawn(move || {
                    chunk
                        .iter()
                        .map(|p| (p.clone(), libbpf_parse(p).map(|o| o.programs.len())))
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().unwrap())
            .collect()
    });
    let opened = results.iter().filter(|(_, r)| r.is_ok()).count();
    // Every libbpf-tools object opens; a few cilium test objects are invalid on purpose.
    for (path, result) in &results {
        if path.to_string_lossy().contains("libbpf-tools") {
            assert!(
                matches!(result, Ok(n) if *n > 0),
                "{}: {result:?}",
                path.display()
            );
        }
    }
    assert!(opened >= 52, "only {opened} objects opened");
}

#[test]
fn libbpf_btf_find_agrees_with_bpftool_on_vmlinux() {
    let vmlinux = std::path::Path::new(bpfkit_test_support::VMLINUX_BTF);
    let found = bpfkit_test_support::libbpf_btf_find(
        vmlinux,
        &["task_struct", "bpfkit_no_such_type", "int", "do_unlinkat"],
    )
    .unwrap();
    let types = bpfkit_test_support::btf_types(vmlinux).unwrap();
    let by_bpftool = |kind: &str, name: &str| {
        types
            .iter()
            .find(|t| t.kind == kind && t.name.as_deref() == Some(name))
            .unwrap()
    };
    let task = by_bpftool("STRUCT", "task_struct");
    assert_eq!(
        (found[0].id, found[0].kind, found[0].size),
        (Some(task.id), Some(4), task.size)
    );
    assert_eq!((found[1].id, found[1].kind), (None, None));
    assert_eq!(
        (found[2].id, found[2].size),
        (Some(by_bpftool("INT", "int").id), Some(4))
    );
    let func = by_bpftool("FUNC", "do_unlinkat");
    assert_eq!((found[3].id, found[3].kind), (Some(func.id), Some(12)));
}

#[test]
fn libbpf_load_counts_loaded_programs_or_reports_why_not() {
    let dir = corpus_dir().join("libbpf-tools");
    let opts = bpfkit_test_support::RelocateOptions::default();
    assert_eq!(
        bpfkit_test_support::libbpf_load(&dir.join("execsnoop.bpf.o"), &opts),
        Ok(2)
    );
    let err = bpfkit_test_support::libbpf_load(&dir.join("cpudist.bpf.o"), &opts).unwrap_err();
    assert!(err.contains("map 'start': failed to create"), "{err}");
    let sized = bpfkit_test_support::RelocateOptions {
        max_entries: vec![("start".into(), 16), ("hists".into(), 16)],
        ..Default::default()
    };
    assert_eq!(
        bpfkit_test_support::libbpf_load(&dir.join("cpudist.bpf.o"), &sized),
        Ok(2)
    );
}
