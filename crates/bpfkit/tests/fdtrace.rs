//! The fd-leak tracer (`sys::fdtrace`, `BPFKIT_FD_TRACE=1`): a child run of this test binary
//! that deliberately leaks a map fd and a mapping must fail at exit with a report naming the
//! line that created them; a child that marks its fd as kept must exit cleanly; a child that
//! leaks a `File` the library opened (`fdtrace::open`, the one way it opens files) fails the
//! same way, while files it read and closed are not reported.

use std::os::fd::AsFd;
use std::process::{Command, Output};

use bpfkit::maps::{MapData, MapParams, MapType};
use bpfkit::sys::{fdtrace, MmapRegion};

/// Set in the child runs: only then do the `child_*` tests do their (leaking) work.
const CHILD: &str = "BPFKIT_FDTRACE_TEST_CHILD";

/// `BPF_F_MMAPABLE`.
const MMAPABLE: u32 = 1 << 10;

fn run_child(test: &str) -> Output {
    Command::new(std::env::current_exe().expect("own test binary"))
        .args([test, "--exact", "--nocapture", "--test-threads=1"])
        .env(fdtrace::ENV, "1")
        .env(CHILD, "1")
        .output()
        .expect("run the test binary as a child")
}

fn in_child() -> bool {
    std::env::var_os(CHILD).is_some()
}

fn mmapable_array(name: &str) -> MapData {
    let mut params = MapParams::new(name, MapType::Array, 4, 8, 512);
    params.map_flags = MMAPABLE;
    MapData::create(&params).expect("create an mmapable array")
}

/// The leaking half of `a_leaked_fd_is_reported_with_its_creation_stack` (a no-op unless run
/// as its child).
#[test]
fn child_leaks_a_map_and_a_mapping() {
    if !in_child() {
        return;
    }
    let map = mmapable_array("fdtrace_leak");
    let region = MmapRegion::map(map.as_fd(), 4096, libc::PROT_READ, 0).expect("mmap the array");
    println!("child: map id {}", map.id().expect("map id"));
    std::mem::forget(region);
    std::mem::forget(map);
}

/// The clean half of `a_kept_fd_is_listed_not_reported`.
#[test]
fn child_keeps_a_map_open() {
    if !in_child() {
        return;
    }
    let map = mmapable_array("fdtrace_kept");
    fdtrace::keep_open(map.as_fd(), "a process-wide cache in this test");
    let kept = fdtrace::kept();
    assert_eq!(kept.len(), 1, "{kept:?}");
    assert_eq!(kept[0].1, "a process-wide cache in this test");
    // A map created and closed in between is neither kept nor leaked.
    drop(mmapable_array("fdtrace_closed"));
    assert!(fdtrace::leaks().is_empty());
    std::mem::forget(map);
}

#[test]
fn a_leaked_fd_is_reported_with_its_creation_stack() {
    if in_child() {
        return;
    }
    let out = run_child("child_leaks_a_map_and_a_mapping");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    println!("child stderr:\n{stderr}");
    assert_eq!(
        out.status.code(),
        Some(fdtrace::LEAK_EXIT_CODE),
        "the child must fail at exit\nstdout:\n{stdout}\nstderr:\n{stderr}"
    );
    // The child's own test passed: the failure is the exit check's.
    assert!(stdout.contains("test result: ok. 1 passed"), "{stdout}");
    let id = stdout
        .lines()
        .find_map(|l| l.split("child: map id ").nth(1))
        .expect("the child printed its map id");
    assert!(
        stderr.contains("bpfkit fd trace: 2 leaked fd(s)/mapping(s) at exit"),
        "{stderr}"
    );
    // The fd, with its kind and kernel id, then the stack through the line that created it.
    let fd_report = stderr
        .split("leaked ")
        .find(|block| block.starts_with("fd "))
        .expect("a leaked fd block");
    assert!(
        fd_report.contains(&format!("bpf object (anon_inode:bpf-map map_id:{id})")),
        "{fd_report}"
    );
    assert!(fd_report.contains("created at:"), "{fd_report}");
    assert!(
        fd_report.contains("bpfkit::maps::data::MapData::create"),
        "{fd_report}"
    );
    assert!(
        fd_report.contains("fdtrace::mmapable_array") && fd_report.contains("tests/fdtrace.rs:"),
        "the creation site is named: {fd_report}"
    );
    let map_report = stderr
        .split("leaked ")
        .find(|block| block.starts_with("mapping: mmap (4096 bytes at "))
        .expect("a leaked mapping block");
    assert!(
        map_report.contains("fdtrace::child_leaks_a_map_and_a_mapping"),
        "{map_report}"
    );
}

#[test]
fn a_kept_fd_is_listed_not_reported() {
    if in_child() {
        return;
    }
    let out = run_child("child_keeps_a_map_open");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(
        out.status.code(),
        Some(0),
        "stdout:\n{stdout}\nstderr:\n{stderr}"
    );
    assert!(!stderr.contains("leaked"), "{stderr}");
}

/// The leaking half of `a_leaked_file_is_reported_with_its_creation_stack`: a file opened the
/// way the library opens them (tracefs, /proc, /sys, vmlinux BTF), kept open past exit, and
/// files read whole and closed (not leaks).
#[test]
fn child_leaks_a_file() {
    if !in_child() {
        return;
    }
    let status = fdtrace::read_to_string("/proc/self/status", "proc file").expect("read status");
    assert!(status.contains("Pid:"));
    // Library calls that read /proc and /sys files and close them.
    assert!(bpfkit::caps::effective().is_some());
    assert!(!bpfkit::cpus::online_cpus().expect("online cpus").is_empty());
    // A file the library opened and closed is forgotten at once: the same path opened by
    // someone else at the same number, and kept open, is not the library's leak.
    drop(fdtrace::open_read("/proc/self/cmdline", "proc file").expect("open cmdline"));
    let theirs = std::fs::File::open("/proc/self/cmdline").expect("open cmdline");
    std::mem::forget(theirs);
    let file = open_and_keep();
    println!(
        "child: leaked fd {}",
        std::os::fd::AsRawFd::as_raw_fd(&file)
    );
    std::mem::forget(file);
}

fn open_and_keep() -> fdtrace::TracedFile {
    fdtrace::open_read("/proc/self/cmdline", "proc file").expect("open cmdline")
}

#[test]
fn a_leaked_file_is_reported_with_its_creation_stack() {
    if in_child() {
        return;
    }
    let out = run_child("child_leaks_a_file");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    println!("child stderr:\n{stderr}");
    assert_eq!(
        out.status.code(),
        Some(fdtrace::LEAK_EXIT_CODE),
        "the child must fail at exit\nstdout:\n{stdout}\nstderr:\n{stderr}"
    );
    assert!(stdout.contains("test result: ok. 1 passed"), "{stdout}");
    let fd = stdout
        .lines()
        .find_map(|l| l.split("child: leaked fd ").nth(1))
        .expect("the child printed its fd");
    // Exactly the one file: the files read and closed are not reported.
    assert!(
        stderr.contains("bpfkit fd trace: 1 leaked fd(s)/mapping(s) at exit"),
        "{stderr}"
    );
    let report = stderr
        .split("leaked ")
        .find(|block| block.starts_with(&format!("fd {fd}: proc file (/proc/")))
        .expect("a leaked file block naming the file");
    assert!(report.contains("/cmdline)"), "{report}");
    assert!(report.contains("created at:"), "{report}");
    assert!(
        report.contains("fdtrace::open_and_keep") && report.contains("tests/fdtrace.rs:"),
        "the creation site is named: {report}"
    );
}
