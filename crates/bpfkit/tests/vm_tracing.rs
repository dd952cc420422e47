//! Attach kinds the host kernel refuses — kprobe and kretprobe (perf PMU and tracefs
//! paths), ksyscall, kprobe.multi, fentry, fexit, fmod_ret and lsm — run inside the
//! kernel-matrix VM (`cargo xtask vm-test`, which sets `BPFKIT_VM=1` and ships the
//! prebuilt fixture in `$BPFKIT_VM_FIXTURES`).
//!
//! Each test loads `tests/fixtures/vm_tracing.bpf.c` with bpfkit's loader, its
//! `target_tid` set to the test's thread, attaches one program with `bpfkit::programs`,
//! makes this thread call the traced function and asserts what the program recorded.
//! Outside the VM every test prints `SKIP` with the reason and returns.

use std::path::{Path, PathBuf};

use bpfkit::features::{self, Probe};
use bpfkit::links::Link;
use bpfkit::loader::{Loader, Object, Program};
use bpfkit::maps::Array;
use bpfkit::programs::kprobe::{self, KprobeMultiOptions, KprobeOptions};
use bpfkit::programs::{auto, lsm, tracing, AttachError};

// Slots of the fixture's `counts` array.
const KPROBE: u32 = 0;
const KRETPROBE: u32 = 1;
const KRETPROBE_RET: u32 = 2;
const KSYSCALL: u32 = 3;
const KPROBE_MULTI: u32 = 4;
const FENTRY: u32 = 5;
const FENTRY_DFD: u32 = 6;
const FEXIT: u32 = 7;
const FEXIT_RET: u32 = 8;
const FMOD_RET: u32 = 9;
const LSM: u32 = 10;

/// `AT_FDCWD`, the directory fd `unlink(2)` passes to `do_unlinkat`.
const AT_FDCWD: i64 = -100;
/// The fixture object when running in the VM; `None` (after printing why) elsewhere.
fn vm_fixture(test: &str) -> Option<PathBuf> {
    if std::env::var_os("BPFKIT_VM").is_none_or(|v| v != "1") {
        eprintln!(
            "SKIP {test}: needs the kernel-matrix VM (BPFKIT_VM=1; run `cargo xtask vm-test`): \
             the host kernel has no kprobes and refuses trampolines"
        );
        return None;
    }
    let dir = std::env::var_os("BPFKIT_VM_FIXTURES").expect("BPFKIT_VM_FIXTURES is set in the VM");
    Some(Path::new(&dir).join("vm_tracing.bpf.o"))
}

fn gettid() -> u32 {
    // SAFETY: gettid takes no arguments and cannot fail.
    unsafe { libc::syscall(libc::SYS_gettid) as u32 }
}

/// The fixture loaded with `target_tid` = this thread.
fn load(path: &Path) -> Object {
    Loader::new()
        .set_global("target_tid", &gettid().to_ne_bytes())
        .load_file(path)
        .unwrap_or_else(|e| panic!("loading {}: {e}", path.display()))
}

fn slot(obj: &Object, index: u32) -> i64 {
    let map = obj.map("counts").expect("fixture has a counts map");
    Array::<_, i64>::new(map)
        .expect("counts is an array of i64")
        .get(index)
        .expect("counts lookup")
}

fn program<'a>(obj: &'a Object, name: &str) -> &'a Program {
    obj.program(name)
        .unwrap_or_else(|| panic!("fixture has program {name}"))
}

/// A scratch directory for files the tests unlink.
fn scratch(test: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("bpfkit-vm-{test}-{}", gettid()));
    std::fs::create_dir_all(&dir).expect("create scratch dir");
    dir
}

/// Creates and unlinks a file (one `do_unlinkat` returning 0), then unlinks it again
/// (one returning `-ENOENT`).
fn unlink_twice(dir: &Path) {
    let file = dir.join("victim");
    std::fs::write(&file, b"x").expect("create victim");
    std::fs::remove_file(&file).expect("unlink victim");
    let again = std::fs::remove_file(&file).expect_err("second unlink fails");
    assert_eq!(again.raw_os_error(), Some(libc::ENOENT));
}

/// Lines of tracefs `kprobe_events` naming bpfkit's dynamic events.
fn bpfkit_kprobe_events() -> Vec<String> {
    let events = [
        "/sys/kernel/tracing/kprobe_events",
        "/sys/kernel/debug/tracing/kprobe_events",
    ]
    .into_iter()
    .find_map(|p| std::fs::read_to_string(p).ok())
    .expect("tracefs kprobe_events");
    events
        .lines()
        .filter(|l| l.contains("bpfkit/"))
        .map(str::to_owned)
        .collect()
}

/// `ENOTSUPP` (kernel-internal 524): the kernel has no BPF trampoline for this arch.
const ENOTSUPP: i32 = 524;

