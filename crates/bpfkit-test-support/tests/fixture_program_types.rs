//! The program-type and map-type fixtures hold the types their headers list, as libbpf
//! parses them and the kernel reports them after loading.

use std::path::Path;

use bpfkit_test_support::{
    bpftool_json, btf_type_id, btf_types, fixture, libbpf_parse, libbpf_relocated, map_dump,
    map_show, prog_loadall, prog_run, RelocateOptions, VMLINUX_BTF,
};

const BPF_F_SLEEPABLE: u32 = 1 << 4;
const BPF_F_XDP_HAS_FRAGS: u32 = 1 << 5;

/// (program, bpftool's type name) for every program of a fixture, as the kernel reports.
fn loaded_types(name: &str) -> Vec<(String, String)> {
    let loaded = prog_loadall(&fixture(name)).unwrap();
    loaded
        .programs
        .iter()
        .map(|p| (p.pin_name.clone(), p.prog_type.clone()))
        .collect()
}

fn sorted(mut v: Vec<(&str, &str)>) -> Vec<(String, String)> {
    v.sort();
    v.into_iter()
        .map(|(a, b)| (a.to_owned(), b.to_owned()))
        .collect()
}

#[test]
fn networking_programs_load_as_their_kernel_types() {
    assert_eq!(
        loaded_types("prog_net"),
        sorted(vec![
            ("tc_pass", "sched_cls"),
            ("classifier_pass", "sched_cls"),
            ("action_pass", "sched_act"),
            ("xdp_frags_pass", "xdp"),
            ("socket_keep", "socket_filter"),
            ("stream_parser", "sk_skb"),
            ("stream_verdict", "sk_skb"),
            ("msg_pass", "sk_msg"),
            ("sockops_noop", "sock_ops"),
            ("lookup_pass", "sk_lookup"),
            ("dissect_none", "flow_dissector"),
            ("reuseport_pass", "sk_reuseport"),
            ("cgroup_skb_ingress", "cgroup_skb"),
            ("cgroup_skb_egress", "cgroup_skb"),
            ("sock_create_allow", "cgroup_sock"),
            ("connect4_allow", "cgroup_sock_addr"),
            ("sendmsg4_allow", "cgroup_sock_addr"),
            ("sysctl_allow", "cgroup_sysctl"),
            ("getsockopt_allow", "cgroup_sockopt"),
            ("dev_allow", "cgroup_device"),
            ("lwt_in_pass", "lwt_in"),
            ("lwt_xmit_pass", "lwt_xmit"),
        ])
    );
    let out = libbpf_relocated(&fixture("prog_net"), &RelocateOptions::default()).unwrap();
    let frags = out.program("xdp_frags_pass").unwrap();
    assert_eq!(frags.load.prog_flags, BPF_F_XDP_HAS_FRAGS);
    let connect4 = out.program("connect4_allow").unwrap();
    assert_eq!(connect4.load.expected_attach_type, 10); // BPF_CGROUP_INET4_CONNECT
}

#[test]
fn tracing_programs_load_as_their_kernel_types() {
    assert_eq!(
        loaded_types("prog_tracing"),
        sorted(vec![
            ("kprobe_unlinkat", "kprobe"),
            ("kretprobe_unlinkat", "kprobe"),
            ("ksyscall_getpid", "kprobe"),
            ("kretsyscall_getpid", "kprobe"),
            ("kprobe_multi_unlinkat", "kprobe"),
            ("uprobe_any", "kprobe"),
            ("uretprobe_any", "kprobe"),
            ("uprobe_sleepable", "kprobe"),
            ("tracepoint_getpid", "tracepoint"),
            ("raw_tp_sys_enter", "raw_tracepoint"),
            ("raw_tp_writable", "raw_tracepoint_writable"),
            ("tp_btf_sched_switch", "tracing"),
            ("perf_event_sample", "perf_event"),
            ("iter_task", "tracing"),
            ("iter_task_sleepable", "tracing"),
        ])
    );
    let out = libbpf_relocated(&fixture("prog_tracing"), &RelocateOptions::default()).unwrap();
    let flags = |name: &str| out.program(name).unwrap().load.prog_flags;
    assert_eq!(flags("uprobe_sleepable"), BPF_F_SLEEPABLE);
    assert_eq!(flags("iter_task_sleepable"), BPF_F_SLEEPABLE);
    assert_eq!(flags("uprobe_any"), 0);
    let multi = out.program("kprobe_multi_unlinkat").unwrap();
    assert_eq!(multi.load.expected_attach_type, 42); // BPF_TRACE_KPROBE_MULTI
    let iter = out.program("iter_task").unwrap();
    assert_eq!(iter.load.expected_attach_type, 28); // BPF_TRACE_ITER
    let vmlinux = Path::new(VMLINUX_BTF);
    let target = btf_type_id(vmlinux, "FUNC", "bpf_iter_task")
        .unwrap()
        .unwrap();
    assert_eq!(iter.load.attach_btf_id, target);
}

