//! The kernel-matrix smoke test run in every VM (x86_64 and arm64, `cargo xtask
//! vm-test`): bpfkit's loader loads a Rust eBPF program (`xtask/ebpf/vm-execs`, built
//! once for bpfel on the host and shipped in `$BPFKIT_VM_FIXTURES`), attaches it to
//! the `syscalls/sys_enter_execve` tracepoint, and the events of ten execs by this test
//! are read back from its ring buffer. Outside the VM it prints `SKIP` and returns.

use std::os::fd::{AsFd, AsRawFd, FromRawFd, OwnedFd};
use std::path::Path;

use bpfkit::loader::Loader;
use bpfkit::maps::MapData;
use bpfkit::sys::MmapRegion;

/// `_IOW('$', 8, __u32)`.
const PERF_EVENT_IOC_SET_BPF: u64 = 0x4004_2408;
/// `_IO('$', 0)`.
const PERF_EVENT_IOC_ENABLE: u64 = 0x2400;
/// `PERF_TYPE_TRACEPOINT`.
const PERF_TYPE_TRACEPOINT: u64 = 2;
/// `PERF_FLAG_FD_CLOEXEC`.
const PERF_FLAG_FD_CLOEXEC: u64 = 8;
/// `BPF_RINGBUF_BUSY_BIT` and `BPF_RINGBUF_DISCARD_BIT` of a record header.
const RINGBUF_BUSY: u32 = 1 << 31;
const RINGBUF_DISCARD: u32 = 1 << 30;
/// `struct ExecEvent` of the program: pid, tgid, uid, gid, ktime_ns, comm[16], filename[128].
const EXEC_EVENT_SIZE: usize = 168;

/// One `ExecEvent`.
#[derive(Debug)]
struct ExecEvent {
    pid: u32,
    tgid: u32,
    uid: u32,
    comm: String,
    filename: String,
}

fn c_str(bytes: &[u8]) -> String {
    let end = bytes.iter().position(|&b| b == 0).unwrap_or(bytes.len());
    String::from_utf8_lossy(&bytes[..end]).into_owned()
}

fn u32_at(bytes: &[u8], offset: usize) -> u32 {
    u32::from_ne_bytes(bytes[offset..offset + 4].try_into().expect("4 bytes"))
}

impl ExecEvent {
    fn parse(bytes: &[u8]) -> Self {
        assert_eq!(bytes.len(), EXEC_EVENT_SIZE, "record size");
        Self {
            pid: u32_at(bytes, 0),
            tgid: u32_at(bytes, 4),
            uid: u32_at(bytes, 8),
            comm: c_str(&bytes[24..40]),
            filename: c_str(&bytes[40..168]),
        }
    }
}

/// Every committed record of a `BPF_MAP_TYPE_RINGBUF`, consumed (consumer page mapped
/// read-write, producer page and twice the data area read-only, as the kernel lays it out).
fn drain_ringbuf(map: &MapData) -> Vec<Vec<u8>> {
    // SAFETY: sysconf has no preconditions.
    let page = unsafe { libc::sysconf(libc::_SC_PAGESIZE) } as usize;
    let size = map.max_entries() as usize;
    let consumer = MmapRegion::map(map.as_fd(), page, libc::PROT_READ | libc::PROT_WRITE, 0)
        .expect("mmap ring buffer consumer page");
    let producer = MmapRegion::map(map.as_fd(), page + 2 * size, libc::PROT_READ, page as i64)
        .expect("mmap ring buffer producer page and data");
    let read_u64 = |region: &MmapRegion, offset: usize| {
        let mut b = [0u8; 8];
        assert!(region.read(offset, &mut b));
        u64::from_ne_bytes(b)
    };
    let mut pos = read_u64(&consumer, 0);
    let end = read_u64(&producer, 0);
    let mut records = Vec::new();
    while pos < end {
        let at = page + (pos as usize & (size - 1));
        let mut header = [0u8; 4];
        assert!(producer.read(at, &mut header));
        let header = u32::from_ne_bytes(header);
        if header & RINGBUF_BUSY != 0 {
            break;
        }
        let len = (header & !(RINGBUF_BUSY | RINGBUF_DISCARD)) as usize;
        if header & RINGBUF_DISCARD == 0 {
            let mut record = vec![0u8; len];
            // The data area is mapped twice in a row, so a record never wraps.
            assert!(producer.read(at + 8, &mut record));
            records.push(record);
        }
        pos += ((len + 8 + 7) & !7) as u64;
    }
    assert!(consumer.write(0, &pos.to_ne_bytes()));
    records
}

