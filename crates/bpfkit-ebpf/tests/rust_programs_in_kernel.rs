//! Rust programs written with bpfkit-ebpf, built through bpfkit-build and loaded by libbpf
//! (`bpftool prog loadall`) into the running kernel. Needs root.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use bpfkit_test_support::{map_dump, prog_loadall};

/// Builds `testdata/rust-ebpf/<name>` once per test binary and returns its object.
fn build(name: &str) -> PathBuf {
    static BUILT: OnceLock<std::sync::Mutex<Vec<(String, PathBuf)>>> = OnceLock::new();
    let built = BUILT.get_or_init(Default::default);
    let mut built = built.lock().unwrap_or_else(|e| e.into_inner());
    if let Some((_, path)) = built.iter().find(|(n, _)| n == name) {
        return path.clone();
    }
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let objects = bpfkit_build::EbpfBuild::new(root.join("testdata/rust-ebpf").join(name))
        .target_dir(Path::new(env!("CARGO_TARGET_TMPDIR")).join("rust-ebpf"))
        .quiet(true)
        .build()
        .unwrap_or_else(|e| panic!("building {name}: {e}"));
    let path = objects
        .into_iter()
        .find(|o| o.name == name)
        .unwrap_or_else(|| panic!("no object named {name}"))
        .path;
    built.push((name.to_string(), path.clone()));
    path
}

/// A tracepoint program attached with perf_event_open + PERF_EVENT_IOC_SET_BPF, as libbpf
/// does: one perf event on CPU 0 (the program array belongs to the tracepoint, so it runs on
/// every CPU). Closing the perf fd on drop detaches it.
struct TracepointAttachment {
    _perf: std::os::fd::OwnedFd,
}

fn bpf_obj_get(pinned: &Path) -> std::os::fd::OwnedFd {
    use std::os::fd::FromRawFd;
    use std::os::unix::ffi::OsStrExt;
    let path = std::ffi::CString::new(pinned.as_os_str().as_bytes()).expect("no NUL in path");
    // union bpf_attr for BPF_OBJ_GET: pathname (u64), bpf_fd (u32), file_flags (u32).
    let mut attr = [0u64; 2];
    attr[0] = path.as_ptr() as u64;
    // SAFETY: BPF_OBJ_GET (7) reads `attr` (16 bytes, sized as passed) and the C string.
    let fd = unsafe { libc::syscall(libc::SYS_bpf, 7, attr.as_mut_ptr(), 16) };
    assert!(
        fd >= 0,
        "BPF_OBJ_GET {}: {}",
        pinned.display(),
        std::io::Error::last_os_error()
    );
    // SAFETY: the kernel returned a new fd that nothing else owns.
    unsafe { std::os::fd::OwnedFd::from_raw_fd(fd as i32) }
}

/// `struct perf_event_attr` as of `PERF_ATTR_SIZE_VER0` (64 bytes), enough for tracepoints.
#[repr(C)]
#[derive(Default)]
struct PerfEventAttr {
    type_: u32,
    size: u32,
    config: u64,
    sample_period: u64,
    sample_type: u64,
    read_format: u64,
    flags: u64,
    wakeup_events: u32,
    bp_type: u32,
    config1: u64,
}

const PERF_TYPE_TRACEPOINT: u32 = 2;
const PERF_FLAG_FD_CLOEXEC: libc::c_ulong = 8;
const PERF_EVENT_IOC_ENABLE: libc::c_ulong = 0x2400;
/// `_IOW('$', 8, __u32)`.
const PERF_EVENT_IOC_SET_BPF: libc::c_ulong = 0x4004_2408;

fn attach_tracepoint(prog_pin: &Path, category: &str, name: &str) -> TracepointAttachment {
    use std::os::fd::{AsRawFd, FromRawFd};
    let tracefs = Path::new("/sys/kernel/tracing");
    if !tracefs.join("events").exists() {
        let _ = std::process::Command::new("mount")
            .args(["-t", "tracefs", "none", "/sys/kernel/tracing"])
            .status();
    }
    let id: u64 =
        std::fs::read_to_string(tracefs.join("events").join(category).join(name).join("id"))
            .expect("tracepoint id")
            .trim()
            .parse()
            .expect("numeric tracepoint id");
    let prog = bpf_obj_get(prog_pin);
    {
        let cpu = 0;
        let attr = PerfEventAttr {
            type_: PERF_TYPE_TRACEPOINT,
            size: std::mem::size_of::<PerfEventAttr>() as u32,
            config: id,
            sample_period: 1,
            wakeup_events: 1,
            ..Default::default()
        };
        // SAFETY: perf_event_open reads `attr`; pid -1 with a cpu traces all tasks there.
        let fd = unsafe {
            libc::syscall(
                libc::SYS_perf_event_open,
                &attr,
                -1,
                cpu,
                -1,
                PERF_FLAG_FD_CLOEXEC,
            )
        };
        assert!(
            fd >= 0,
            "perf_event_open: {}",
            std::io::Error::last_os_error()
        );
        // SAFETY: a new fd owned by nobody else.
        let fd = unsafe { std::os::fd::OwnedFd::from_raw_fd(fd as i32) };
        // SAFETY: PERF_EVENT_IOC_SET_BPF takes the program fd as its argument.
        let ret = unsafe {
            libc::ioctl(
                fd.as_raw_fd(),
                PERF_EVENT_IOC_SET_BPF as _,
                prog.as_raw_fd(),
            )
        };
        assert_eq!(
            ret,
            0,
            "PERF_EVENT_IOC_SET_BPF: {}",
            std::io::Error::last_os_error()
        );
        // SAFETY: PERF_EVENT_IOC_ENABLE takes no argument.
        let ret = unsafe { libc::ioctl(fd.as_raw_fd(), PERF_EVENT_IOC_ENABLE as _, 0) };
        assert_eq!(
            ret,
            0,
            "PERF_EVENT_IOC_ENABLE: {}",
            std::io::Error::last_os_error()
        );
        TracepointAttachment { _perf: fd }
    }
}