#[test]
fn trampoline_programs_resolve_their_targets_in_vmlinux() {
    let out = libbpf_relocated(
        &fixture("prog_trampoline"),
        &RelocateOptions {
            fake_load: true,
            ..Default::default()
        },
    )
    .unwrap();
    assert_eq!(out.load_error, None);
    let vmlinux = Path::new(VMLINUX_BTF);
    let func = |name: &str| btf_type_id(vmlinux, "FUNC", name).unwrap().unwrap();
    let got: Vec<(&str, u32, u32, u32, u32)> = out
        .programs
        .iter()
        .map(|p| {
            (
                p.name.as_str(),
                p.load.prog_type,
                p.load.expected_attach_type,
                p.load.attach_btf_id,
                p.load.prog_flags,
            )
        })
        .collect();
    // prog types: TRACING 26, LSM 29; attach: FENTRY 24, FEXIT 25, MODIFY_RETURN 26,
    // LSM_MAC 27, LSM_CGROUP 43. LSM hooks resolve to the bpf_lsm_<hook> function.
    assert_eq!(
        got,
        [
            ("fentry_unlinkat", 26, 24, func("do_unlinkat"), 0),
            ("fexit_unlinkat", 26, 25, func("do_unlinkat"), 0),
            ("fmod_ret_file_open", 26, 26, func("security_file_open"), 0),
            ("lsm_file_open", 29, 27, func("bpf_lsm_file_open"), 0),
            (
                "lsm_sleepable_file_open",
                29,
                27,
                func("bpf_lsm_file_open"),
                BPF_F_SLEEPABLE
            ),
            (
                "lsm_cgroup_socket_bind",
                29,
                43,
                func("bpf_lsm_socket_bind"),
                0
            ),
        ]
    );
}

#[test]
fn sleepable_trampoline_programs_resolve_the_syscall_wrapper() {
    let out = libbpf_relocated(
        &fixture("prog_trampoline_sleepable"),
        &RelocateOptions {
            fake_load: true,
            ..Default::default()
        },
    )
    .unwrap();
    assert_eq!(out.load_error, None);
    let target = btf_type_id(Path::new(VMLINUX_BTF), "FUNC", "__x64_sys_unlinkat")
        .unwrap()
        .unwrap();
    let got: Vec<(&str, u32, u32, u32, u32)> = out
        .programs
        .iter()
        .map(|p| {
            (
                p.name.as_str(),
                p.load.prog_type,
                p.load.expected_attach_type,
                p.load.attach_btf_id,
                p.load.prog_flags,
            )
        })
        .collect();
    // TRACING 26 with FENTRY 24, FEXIT 25, MODIFY_RETURN 26, all BPF_F_SLEEPABLE.
    assert_eq!(
        got,
        [
            ("fentry_sleepable_unlinkat", 26, 24, target, BPF_F_SLEEPABLE),
            ("fexit_sleepable_unlinkat", 26, 25, target, BPF_F_SLEEPABLE),
            (
                "fmod_ret_sleepable_unlinkat",
                26,
                26,
                target,
                BPF_F_SLEEPABLE
            ),
        ]
    );
}

#[test]
fn newer_section_names_are_unknown_to_libbpf_1_1() {
    let parsed = libbpf_parse(&fixture("prog_newer_sections")).unwrap();
    let got: Vec<(&str, &str, u32)> = parsed
        .programs
        .iter()
        .map(|p| (p.name.as_str(), p.section.as_str(), p.prog_type))
        .collect();
    // BPF_PROG_TYPE_UNSPEC: bpfkit must map these itself.
    assert_eq!(
        got,
        [
            ("tcx_ingress", "tcx/ingress", 0),
            ("tcx_egress", "tcx/egress", 0),
            ("netkit_primary", "netkit/primary", 0),
            ("uprobe_multi_any", "uprobe.multi", 0),
            ("netfilter_accept", "netfilter", 0),
        ]
    );
}