/// Attaches a trampoline program (fentry/fexit/fmod_ret with `tracing`, lsm with `lsm`).
/// `None` after printing `SKIP` when the kernel has no BPF trampoline on this architecture
/// (arm64 before Linux 6.4 lacks DYNAMIC_FTRACE_WITH_DIRECT_CALLS); on x86_64 that is a failure.
fn attach_trampoline(
    test: &str,
    prog: &Program,
    attach: fn(&Program) -> Result<Link, AttachError>,
) -> Option<Link> {
    match attach(prog) {
        Ok(link) => Some(link),
        Err(e) if e.errno() == Some(ENOTSUPP) && cfg!(not(target_arch = "x86_64")) => {
            eprintln!(
                "SKIP {test}: this kernel has no BPF trampoline on {} (needs \
                 DYNAMIC_FTRACE_WITH_DIRECT_CALLS; arm64 has it from Linux 6.4): {e}",
                std::env::consts::ARCH
            );
            None
        }
        Err(e) => panic!("attach {}: {e}", prog.name()),
    }
}

#[test]
fn kprobe_pmu_counts_this_threads_unlinks_until_detached() {
    let Some(path) = vm_fixture("kprobe_pmu") else {
        return;
    };
    let obj = load(&path);
    let dir = scratch("kprobe");
    // kprobe/do_unlinkat, through the kprobe PMU (the default path).
    let link = auto::attach(program(&obj, "kprobe_unlinkat")).expect("attach kprobe");
    // A bpf perf link where the kernel has one (5.15), else PERF_EVENT_IOC_SET_BPF (5.10).
    let perf_link = features::supported(Probe::PerfEventLink);
    assert_eq!(
        link.kind(),
        if perf_link { "bpf" } else { "perf_event" },
        "perf link probe: {perf_link}"
    );
    assert!(link.perf_event_fd().is_some(), "the kprobe's perf event");
    println!(
        "kprobe_pmu: attached through {}",
        if perf_link {
            "a bpf perf link"
        } else {
            "PERF_EVENT_IOC_SET_BPF (this kernel has no perf links)"
        }
    );
    for _ in 0..3 {
        unlink_twice(&dir);
    }
    assert_eq!(slot(&obj, KPROBE), 6, "three pairs of unlinks");
    assert!(
        bpfkit_kprobe_events().is_empty(),
        "the PMU path leaves no tracefs event"
    );
    drop(link);
    unlink_twice(&dir);
    assert_eq!(slot(&obj, KPROBE), 6, "no hits after the link is dropped");
    std::fs::remove_dir(&dir).expect("remove scratch dir");
}

#[test]
fn kretprobe_pmu_sees_do_unlinkat_return_values() {
    let Some(path) = vm_fixture("kretprobe_pmu") else {
        return;
    };
    let obj = load(&path);
    let dir = scratch("kretprobe");
    let file = dir.join("victim");
    let _link = auto::attach(program(&obj, "kretprobe_unlinkat")).expect("attach kretprobe");
    std::fs::write(&file, b"x").expect("create victim");
    std::fs::remove_file(&file).expect("unlink");
    assert_eq!(slot(&obj, KRETPROBE), 1);
    assert_eq!(
        slot(&obj, KRETPROBE_RET),
        0,
        "a successful unlink returns 0"
    );
    assert!(std::fs::remove_file(&file).is_err());
    assert_eq!(slot(&obj, KRETPROBE), 2);
    assert_eq!(slot(&obj, KRETPROBE_RET), -i64::from(libc::ENOENT));
    std::fs::remove_dir(&dir).expect("remove scratch dir");
}

#[test]
fn kretprobe_through_tracefs_sees_return_values_and_removes_its_event() {
    let Some(path) = vm_fixture("kretprobe_tracefs") else {
        return;
    };
    let obj = load(&path);
    let dir = scratch("tracefs");
    // maxactive forces the tracefs kprobe_events path ("r16:bpfkit/... do_unlinkat").
    let options = KprobeOptions {
        retprobe: true,
        maxactive: Some(16),
        ..Default::default()
    };
    let link = kprobe::attach(program(&obj, "kretprobe_unlinkat"), "do_unlinkat", &options)
        .expect("attach kretprobe through tracefs");
    let events = bpfkit_kprobe_events();
    assert_eq!(events.len(), 1, "one dynamic event: {events:?}");
    assert!(events[0].starts_with("r16:bpfkit/"), "{events:?}");
    unlink_twice(&dir);
    assert_eq!(slot(&obj, KRETPROBE), 2);
    assert_eq!(slot(&obj, KRETPROBE_RET), -i64::from(libc::ENOENT));
    drop(link);
    assert_eq!(
        bpfkit_kprobe_events(),
        Vec::<String>::new(),
        "event removed on drop"
    );
    std::fs::remove_dir(&dir).expect("remove scratch dir");
}

