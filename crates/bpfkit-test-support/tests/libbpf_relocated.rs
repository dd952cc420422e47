//! `libbpf_relocated` catches the instructions libbpf hands to `bpf(BPF_PROG_LOAD)`.

use std::path::Path;

use bpfkit_test_support::{
    corpus_dir, corpus_objects_in, libbpf_parse, libbpf_relocated, mask_fd_immediates, Insn,
    RelocateOptions,
};

/// libbpf's poison for an unresolvable CO-RE relocation: `call 0xbad2310`.
fn is_core_poison(insn: &Insn) -> bool {
    insn.code == 0x85 && insn.imm == 0x0bad_2310
}

fn relocs_read(target: &Path) -> Vec<Insn> {
    let dir = corpus_dir().join("cilium/btf/testdata");
    let opts = RelocateOptions {
        btf_custom_path: Some(target.to_path_buf()),
        fake_load: true,
        ..Default::default()
    };
    let out = libbpf_relocated(&dir.join("relocs_read-el.elf"), &opts).unwrap();
    assert_eq!(out.load_error, None);
    assert_eq!(out.programs.len(), 1);
    let reads = out.program("reads").unwrap();
    assert!(reads.accepted);
    assert_eq!(reads.load.prog_type, 1); // BPF_PROG_TYPE_SOCKET_FILTER
    reads.load.insns.clone()
}

#[test]
fn cilium_relocs_read_resolves_against_its_target_btf() {
    let insns = relocs_read(&corpus_dir().join("cilium/btf/testdata/relocs_read_tgt-el.elf"));
    assert_eq!(insns.len(), 218);
    assert_eq!(insns.iter().filter(|i| is_core_poison(i)).count(), 0);
}

#[test]
fn custom_btf_path_changes_the_relocation_outcome() {
    // The fields relocs_read reads exist in its target BTF, not in vmlinux: libbpf
    // poisons the unresolvable relocations when vmlinux is the target.
    let with_vmlinux = relocs_read(Path::new("/sys/kernel/btf/vmlinux"));
    assert_eq!(with_vmlinux.len(), 218);
    assert_eq!(
        with_vmlinux.iter().filter(|i| is_core_poison(i)).count(),
        44
    );
}

#[test]
fn execsnoop_loads_on_host_kernel_with_masked_map_fds_stable_across_runs() {
    let path = corpus_dir().join("libbpf-tools/execsnoop.bpf.o");
    let first = libbpf_relocated(&path, &RelocateOptions::default()).unwrap();
    assert_eq!(first.load_error, None);
    let summary: Vec<(&str, u32, bool, usize)> = first
        .programs
        .iter()
        .map(|p| {
            (
                p.name.as_str(),
                p.load.prog_type,
                p.accepted,
                p.load.insns.len(),
            )
        })
        .collect();
    assert_eq!(
        summary,
        [
            ("tracepoint__syscalls__sys_enter_execve", 5, true, 1935),
            ("tracepoint__syscalls__sys_exit_execve", 5, true, 62),
        ]
    );
    // Map references are ld_imm64 with BPF_PSEUDO_MAP_FD/VALUE, the fd in imm.
    let enter = &first.programs[0].load.insns;
    let map_refs: Vec<usize> = (0..enter.len())
        .filter(|&i| enter[i].is_ld_imm64() && matches!(enter[i].src_reg, 1 | 2))
        .collect();
    assert!(!map_refs.is_empty());
    assert!(map_refs.iter().all(|&i| enter[i].imm > 2));
    let masked = mask_fd_immediates(enter);
    assert!(map_refs.iter().all(|&i| masked[i].imm == 0));

    let second = libbpf_relocated(&path, &RelocateOptions::default()).unwrap();
    for (a, b) in first.programs.iter().zip(&second.programs) {
        assert_eq!(
            mask_fd_immediates(&a.load.insns),
            mask_fd_immediates(&b.load.insns)
        );
    }
}

