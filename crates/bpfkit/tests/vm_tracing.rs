//! Attach kinds the host kernel refuses — kprobe and kretprobe (perf PMU and tracefs
//! paths), ksyscall, kprobe.multi, fentry, fexit, fmod_ret and lsm — run inside the
//! kernel-matrix VM (`cargo xtask vm-test`, which sets `BPFKIT_VM=1` and ships the
//! prebuilt fixture in `$BPFKIT_VM_FIXTURES`).
//!
//! Each test loads `tests/fixtures/vm_tracing.bpf.c` with bpfkit's loader, its
//! `target_tid` set to the test's thread, attaches one program through the kernel's own
//! interface (perf_event_open, tracefs, `BPF_LINK_CREATE`, `BPF_RAW_TRACEPOINT_OPEN`),
//! makes this thread call the traced function and asserts what the program recorded.
//! Outside the VM every test prints `SKIP` with the reason and returns.

use std::ffi::CString;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, FromRawFd, OwnedFd};
use std::path::{Path, PathBuf};

use bpfkit::loader::{Loader, Object};
use bpfkit::maps::Array;
use bpfkit::sys;

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
/// `BPF_TRACE_KPROBE_MULTI`.
const BPF_TRACE_KPROBE_MULTI: u32 = 42;
/// `PERF_TYPE_TRACEPOINT`.
const PERF_TYPE_TRACEPOINT: u32 = 2;
/// `_IOW('$', 8, __u32)`.
const PERF_EVENT_IOC_SET_BPF: u64 = 0x4004_2408;
/// `PERF_FLAG_FD_CLOEXEC`.
const PERF_FLAG_FD_CLOEXEC: u64 = 8;
/// `_IO('$', 0)`.
const PERF_EVENT_IOC_ENABLE: u64 = 0x2400;

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

fn prog_fd<'a>(obj: &'a Object, name: &str) -> BorrowedFd<'a> {
    obj.program(name)
        .unwrap_or_else(|| panic!("fixture has program {name}"))
        .fd()
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

/// `perf_event_open(attr, pid -1, cpu 0)` with a `perf_event_attr` of `size` 128 bytes:
/// type, config, config1, config2. The program runs for every CPU: it hangs on the
/// probe's event, not on this perf event.
fn perf_event_open(kind: u32, config: u64, config1: u64, config2: u64) -> std::io::Result<OwnedFd> {
    let mut attr = [0u64; 16];
    attr[0] = u64::from(kind) | (128u64 << 32);
    attr[1] = config;
    attr[7] = config1;
    attr[8] = config2;
    // SAFETY: perf_event_open reads the 128-byte attr (and the string config1 points to,
    // which the caller keeps alive).
    let fd = unsafe {
        libc::syscall(
            libc::SYS_perf_event_open,
            attr.as_ptr(),
            -1i32,
            0i32,
            -1i32,
            PERF_FLAG_FD_CLOEXEC,
        )
    };
    if fd < 0 {
        return Err(std::io::Error::last_os_error());
    }
    // SAFETY: the kernel returned a new fd that nothing else owns.
    Ok(unsafe { OwnedFd::from_raw_fd(fd as i32) })
}

/// `PERF_EVENT_IOC_SET_BPF` then `PERF_EVENT_IOC_ENABLE`.
fn attach_perf(perf: &OwnedFd, prog: BorrowedFd<'_>) {
    for (request, arg) in [
        (PERF_EVENT_IOC_SET_BPF, prog.as_raw_fd()),
        (PERF_EVENT_IOC_ENABLE, 0),
    ] {
        // SAFETY: both ioctls take an integer argument.
        let rc = unsafe { libc::ioctl(perf.as_raw_fd(), request as _, arg) };
        assert_eq!(
            rc,
            0,
            "perf ioctl {request:#x}: {}",
            std::io::Error::last_os_error()
        );
    }
}

fn sysfs_u64(path: &str) -> u64 {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{path}: {e}"));
    text.trim()
        .parse()
        .unwrap_or_else(|e| panic!("{path}: {text:?}: {e}"))
}

