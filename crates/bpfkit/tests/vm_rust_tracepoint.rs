//! The kernel-matrix smoke test run in every VM (x86_64 and arm64, `cargo xtask
//! vm-test`): bpfkit's loader loads a Rust eBPF program (`xtask/ebpf/vm-execs`, built
//! once for bpfel on the host and shipped in `$BPFKIT_VM_FIXTURES`), attaches it to
//! the `syscalls/sys_enter_execve` tracepoint its section names (`programs::auto`), and
//! the events of ten execs by this test are read back with `readers::RingBuf`. Outside the VM it prints `SKIP` and returns.

use std::path::Path;

use bpfkit::loader::Loader;
use bpfkit::programs::auto;
use bpfkit::readers::RingBuf;

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
    let mut ring =
        RingBuf::new(obj.map("EVENTS").expect("EVENTS ring buffer")).expect("map EVENTS");
    let link = auto::attach(prog).expect("attach to the section's tracepoint");
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
    drop(link);
    let mut events = Vec::new();
    while let Some(record) = ring.next().expect("read EVENTS") {
        events.push(ExecEvent::parse(&record));
    }
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