fn c_str(bytes: &[u8]) -> String {
    let end = bytes.iter().position(|b| *b == 0).unwrap_or(bytes.len());
    String::from_utf8_lossy(&bytes[..end]).into_owned()
}

fn u32_at(bytes: &[u8], offset: usize) -> u32 {
    u32::from_ne_bytes(bytes[offset..offset + 4].try_into().expect("4 bytes"))
}

#[test]
fn execve_tracepoint_loads_with_btf_and_records_exec_of_child() {
    let object = build("execve-events");
    let loaded = prog_loadall(&object).expect("libbpf loads the Rust object");
    let prog = loaded
        .program("record_execve")
        .expect("program pinned under its Rust name");
    assert_eq!(prog.prog_type, "tracepoint");
    let btf_id = prog.info["btf_id"].as_u64().unwrap_or(0);
    assert!(
        btf_id > 0,
        "program must carry BTF the kernel accepted: {}",
        prog.info
    );
    eprintln!(
        "execve-events: verified_insns={} xlated_insns={}",
        prog.info["verified_insns"], prog.xlated_insns
    );
    let last_exec = loaded.map("LAST_EXEC").expect("LAST_EXEC pinned");
    assert_eq!(last_exec.info["type"], "hash");
    assert_eq!(last_exec.info["bytes_key"], 4);
    assert_eq!(last_exec.info["bytes_value"], 168);
    let events = loaded.map("EVENTS").expect("EVENTS pinned");
    assert_eq!(events.info["type"], "ringbuf");
    assert_eq!(events.info["max_entries"], 64 * 1024);

    // Exec a uniquely named link to /bin/true so the event is recognisable.
    let exe = std::env::temp_dir().join(format!("bpfkit-execve-{}", std::process::id()));
    let _ = std::fs::remove_file(&exe);
    std::os::unix::fs::symlink("/bin/true", &exe).expect("symlink");
    let attachment = attach_tracepoint(
        &loaded.pin_dir().join("record_execve"),
        "syscalls",
        "sys_enter_execve",
    );
    // SAFETY: gettid has no memory effects.
    let tid = unsafe { libc::gettid() };
    let my_comm = std::fs::read_to_string(format!("/proc/self/task/{tid}/comm")).expect("comm");
    let child = std::process::Command::new(&exe).spawn().expect("spawn");
    let child_pid = child.id();
    let status = child.wait_with_output().expect("wait").status;
    assert!(status.success());
    drop(attachment);
    let _ = std::fs::remove_file(&exe);

    let entries = map_dump(last_exec.id).expect("dump LAST_EXEC");
    let entry = entries
        .iter()
        .find(|e| u32_at(&e.key, 0) == child_pid)
        .unwrap_or_else(|| {
            panic!(
                "no exec recorded for child {child_pid} among {} entries",
                entries.len()
            )
        });
    let v = &entry.value;
    assert_eq!(u32_at(v, 0), child_pid, "pid");
    assert_eq!(u32_at(v, 4), child_pid, "tgid");
    // SAFETY: getuid/getgid have no memory effects.
    let (uid, gid) = unsafe { (libc::getuid(), libc::getgid()) };
    assert_eq!(u32_at(v, 8), uid, "uid");
    assert_eq!(u32_at(v, 12), gid, "gid");
    assert!(
        u64::from_ne_bytes(v[16..24].try_into().unwrap()) > 0,
        "ktime_ns"
    );
    assert_eq!(
        c_str(&v[24..40]),
        my_comm.trim_end(),
        "comm is the spawning thread's"
    );
    assert_eq!(c_str(&v[40..168]), exe.to_str().unwrap(), "filename");

    // bpftool formats the value through the map's BTF: the Rust field names are there.
    let formatted = entry
        .formatted
        .as_ref()
        .expect("map has BTF, bpftool formats values");
    let value = &formatted["value"];
    for field in ["pid", "tgid", "uid", "gid", "ktime_ns", "comm", "filename"] {
        assert!(
            value.get(field).is_some(),
            "field {field} missing in {formatted}"
        );
    }
    assert_eq!(value["pid"], child_pid);
}
