//! Helpers for the kernel tests: fd-leak checks (tests run one at a time), raw instruction
//! encoding, bpftool ground truth, a private bpffs directory, the `net_counters` fixture.
#![allow(dead_code)]

use std::path::PathBuf;
use std::process::Command;
use std::sync::{Mutex, MutexGuard};

use bpfkit::loader::{Loader, Object};
use bpfkit_test_support::fixture;

static SERIAL: Mutex<()> = Mutex::new(());

/// The process's open fds.
pub fn fd_count() -> usize {
    std::fs::read_dir("/proc/self/fd")
        .expect("read /proc/self/fd")
        .count()
}

/// Holds the test lock and the fd count at the start; [`FdCheck::assert_no_leak`] compares.
pub struct FdCheck {
    before: usize,
    _serial: MutexGuard<'static, ()>,
}

/// The lock the tests of one binary take to run one at a time (fd counts are per process).
pub fn serial() -> MutexGuard<'static, ()> {
    SERIAL.lock().unwrap_or_else(|e| e.into_inner())
}

impl FdCheck {
    pub fn start() -> Self {
        let serial = serial();
        Self {
            before: fd_count(),
            _serial: serial,
        }
    }

    /// Call after every object of the test has been dropped.
    pub fn assert_no_leak(self) {
        let after = fd_count();
        assert_eq!(self.before, after, "fds before/after the test differ: leak");
    }
}

/// One `struct bpf_insn` as a little-endian u64: code, dst, src, off, imm.
pub fn insn(code: u8, dst: u8, src: u8, off: i16, imm: i32) -> u64 {
    u64::from(code)
        | (u64::from(dst & 0xf) << 8)
        | (u64::from(src & 0xf) << 12)
        | (u64::from(off as u16) << 16)
        | (u64::from(imm as u32) << 32)
}

/// `dst = map fd` (two slots of `BPF_LD | BPF_DW | BPF_IMM`, `BPF_PSEUDO_MAP_FD`).
pub fn ld_map_fd(dst: u8, fd: i32) -> [u64; 2] {
    [insn(0x18, dst, 1, 0, fd), insn(0, 0, 0, 0, 0)]
}

pub fn mov64_imm(dst: u8, imm: i32) -> u64 {
    insn(0xb7, dst, 0, 0, imm)
}
pub fn mov64_reg(dst: u8, src: u8) -> u64 {
    insn(0xbf, dst, src, 0, 0)
}
pub fn add64_imm(dst: u8, imm: i32) -> u64 {
    insn(0x07, dst, 0, 0, imm)
}
/// `*(u32 *)(dst + off) = imm`
pub fn st_w(dst: u8, off: i16, imm: i32) -> u64 {
    insn(0x62, dst, 0, off, imm)
}
/// `*(u64 *)(dst + off) = imm`
pub fn st_dw(dst: u8, off: i16, imm: i32) -> u64 {
    insn(0x7a, dst, 0, off, imm)
}
pub fn call(helper: i32) -> u64 {
    insn(0x85, 0, 0, 0, helper)
}
pub fn exit() -> u64 {
    insn(0x95, 0, 0, 0, 0)
}