#[test]
fn max_entries_option_sizes_maps_libbpf_tools_leave_at_zero() {
    let path = corpus_dir().join("libbpf-tools/cpudist.bpf.o");
    let parsed = libbpf_parse(&path).unwrap();
    assert_eq!(parsed.map("start").unwrap().max_entries, 0);

    let zero_sized = libbpf_relocated(&path, &RelocateOptions::default()).unwrap();
    let err = zero_sized.load_error.unwrap();
    assert_eq!(err.errno, 22);
    assert!(
        err.log
            .iter()
            .any(|l| l.contains("map 'start': failed to create")),
        "{err}"
    );
    assert!(zero_sized.programs.is_empty());

    let opts = RelocateOptions {
        max_entries: vec![("start".into(), 128), ("hists".into(), 16)],
        autoload: vec![("sched_switch_btf".into(), false)],
        ..Default::default()
    };
    let sized = libbpf_relocated(&path, &opts).unwrap();
    assert_eq!(sized.load_error, None);
    assert_eq!(sized.object.map("start").unwrap().max_entries, 128);
    assert_eq!(sized.object.map("hists").unwrap().max_entries, 16);
    let names: Vec<&str> = sized.programs.iter().map(|p| p.name.as_str()).collect();
    assert_eq!(names, ["sched_switch_tp"]);
    assert_eq!(sized.programs[0].load.prog_type, 17); // BPF_PROG_TYPE_RAW_TRACEPOINT
    assert!(sized.programs[0].accepted);
}

fn vmlinux_btf_id(func: &str) -> u32 {
    let out = std::process::Command::new("bpftool")
        .args(["btf", "dump", "file", "/sys/kernel/btf/vmlinux"])
        .output()
        .unwrap();
    let text = String::from_utf8(out.stdout).unwrap();
    let needle = format!("] FUNC '{func}' ");
    let line = text.lines().find(|l| l.contains(&needle)).unwrap();
    line[1..line.find(']').unwrap()].parse().unwrap()
}

#[test]
fn fentry_rejected_by_host_is_recorded_and_fake_load_gets_past_it() {
    let path = corpus_dir().join("libbpf-tools/tcprtt.bpf.o");
    let real = libbpf_relocated(&path, &RelocateOptions::default()).unwrap();
    // ftrace is locked down on this host: trampoline programs get EPERM.
    assert_eq!(real.load_error.as_ref().unwrap().errno, 1);
    let tcp_rcv = real.program("tcp_rcv").unwrap();
    assert!(!tcp_rcv.accepted);
    assert_eq!(tcp_rcv.load.errno, 1);
    assert_eq!(tcp_rcv.load.prog_type, 26); // BPF_PROG_TYPE_TRACING
    assert_eq!(tcp_rcv.load.expected_attach_type, 24); // BPF_TRACE_FENTRY
    let target = vmlinux_btf_id("tcp_rcv_established");
    assert_eq!(tcp_rcv.load.attach_btf_id, target);
    // libbpf retried once with a log buffer.
    let attempts: Vec<u32> = real
        .loads
        .iter()
        .filter(|l| l.name == "tcp_rcv")
        .map(|l| l.log_level)
        .collect();
    assert_eq!(attempts, [0, 1]);

    let fake = libbpf_relocated(
        &path,
        &RelocateOptions {
            fake_load: true,
            ..Default::default()
        },
    )
    .unwrap();
    assert_eq!(fake.load_error, None);
    let names: Vec<(&str, bool)> = fake
        .programs
        .iter()
        .map(|p| (p.name.as_str(), p.accepted))
        .collect();
    assert_eq!(names, [("tcp_rcv", true), ("tcp_rcv_kprobe", true)]);
    assert_eq!(
        mask_fd_immediates(&fake.programs[0].load.insns),
        mask_fd_immediates(&tcp_rcv.load.insns)
    );
}