/// A kprobe (or kretprobe) on `func` through the kprobe PMU.
fn kprobe_pmu(func: &str, retprobe: bool, prog: BorrowedFd<'_>) -> OwnedFd {
    let kind = sysfs_u64("/sys/bus/event_source/devices/kprobe/type") as u32;
    let mut config = 0;
    if retprobe {
        let format =
            std::fs::read_to_string("/sys/bus/event_source/devices/kprobe/format/retprobe")
                .expect("kprobe PMU retprobe format");
        let bit: u32 = format
            .trim()
            .strip_prefix("config:")
            .and_then(|b| b.parse().ok())
            .unwrap_or_else(|| panic!("retprobe format {format:?}"));
        config = 1u64 << bit;
    }
    let name = CString::new(func).expect("no NUL");
    let perf = perf_event_open(kind, config, name.as_ptr() as u64, 0)
        .unwrap_or_else(|e| panic!("perf_event_open kprobe {func}: {e}"));
    attach_perf(&perf, prog);
    perf
}

fn tracefs() -> PathBuf {
    let dir = PathBuf::from("/sys/kernel/tracing");
    if !dir.join("kprobe_events").exists() {
        let rc = std::process::Command::new("mount")
            .args(["-t", "tracefs", "none", "/sys/kernel/tracing"])
            .status();
        assert!(rc.is_ok_and(|s| s.success()), "mounting tracefs");
    }
    dir
}

fn append(path: &Path, line: &str) -> std::io::Result<()> {
    use std::io::Write;
    let mut f = std::fs::OpenOptions::new().append(true).open(path)?;
    f.write_all(line.as_bytes())
}

/// The running kernel's name of syscall `name`'s entry (`__x64_sys_getppid`, ...).
fn syscall_symbol(name: &str) -> String {
    let kallsyms = std::fs::read_to_string("/proc/kallsyms").expect("read /proc/kallsyms");
    [
        "__x64_sys_",
        "__arm64_sys_",
        "__s390x_sys_",
        "__riscv_sys_",
        "sys_",
    ]
    .iter()
    .map(|prefix| format!("{prefix}{name}"))
    .find(|sym| {
        kallsyms
            .lines()
            .any(|l| l.split_whitespace().nth(2) == Some(sym))
    })
    .unwrap_or_else(|| panic!("no entry symbol for syscall {name} in /proc/kallsyms"))
}