#[test]
fn map_types_are_created_with_their_kernel_types_and_exercised_by_test_run() {
    let obj = fixture("map_types");
    let loaded = prog_loadall(&obj).unwrap();
    // bpftool 7.1 names the types it knows and prints newer ones as numbers.
    let kernel_type = |name: &str| -> String {
        let map = loaded.map(name).unwrap_or_else(|| panic!("map {name}"));
        match &map_show(map.id).unwrap()["type"] {
            serde_json::Value::String(s) => s.clone(),
            other => other.to_string(),
        }
    };
    for (name, ty) in [
        ("hash_no_prealloc", "hash"),
        ("lru", "lru_hash"),
        ("lru_percpu", "lru_percpu_hash"),
        ("percpu_hash", "percpu_hash"),
        ("percpu_array", "percpu_array"),
        ("lpm", "lpm_trie"),
        ("stack_traces", "stack_trace"),
        ("sockmap", "sockmap"),
        ("sockhash", "sockhash"),
        ("devmap", "devmap"),
        ("devmap_hash", "devmap_hash"),
        ("cpumap", "cpumap"),
        ("xskmap", "xskmap"),
        ("cgroup_array", "cgroup_array"),
        ("mmapable", "array"),
        ("sk_storage", "sk_storage"),
        ("inode_storage", "inode_storage"),
        ("task_storage", "task_storage"),
        ("cgrp_storage", "32"), // BPF_MAP_TYPE_CGRP_STORAGE
        ("queue", "queue"),
        ("stack", "stack"),
        ("bloom", "bloom_filter"),
        ("ringbuf", "ringbuf"),
        ("user_ringbuf", "user_ringbuf"),
        ("perf_events", "perf_event_array"),
    ] {
        assert_eq!(kernel_type(name), ty, "{name}");
    }
    let parsed = libbpf_parse(&obj).unwrap();
    assert_eq!(parsed.map("bloom").unwrap().map_extra, 3);
    assert_eq!(parsed.map("mmapable").unwrap().map_flags, 1 << 10); // BPF_F_MMAPABLE

    let prog = loaded.program("exercise_maps").unwrap();
    let run = prog_run(prog.id, &[0u8; 64], 1).unwrap();
    assert_eq!(run.retval, 2); // XDP_PASS
    let queue = loaded.map("queue").unwrap().id;
    let head = bpftool_json(["map", "peek", "id", &queue.to_string()]).unwrap();
    assert_eq!(
        head["value"],
        serde_json::json!(["0x07", "0x00", "0x00", "0x00"])
    );
    let lru = map_dump(loaded.map("lru").unwrap().id).unwrap();
    assert_eq!(lru.len(), 1);
    assert_eq!(
        (lru[0].key.as_slice(), lru[0].value[0]),
        (&[1u8, 0, 0, 0][..], 1)
    );
}

#[test]
fn pinned_map_is_pinned_by_name_reused_and_cleaned_up() {
    let obj = fixture("pinned_map");
    let parsed = libbpf_parse(&obj).unwrap();
    let default_pin = parsed
        .map("bpfkit_fixture_pinned_counts")
        .unwrap()
        .pin_path
        .clone()
        .unwrap();
    assert_eq!(default_pin, "/sys/fs/bpf/bpfkit_fixture_pinned_counts");
    assert_eq!(parsed.map("unpinned").unwrap().pin_path, None);

    // A private pin root keeps this test independent of other processes' loads.
    let root = Path::new("/sys/fs/bpf").join(format!("bpfkit-pin-root-{}", std::process::id()));
    std::fs::create_dir_all(&root).unwrap();
    // Removes the (by then empty) root on every exit path, also when an assertion fails;
    // declared before the loads so it drops after them.
    struct RemoveDir<'a>(&'a Path);
    impl Drop for RemoveDir<'_> {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir(self.0);
        }
    }
    let _root_guard = RemoveDir(&root);
    let pin = root.join("bpfkit_fixture_pinned_counts");
    let opts = RelocateOptions {
        pin_root_path: Some(root.clone()),
        ..Default::default()
    };

    // Oracle runs that do not keep the object loaded remove the pins they created.
    let relocated = libbpf_relocated(&obj, &opts).unwrap();
    assert!(relocated.programs[0].accepted);
    assert!(!pin.exists(), "libbpf_relocated left {}", pin.display());
    assert_eq!(bpfkit_test_support::libbpf_load(&obj, &opts), Ok(1));
    assert!(!pin.exists(), "libbpf_load left {}", pin.display());

    let first = bpfkit_test_support::libbpf_load_pinned(&obj, &opts).unwrap();
    assert!(pin.exists());
    let first_id = first.map("bpfkit_fixture_pinned_counts").unwrap().id;
    let second = bpfkit_test_support::libbpf_load_pinned(&obj, &opts).unwrap();
    assert_eq!(
        second.map("bpfkit_fixture_pinned_counts").unwrap().id,
        first_id,
        "libbpf reuses the pinned map"
    );
    assert_ne!(
        second.map("unpinned").unwrap().id,
        first.map("unpinned").unwrap().id
    );
    drop(second);
    assert!(pin.exists(), "the reusing load leaves the pin");
    drop(first);
    assert!(!pin.exists(), "the creating load removes its pin");
    assert_eq!(
        std::fs::read_dir(&root).unwrap().count(),
        0,
        "nothing left under the pin root"
    );
}