#[test]
fn prog_types_option_loads_cilium_relocs_with_unknown_sections() {
    let dir = corpus_dir().join("cilium/btf/testdata");
    let obj = dir.join("relocs-el.elf");
    let parsed = libbpf_parse(&obj).unwrap();
    // libbpf 1.1 does not know `socket_filter/...`: BPF_PROG_TYPE_UNSPEC.
    assert!(parsed.programs.iter().all(|p| p.prog_type == 0));
    let opts = RelocateOptions {
        // The object's own BTF is the target, as in cilium's tests.
        btf_custom_path: Some(obj.clone()),
        prog_types: ["type_ids", "types", "enums", "fields"]
            .iter()
            .map(|p| (p.to_string(), 1)) // BPF_PROG_TYPE_SOCKET_FILTER
            .collect(),
        // The err_* programs fail to relocate on purpose (ambiguous candidates).
        autoload: vec![
            ("err_ambiguous".into(), false),
            ("err_ambiguous_flavour".into(), false),
        ],
        fake_load: true,
        ..Default::default()
    };
    let out = libbpf_relocated(&obj, &opts).unwrap();
    assert_eq!(out.load_error, None);
    let got: Vec<(&str, u32, usize, usize)> = out
        .programs
        .iter()
        .map(|p| {
            let poisoned = p.load.insns.iter().filter(|i| is_core_poison(i)).count();
            (
                p.name.as_str(),
                p.load.prog_type,
                p.load.insns.len(),
                poisoned,
            )
        })
        .collect();
    assert_eq!(
        got,
        [
            ("type_ids", 1, 102, 0),
            ("types", 1, 62, 0),
            ("enums", 1, 26, 0),
            ("fields", 1, 112, 0),
        ]
    );

    let mut ambiguous = opts.clone();
    ambiguous.autoload.clear();
    let failed = libbpf_relocated(&obj, &ambiguous).unwrap();
    let err = failed.load_error.unwrap();
    assert_eq!(err.errno, 22);
    assert!(
        err.log
            .iter()
            .any(|l| l.contains("prog 'err_ambiguous': relo #0: failed to relocate")),
        "{err}"
    );
}

#[test]
fn corpus_vmlinux_btf_is_decompressed_raw_btf() {
    let path = bpfkit_test_support::corpus_vmlinux_btf();
    let bytes = std::fs::read(&path).unwrap();
    assert_eq!(&bytes[..2], &0xeb9f_u16.to_le_bytes()); // BTF_MAGIC
    let counts = bpfkit_test_support::btf_kind_counts(&path).unwrap();
    assert!(counts["STRUCT"] > 1000, "{counts:?}");
}

#[test]
fn fake_load_relocates_most_libbpf_tools_objects_against_vmlinux() {
    let objects = corpus_objects_in("libbpf-tools");
    let mut complete = 0;
    for obj in &objects {
        let parsed = libbpf_parse(obj).unwrap();
        // Size what the tools size at start (perf event arrays libbpf sizes itself).
        let max_entries = parsed
            .maps
            .iter()
            .filter(|m| m.max_entries == 0 && m.map_type != 4)
            .map(|m| (m.name.clone(), 64))
            .collect();
        let opts = RelocateOptions {
            max_entries,
            fake_load: true,
            ..Default::default()
        };
        let out = libbpf_relocated(obj, &opts).unwrap();
        match &out.load_error {
            None => {
                let expected: Vec<&str> = parsed
                    .programs
                    .iter()
                    .filter(|p| p.autoload)
                    .map(|p| p.name.as_str())
                    .collect();
                let got: Vec<&str> = out.programs.iter().map(|p| p.name.as_str()).collect();
                assert_eq!(got, expected, "{}", obj.display());
                for p in &out.programs {
                    assert!(p.accepted && !p.load.insns.is_empty(), "{}", p.name);
                    assert!(p.load.insns.len() >= parsed.program(&p.name).unwrap().insn_count);
                }
                complete += 1;
            }
            // Attach targets or sizes this kernel/tool decides at run time: libbpf says why.
            Some(err) => assert!(!err.log.is_empty(), "{}: {err}", obj.display()),
        }
    }
    assert!(
        complete >= 40,
        "only {complete} of {} relocated",
        objects.len()
    );
}