#[test]
fn ksyscall_counts_getppid_calls() {
    let Some(path) = vm_fixture("ksyscall") else {
        return;
    };
    let obj = load(&path);
    // ksyscall/getppid: a kprobe on the arch's wrapper (__x64_sys_getppid, ...).
    assert!(kprobe::kernel_has_symbol(&format!(
        "{}getppid",
        kprobe::syscall_prefix()
    )));
    let _link = auto::attach(program(&obj, "ksyscall_getppid")).expect("attach ksyscall");
    // SAFETY: getppid has no preconditions.
    let parents: Vec<i32> = (0..5).map(|_| unsafe { libc::getppid() }).collect();
    assert!(parents.iter().all(|&p| p == parents[0]));
    assert_eq!(slot(&obj, KSYSCALL), 5, "five getppid calls");
}

#[test]
fn kprobe_multi_counts_unlink_and_rmdir() {
    let Some(path) = vm_fixture("kprobe_multi") else {
        return;
    };
    let obj = load(&path);
    let dir = scratch("multi");
    let link = match kprobe::attach_multi(
        program(&obj, "kprobe_multi_unlink_rmdir"),
        &["do_unlinkat", "do_rmdir"],
        &KprobeMultiOptions::default(),
    ) {
        Ok(link) => link,
        Err(e) if e.missing_feature().is_some() => {
            let feature = e.missing_feature().expect("checked");
            eprintln!(
                "SKIP kprobe_multi: this kernel has no {} (Linux {}): {}",
                feature.name,
                feature.since,
                bpfkit::Report(&e)
            );
            return;
        }
        Err(e) => panic!("attach kprobe.multi: {e}"),
    };
    let sub = dir.join("sub");
    std::fs::create_dir(&sub).expect("mkdir");
    std::fs::remove_dir(&sub).expect("rmdir");
    unlink_twice(&dir);
    assert_eq!(slot(&obj, KPROBE_MULTI), 3, "one rmdir and two unlinks");
    drop(link);
    std::fs::remove_dir(&dir).expect("remove scratch dir");
    assert_eq!(
        slot(&obj, KPROBE_MULTI),
        3,
        "no hits after the link is dropped"
    );
}

#[test]
fn fentry_and_fexit_see_do_unlinkat_arguments_and_return() {
    let Some(path) = vm_fixture("fentry_fexit") else {
        return;
    };
    let obj = load(&path);
    let dir = scratch("fentry");
    let Some(entry) =
        attach_trampoline("fentry", program(&obj, "fentry_unlinkat"), tracing::attach)
    else {
        return std::fs::remove_dir(&dir).expect("remove scratch dir");
    };
    let exit = tracing::attach(program(&obj, "fexit_unlinkat")).expect("attach fexit");
    unlink_twice(&dir);
    assert_eq!(slot(&obj, FENTRY), 2);
    assert_eq!(
        slot(&obj, FENTRY_DFD),
        AT_FDCWD,
        "unlink(2) passes AT_FDCWD"
    );
    assert_eq!(slot(&obj, FEXIT), 2);
    assert_eq!(
        slot(&obj, FEXIT_RET),
        -i64::from(libc::ENOENT),
        "the second unlink's return"
    );
    drop((entry, exit));
    unlink_twice(&dir);
    assert_eq!(slot(&obj, FENTRY), 2, "detached");
    std::fs::remove_dir(&dir).expect("remove scratch dir");
}

#[test]
fn fmod_ret_makes_this_threads_file_open_fail_with_eacces() {
    let Some(path) = vm_fixture("fmod_ret") else {
        return;
    };
    let obj = load(&path);
    let Some(link) = attach_trampoline(
        "fmod_ret",
        program(&obj, "fmod_ret_file_open"),
        tracing::attach,
    ) else {
        return;
    };
    let denied = std::fs::File::open("/proc/self/status").expect_err("open is refused");
    assert_eq!(denied.raw_os_error(), Some(libc::EACCES));
    assert_eq!(slot(&obj, FMOD_RET), 1);
    drop(link);
    std::fs::File::open("/proc/self/status").expect("open after detach");
    assert_eq!(slot(&obj, FMOD_RET), 1);
}

#[test]
fn lsm_file_open_denies_this_thread_with_eperm() {
    let Some(path) = vm_fixture("lsm") else {
        return;
    };
    if !lsm::bpf_lsm_active() {
        eprintln!(
            "SKIP lsm: the BPF LSM is not active on this kernel ('bpf' is not in \
             /sys/kernel/security/lsm; CONFIG_BPF_LSM and lsm=...,bpf, Linux 5.7)"
        );
        return;
    }
    let obj = load(&path);
    let Some(link) = attach_trampoline("lsm", program(&obj, "lsm_file_open"), lsm::attach) else {
        return;
    };
    let denied = std::fs::File::open("/proc/self/status").expect_err("open is refused");
    assert_eq!(denied.raw_os_error(), Some(libc::EPERM));
    let other = std::thread::spawn(|| std::fs::File::open("/proc/self/status").is_ok())
        .join()
        .expect("thread");
    assert!(other, "another thread is not denied");
    assert_eq!(slot(&obj, LSM), 1);
    drop(link);
    std::fs::File::open("/proc/self/status").expect("open after detach");
    assert_eq!(slot(&obj, LSM), 1);
}