#[test]
fn kprobe_pmu_counts_this_threads_unlinks_until_detached() {
    let Some(path) = vm_fixture("kprobe_pmu") else {
        return;
    };
    let obj = load(&path);
    let dir = scratch("kprobe");
    let perf = kprobe_pmu("do_unlinkat", false, prog_fd(&obj, "kprobe_unlinkat"));
    for _ in 0..3 {
        unlink_twice(&dir);
    }
    assert_eq!(slot(&obj, KPROBE), 6, "three pairs of unlinks");
    drop(perf);
    unlink_twice(&dir);
    assert_eq!(
        slot(&obj, KPROBE),
        6,
        "no hits after the perf event is closed"
    );
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
    let _perf = kprobe_pmu("do_unlinkat", true, prog_fd(&obj, "kretprobe_unlinkat"));
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
fn kprobe_through_tracefs_kprobe_events_counts_unlinks() {
    let Some(path) = vm_fixture("kprobe_tracefs") else {
        return;
    };
    let obj = load(&path);
    let dir = scratch("tracefs");
    let tracing = tracefs();
    let event = format!("unlink_{}", gettid());
    let events = tracing.join("kprobe_events");
    append(&events, &format!("p:bpfkit_vm/{event} do_unlinkat\n")).expect("add kprobe event");
    let id = sysfs_u64(&format!(
        "{}/events/bpfkit_vm/{event}/id",
        tracing.display()
    ));
    let perf = perf_event_open(PERF_TYPE_TRACEPOINT, id, 0, 0).expect("perf_event_open tracepoint");
    attach_perf(&perf, prog_fd(&obj, "kprobe_unlinkat"));
    unlink_twice(&dir);
    assert_eq!(slot(&obj, KPROBE), 2);
    drop(perf);
    append(&events, &format!("-:bpfkit_vm/{event}\n")).expect("remove kprobe event");
    let left = std::fs::read_to_string(&events).expect("read kprobe_events");
    assert!(!left.contains(&event), "event removed: {left}");
    std::fs::remove_dir(&dir).expect("remove scratch dir");
}

#[test]
fn ksyscall_counts_getppid_calls() {
    let Some(path) = vm_fixture("ksyscall") else {
        return;
    };
    let obj = load(&path);
    let symbol = syscall_symbol("getppid");
    let _perf = kprobe_pmu(&symbol, false, prog_fd(&obj, "ksyscall_getppid"));
    // SAFETY: getppid has no preconditions.
    let parents: Vec<i32> = (0..5).map(|_| unsafe { libc::getppid() }).collect();
    assert!(parents.iter().all(|&p| p == parents[0]));
    assert_eq!(
        slot(&obj, KSYSCALL),
        5,
        "five getppid calls through {symbol}"
    );
}

#[test]
fn kprobe_multi_counts_unlink_and_rmdir() {
    let Some(path) = vm_fixture("kprobe_multi") else {
        return;
    };
    let obj = load(&path);
    let dir = scratch("multi");
    let names = [
        CString::new("do_unlinkat").unwrap(),
        CString::new("do_rmdir").unwrap(),
    ];
    let syms: Vec<u64> = names.iter().map(|n| n.as_ptr() as u64).collect();
    let mut attr = sys::link_create_attr(
        prog_fd(&obj, "kprobe_multi_unlink_rmdir"),
        0,
        BPF_TRACE_KPROBE_MULTI,
        0,
    );
    attr.anon_2.kprobe_multi.cnt = syms.len() as u32;
    attr.anon_2.kprobe_multi.syms = syms.as_ptr() as u64;
    // SAFETY: `syms` points to two NUL-terminated names, all alive during the call.
    let link = match unsafe { sys::link_create(attr) } {
        Ok(link) => link,
        Err(e) if e.errno() == Some(libc::EOPNOTSUPP) => {
            eprintln!("SKIP kprobe_multi: this kernel has no kprobe.multi links (CONFIG_FPROBE, 5.18): {e}");
            return;
        }
        Err(e) => panic!("BPF_LINK_CREATE kprobe_multi: {e}"),
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
        "no hits after the link is closed"
    );
}

#[test]
fn fentry_and_fexit_see_do_unlinkat_arguments_and_return() {
    let Some(path) = vm_fixture("fentry_fexit") else {
        return;
    };
    let obj = load(&path);
    let dir = scratch("fentry");
    let entry =
        sys::raw_tracepoint_open(None, prog_fd(&obj, "fentry_unlinkat")).expect("attach fentry");
    let exit =
        sys::raw_tracepoint_open(None, prog_fd(&obj, "fexit_unlinkat")).expect("attach fexit");
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
    let link = sys::raw_tracepoint_open(None, prog_fd(&obj, "fmod_ret_file_open"))
        .expect("attach fmod_ret");
    let denied = std::fs::File::open("/proc/self/status").expect_err("open is refused");
    assert_eq!(denied.raw_os_error(), Some(libc::EACCES));
    assert_eq!(slot(&obj, FMOD_RET), 1);
    drop(link);
    let opened = std::fs::File::open("/proc/self/status").expect("open after detach");
    assert!(opened.as_fd().as_raw_fd() >= 0);
    assert_eq!(slot(&obj, FMOD_RET), 1);
}

#[test]
fn lsm_file_open_denies_this_thread_with_eperm() {
    let Some(path) = vm_fixture("lsm") else {
        return;
    };
    let obj = load(&path);
    let link = sys::raw_tracepoint_open(None, prog_fd(&obj, "lsm_file_open")).expect("attach lsm");
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