#[test]
fn struct_ops_programs_target_tcp_congestion_ops_members() {
    let obj = fixture("struct_ops");
    let out = libbpf_relocated(&obj, &RelocateOptions::default()).unwrap();
    assert_eq!(out.load_error, None);
    let vmlinux = Path::new(VMLINUX_BTF);
    let ops = btf_types(vmlinux)
        .unwrap()
        .into_iter()
        .find(|t| t.kind == "STRUCT" && t.name.as_deref() == Some("tcp_congestion_ops"))
        .unwrap();
    let got: Vec<(&str, u32, u32, u32, bool)> = out
        .programs
        .iter()
        .map(|p| {
            (
                p.name.as_str(),
                p.load.prog_type,
                p.load.expected_attach_type,
                p.load.attach_btf_id,
                p.accepted,
            )
        })
        .collect();
    // BPF_PROG_TYPE_STRUCT_OPS (27); the expected attach type is the member index.
    assert_eq!(
        got,
        [
            ("bpfkit_ssthresh", 27, 0, ops.id, true),
            ("bpfkit_cong_avoid", 27, 1, ops.id, true),
            ("bpfkit_undo_cwnd", 27, 8, ops.id, true),
        ]
    );
    let map = out.object.map("bpfkit_cc").unwrap();
    assert_eq!(map.map_type, 26); // BPF_MAP_TYPE_STRUCT_OPS
                                  // The value is the kernel's wrapper `struct bpf_struct_ops_tcp_congestion_ops`
                                  // (refcount/state header + the ops), not the ops struct itself.
    let wrapper = btf_types(vmlinux)
        .unwrap()
        .into_iter()
        .find(|t| {
            t.kind == "STRUCT" && t.name.as_deref() == Some("bpf_struct_ops_tcp_congestion_ops")
        })
        .unwrap();
    assert_eq!(u64::from(map.value_size), wrapper.size.unwrap());
    assert!(wrapper.size.unwrap() > ops.size.unwrap());
    assert_eq!(
        loaded_types("struct_ops"),
        sorted(vec![
            ("bpfkit_ssthresh", "struct_ops"),
            ("bpfkit_cong_avoid", "struct_ops"),
            ("bpfkit_undo_cwnd", "struct_ops"),
        ])
    );
}

#[test]
fn arena_map_is_created_with_its_user_address() {
    let obj = fixture("arena");
    let parsed = libbpf_parse(&obj).unwrap();
    let arena = parsed.map("arena").unwrap();
    assert_eq!(
        (
            arena.map_type,
            arena.map_flags,
            arena.max_entries,
            arena.map_extra
        ),
        (33, 1 << 10, 4, 0x1000_0000)
    );
    assert_eq!(
        arena.map_type_name, None,
        "libbpf 1.1 has no name for arena"
    );
    if bpfkit_test_support::skip_without_arena("arena_map_is_created_with_its_user_address") {
        return;
    }
    let loaded = prog_loadall(&obj).unwrap();
    let info = map_show(loaded.map("arena").unwrap().id).unwrap();
    assert_eq!(info["type"], 33);
    assert_eq!(info["flags"], 1024);
    assert_eq!(loaded.program("touch_arena").unwrap().prog_type, "syscall");
}

#[test]
fn section_aliases_all_get_a_program_type_from_libbpf_and_load() {
    let obj = fixture("prog_section_aliases");
    let parsed = libbpf_parse(&obj).unwrap();
    assert_eq!(parsed.programs.len(), 28);
    let untyped: Vec<&str> = parsed
        .programs
        .iter()
        .filter(|p| p.prog_type == 0)
        .map(|p| p.section.as_str())
        .collect();
    assert!(untyped.is_empty(), "{untyped:?}");
    let attach = |name: &str| {
        let p = parsed.program(name).unwrap();
        (
            p.prog_type_name.as_deref(),
            p.expected_attach_type_name.as_deref(),
        )
    };
    assert_eq!(attach("xdp_devmap"), (Some("xdp"), Some("xdp_devmap")));
    assert_eq!(
        attach("xdp_frags_cpumap"),
        (Some("xdp"), Some("xdp_cpumap"))
    );
    assert_eq!(
        attach("reuseport_migrate"),
        (Some("sk_reuseport"), Some("sk_reuseport_select_or_migrate"))
    );
    assert_eq!(
        attach("kretprobe_multi_unlinkat"),
        (Some("kprobe"), Some("trace_kprobe_multi"))
    );
    let loaded = prog_loadall(&obj).unwrap();
    assert_eq!(loaded.programs.len(), 28);
}