/// perf_event_open on tracepoint `category/name` (pid -1, cpu 0), the program attached.
fn attach_tracepoint(category: &str, name: &str, prog: std::os::fd::BorrowedFd<'_>) -> OwnedFd {
    let mut tracing = Path::new("/sys/kernel/tracing");
    if !tracing.join("events").is_dir() {
        tracing = Path::new("/sys/kernel/debug/tracing");
    }
    let id_path = tracing.join(format!("events/{category}/{name}/id"));
    let id: u64 = std::fs::read_to_string(&id_path)
        .unwrap_or_else(|e| panic!("{}: {e}", id_path.display()))
        .trim()
        .parse()
        .expect("tracepoint id");
    let mut attr = [0u64; 16];
    attr[0] = PERF_TYPE_TRACEPOINT | (128u64 << 32);
    attr[1] = id;
    // SAFETY: perf_event_open reads the 128-byte attr.
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
    assert!(
        fd >= 0,
        "perf_event_open {category}/{name}: {}",
        std::io::Error::last_os_error()
    );
    // SAFETY: a new fd nothing else owns.
    let perf = unsafe { OwnedFd::from_raw_fd(fd as i32) };
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
    perf
}

#[test]
fn rust_execve_tracepoint_reports_ten_execs_through_its_ring_buffer() {
    if std::env::var_os("BPFKIT_VM").is_none_or(|v| v != "1") {
        eprintln!(
            "SKIP rust_execve_tracepoint: runs in the kernel-matrix VM (BPFKIT_VM=1; \
             `cargo xtask vm-test`), which ships the prebuilt Rust eBPF object"
        );
        return;
    }
    let dir = std::env::var_os("BPFKIT_VM_FIXTURES").expect("BPFKIT_VM_FIXTURES is set in the VM");
    let path = Path::new(&dir).join("vm-execs.bpf.o");
    let obj = Loader::new()
        .load_file(&path)
        .unwrap_or_else(|e| panic!("loading {}: {e}", path.display()));
    let prog = obj.program("record_execve").expect("program record_execve");
    let target = prog.section().attach_target.as_deref();
    assert_eq!(
        target,
        Some("syscalls/sys_enter_execve"),
        "from the #[tracepoint] attribute"
    );
    let (category, name) = target
        .and_then(|t| t.split_once('/'))
        .expect("category/name");
    let events_map = obj.map("EVENTS").expect("EVENTS ring buffer");
    let perf = attach_tracepoint(category, name, prog.fd());
    let true_bin = ["/bin/true", "/usr/bin/true"]
        .into_iter()
        .find(|p| Path::new(p).exists())
        .expect("a true binary");
    let mut children = Vec::new();
    for _ in 0..10 {
        let status = std::process::Command::new(true_bin)
            .spawn()
            .expect("spawn true");
        children.push(status.id());
        let mut child = status;
        assert!(child.wait().expect("wait").success());
    }
    drop(perf);
    let events: Vec<ExecEvent> = drain_ringbuf(events_map)
        .iter()
        .map(|r| ExecEvent::parse(r))
        .collect();
    // SAFETY: getuid has no preconditions.
    let uid = unsafe { libc::getuid() };
    for pid in &children {
        let event = events
            .iter()
            .find(|e| e.tgid == *pid)
            .unwrap_or_else(|| panic!("no event for child {pid} among {events:?}"));
        assert_eq!(event.pid, *pid, "a fresh child's first thread");
        assert_eq!(event.uid, uid);
        assert_eq!(event.filename, true_bin);
        assert!(!event.comm.is_empty(), "comm recorded");
    }
    let ours = events.iter().filter(|e| children.contains(&e.tgid)).count();
    assert_eq!(ours, 10, "one event per exec: {events:?}");
    eprintln!(
        "rust_execve_tracepoint: {} events read, first {:?}",
        events.len(),
        events.first()
    );
}