/// `bpftool -j <args>` parsed.
pub fn bpftool(args: &[&str]) -> serde_json::Value {
    let out = Command::new("bpftool")
        .arg("-j")
        .args(args)
        .output()
        .expect("bpftool runs (apt package bpftool)");
    assert!(
        out.status.success(),
        "bpftool {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("bpftool prints JSON")
}

/// Whether `bpftool link list` shows a link with this id.
pub fn link_listed(link_id: u32) -> bool {
    bpftool(&["link", "list"])
        .as_array()
        .unwrap()
        .iter()
        .any(|l| l["id"].as_u64() == Some(u64::from(link_id)))
}

/// A fresh directory on a bpffs: /sys/fs/bpf (mounted if needed) / bpfkit-test-<pid>-<name>.
/// Removed (it must be empty: the test unpins first) by [`BpffsDir::remove`]; if a test
/// fails before that, dropping it removes the directory and whatever is pinned in it.
pub struct BpffsDir {
    pub path: PathBuf,
}

impl BpffsDir {
    pub fn new(name: &str) -> Self {
        let root = PathBuf::from("/sys/fs/bpf");
        if !bpfkit::pin::is_bpffs(&root) {
            let status = Command::new("mount")
                .args(["-t", "bpf", "bpf", "/sys/fs/bpf"])
                .status()
                .expect("mount runs");
            assert!(status.success(), "mounting a bpffs at /sys/fs/bpf");
        }
        let path = root.join(format!("bpfkit-test-{}-{name}", std::process::id()));
        std::fs::create_dir(&path).expect("create pin dir");
        Self { path }
    }

    pub fn remove(self) {
        std::fs::remove_dir(&self.path).expect("pin dir is empty and removable");
    }
}

impl Drop for BpffsDir {
    fn drop(&mut self) {
        // After `remove` this finds nothing; after a failed assertion it cleans up the pins.
        let _ = std::fs::remove_dir_all(&self.path);
    }
}

/// Minimal raw BTF: `[1] int (4 bytes, signed)`, used for maps whose values need BTF.
pub fn btf_int() -> Vec<u8> {
    let strings = b"\0int\0";
    let types: Vec<u8> = [1u32, 1 << 24, 4, (1 << 24) | 32]
        .iter()
        .flat_map(|w| w.to_le_bytes())
        .collect();
    let mut out = Vec::new();
    out.extend(0xeb9fu16.to_le_bytes());
    out.extend([1u8, 0]);
    out.extend(24u32.to_le_bytes());
    out.extend(0u32.to_le_bytes());
    out.extend((types.len() as u32).to_le_bytes());
    out.extend((types.len() as u32).to_le_bytes());
    out.extend((strings.len() as u32).to_le_bytes());
    out.extend(types);
    out.extend(strings);
    out
}

/// The running kernel's config: /boot/config-<release>, else `zcat /proc/config.gz`.
pub fn kernel_config() -> String {
    let release = std::fs::read_to_string("/proc/sys/kernel/osrelease").expect("osrelease");
    if let Ok(text) = std::fs::read_to_string(format!("/boot/config-{}", release.trim())) {
        return text;
    }
    let out = Command::new("zcat")
        .arg("/proc/config.gz")
        .output()
        .expect("zcat runs");
    assert!(
        out.status.success(),
        "no kernel config in /boot or /proc/config.gz"
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The `net_counters` fixture loaded with its `udp_port` global set to `port`.
pub fn load_net_counters(port: u16) -> Object {
    Loader::new()
        .set_global("udp_port", &port.to_ne_bytes())
        .load_file(fixture("net_counters"))
        .expect("net_counters loads")
}

/// Slot `slot` of the object's `counts` map (asserts the slot exists).
pub fn count(object: &Object, slot: u32) -> u64 {
    let mut value = [0u8; 8];
    assert!(object
        .map("counts")
        .unwrap()
        .lookup_bytes(&slot.to_ne_bytes(), &mut value, 0)
        .unwrap());
    u64::from_ne_bytes(value)
}

/// A kernel played through the syscall seam (`bpfkit::sys::seam`), for tests that run
/// without one.
pub mod fake {
    use std::os::fd::IntoRawFd;

    use bpfkit::sys::seam::{Call, Reply};
    use bpfkit::sys::Command;

    /// The errnos every fault test injects at each step, with their names.
    pub const ERRNOS: [(i32, &str); 7] = [
        (libc::EPERM, "EPERM"),
        (libc::EINVAL, "EINVAL"),
        (libc::E2BIG, "E2BIG"),
        (libc::ENOSPC, "ENOSPC"),
        (libc::ENOMEM, "ENOMEM"),
        (libc::EAGAIN, "EAGAIN"),
        (libc::EINTR, "EINTR"),
    ];

    /// A `/dev/null` fd handed to the code under test as if the kernel had created an object.
    pub fn fake_fd() -> i64 {
        let file = std::fs::File::open("/dev/null").expect("open /dev/null");
        i64::from(file.into_raw_fd())
    }

    /// Commands that return a new fd.
    pub fn creates_fd(command: Command) -> bool {
        matches!(
            command,
            Command::MapCreate
                | Command::ProgLoad
                | Command::BtfLoad
                | Command::LinkCreate
                | Command::ObjGet
                | Command::RawTracepointOpen
                | Command::MapGetFdById
                | Command::ProgGetFdById
                | Command::BtfGetFdById
                | Command::LinkGetFdById
                | Command::TokenCreate
                | Command::IterCreate
        )
    }

    /// The kernel as the fake plays it: objects are `/dev/null` fds, every other command and
    /// every rtnetlink request succeeds, perf events open and their ioctls succeed; mmap and
    /// file opens go to the real kernel (only readable files such as vmlinux BTF are touched).
    pub fn fake_kernel(call: &Call) -> Reply {
        match call {
            Call::Bpf(command) if creates_fd(*command) => Reply::Return(fake_fd()),
            Call::Bpf(_) => Reply::Return(0),
            Call::PerfEventOpen { .. } => Reply::Return(fake_fd()),
            Call::PerfIoctl(_) => Reply::Return(0),
            Call::Netlink { .. } => Reply::Return(0),
            _ => Reply::Kernel,
        }
    }
}
