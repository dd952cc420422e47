//! Every fixture the host kernel can load loads through libbpf (`bpftool prog loadall`);
//! the others fail for the reason stated here.

use bpfkit_test_support::{fixture, fixture_names, libbpf_parse, prog_loadall};

/// Fixtures the host refuses, with the message that says why.
const NOT_LOADABLE_ON_HOST: &[(&str, &str)] = &[
    // libbpf 1.x dropped `struct bpf_map_def` in SEC("maps"); bpfkit must still parse it.
    (
        "legacy_maps",
        "legacy map definitions in 'maps' section are not supported",
    ),
    // The host kernel lacks CONFIG_KALLSYMS_ALL, so typed ksym variables have no address.
    (
        "ksym_typed_var",
        "failed to find the address for kernel symbol 'runqueues'",
    ),
    // ftrace is locked down on the host: every trampoline program gets EPERM.
    (
        "prog_trampoline",
        "prog 'fentry_unlinkat': BPF program load failed: Operation not permitted",
    ),
    // lsm_cgroup programs attach through a BPF trampoline too (tested in the VMs).
    (
        "lsm_cgroup",
        "prog 'deny_udp4': BPF program load failed: Operation not permitted",
    ),
    (
        "prog_trampoline_sleepable",
        "prog 'fentry_sleepable_unlinkat': BPF program load failed: Operation not permitted",
    ),
    // libbpf 1.1 predates tcx/netkit/uprobe.multi/*.session/netfilter section names.
    (
        "prog_newer_sections",
        "failed to guess program type from ELF section 'tcx/ingress'",
    ),
    // freplace needs a target program; bpftool loadall has none to give.
    (
        "attach_freplace",
        "prog 'new_verdict': attach program FD is not set",
    ),
    (
        "net_netfilter",
        "failed to guess program type from ELF section 'netfilter'",
    ),
    (
        "attach_multi",
        "failed to guess program type from ELF section 'uprobe.multi'",
    ),
    (
        "attach_session",
        "failed to guess program type from ELF section 'uprobe.session'",
    ),
    // bpftool's libbpf 1.1 predates the AF_UNIX sock_addr sections (Linux 6.7); bpfkit
    // loads and attaches them in crates/bpfkit/tests/attach_cgroup_addr.rs.
    (
        "net_cgroup_unix",
        "failed to guess program type from ELF section 'cgroup/connect_unix'",
    ),
    (
        "kprobe_session",
        "failed to guess program type from ELF section 'kprobe.session/do_unlinkat'",
    ),
];

#[test]
fn fixtures_load_with_libbpf_or_fail_for_the_stated_reason() {
    let arena = bpfkit_test_support::arena_unavailable();
    for name in fixture_names() {
        let obj = fixture(&name);
        if name == "arena" {
            if let Some(reason) = &arena {
                println!("SKIP loading the arena fixture: {reason}");
                continue;
            }
        }
        let result = prog_loadall(&obj);
        match NOT_LOADABLE_ON_HOST.iter().find(|(n, _)| *n == name) {
            Some((_, reason)) => {
                let err = result.err().unwrap_or_else(|| panic!("{name} loaded"));
                assert!(err.contains(reason), "{name}: {err}");
            }
            None => {
                let loaded = result.unwrap_or_else(|e| panic!("{name}: {e}"));
                let parsed = libbpf_parse(&obj).unwrap();
                let mut expected: Vec<&str> = parsed
                    .programs
                    .iter()
                    .filter(|p| p.autoload)
                    .map(|p| p.name.as_str())
                    .collect();
                expected.sort();
                let pinned: Vec<&str> = loaded
                    .programs
                    .iter()
                    .map(|p| p.pin_name.as_str())
                    .collect();
                assert_eq!(pinned, expected, "{name}");
                assert!(loaded
                    .programs
                    .iter()
                    .all(|p| p.id > 0 && p.xlated_insns > 0));
                let dir = loaded.pin_dir().to_path_buf();
                drop(loaded);
                assert!(!dir.exists(), "{name}: pins left in {}", dir.display());
            }
        }
    }
}
