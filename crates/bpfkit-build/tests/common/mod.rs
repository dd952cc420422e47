//! Shared by the route tests: building the testdata crates through `bpfkit-build`, loading
//! objects with bpftool (libbpf) into a private pin directory, attaching tracepoints.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;

use bpfkit_build::{EbpfBuild, EbpfObject};

/// `testdata/rust/<name>` of the repository.
pub fn test_crate(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../testdata/rust")
        .join(name)
}

/// The linker cargo built for these tests.
pub fn linker() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_bpfkit-link"))
}

/// One target directory for every eBPF crate of the tests, so `core` is built once:
/// `bpfkit-ebpf/` in the target directory holding the linker.
pub fn shared_target_dir() -> PathBuf {
    let linker = linker();
    let target = linker
        .parent()
        .and_then(Path::parent)
        .expect("the linker lives in <target>/<profile>/");
    target.join("bpfkit-ebpf")
}

/// The target directory name of the route `BPFKIT_ROUTE` selects.
pub fn route_triple() -> &'static str {
    match bpfkit_build::Route::from_env().expect("BPFKIT_ROUTE is bpfel or donor") {
        bpfkit_build::Route::Bpfel => "bpfel-unknown-none",
        bpfkit_build::Route::Donor => bpfkit_build::link::retarget::DONOR_TARGET,
    }
}

/// Builds a testdata crate through the route and returns its only object.
pub fn build(name: &str) -> EbpfObject {
    build_dir(&test_crate(name))
}

/// The route as every test drives it: the tests' linker, the shared target directory,
/// cargo's output kept quiet. Tests add their own options and call `build`.
pub fn route(dir: &Path) -> EbpfBuild {
    EbpfBuild::new(dir)
        .linker(linker())
        .target_dir(shared_target_dir())
        .quiet(true)
}

/// Builds the eBPF crate in `dir` through the route and returns its only object.
pub fn build_dir(dir: &Path) -> EbpfObject {
    let mut objects = route(dir)
        .build()
        .unwrap_or_else(|e| panic!("building {}: {e}", dir.display()));
    assert_eq!(objects.len(), 1, "one binary target expected");
    objects.remove(0)
}

/// Runs bpftool and returns stdout; panics with stderr on failure.
pub fn bpftool(args: &[&str]) -> String {
    let out = Command::new("bpftool")
        .args(args)
        .output()
        .expect("bpftool is installed (.ci/run installs it)");
    assert!(
        out.status.success(),
        "bpftool {args:?} failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Runs bpftool with `-j` and parses its JSON.
pub fn bpftool_json(args: &[&str]) -> serde_json::Value {
    let mut all = vec!["-j"];
    all.extend_from_slice(args);
    let text = bpftool(&all);
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("bpftool {args:?} JSON: {e}: {text}"))
}

fn ensure_mounted(path: &str, fstype: &str) {
    let mounts = std::fs::read_to_string("/proc/mounts").unwrap_or_default();
    if mounts.lines().any(|l| l.split(' ').nth(1) == Some(path)) {
        return;
    }
    let status = Command::new("mount")
        .args(["-t", fstype, fstype, path])
        .status()
        .expect("mount runs");
    assert!(status.success(), "cannot mount {fstype} on {path}");
}

/// An object loaded by libbpf (`bpftool prog loadall`), programs and maps pinned in a
/// directory of its own; unpinned (and so unloaded) on drop.
pub struct Loaded {
    pub dir: PathBuf,
}

impl Loaded {
    /// Loads `object` with bpftool.
    pub fn new(object: &Path, tag: &str) -> Self {
        ensure_mounted("/sys/fs/bpf", "bpf");
        let dir = PathBuf::from(format!(
            "/sys/fs/bpf/bpfkit-build-test-{}-{tag}",
            std::process::id()
        ));
        let _ = std::fs::remove_dir_all(&dir);
        let loaded = Self { dir };
        let maps = loaded.dir.join("maps");
        bpftool(&[
            "prog",
            "loadall",
            object.to_str().unwrap(),
            loaded.dir.to_str().unwrap(),
            "pinmaps",
            maps.to_str().unwrap(),
        ]);
        loaded
    }

    /// The pin path of a program.
    pub fn program(&self, name: &str) -> PathBuf {
        self.dir.join(name)
    }

    /// The pin path of a map.
    pub fn map(&self, name: &str) -> PathBuf {
        self.dir.join("maps").join(name)
    }

    /// `bpftool prog show pinned <program>`.
    pub fn program_info(&self, name: &str) -> serde_json::Value {
        bpftool_json(&[
            "prog",
            "show",
            "pinned",
            self.program(name).to_str().unwrap(),
        ])
    }

    /// `bpftool map dump pinned <map>`, as `(key, value)` formatted through the map's BTF.
    pub fn dump_map(&self, name: &str) -> Vec<(serde_json::Value, serde_json::Value)> {
        let dump = bpftool_json(&["map", "dump", "pinned", self.map(name).to_str().unwrap()]);
        dump.as_array()
            .unwrap_or_else(|| panic!("map dump is a list: {dump}"))
            .iter()
            .map(|entry| {
                let formatted = &entry["formatted"];
                assert!(
                    formatted.is_object(),
                    "entry formatted through BTF: {entry}"
                );
                (formatted["key"].clone(), formatted["value"].clone())
            })
            .collect()
    }
}

impl Drop for Loaded {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// A BPF program attached to a tracepoint through a perf event of the calling thread;
/// dropping it closes the event, which detaches the program.
pub struct TracepointLink {
    _perf_fd: std::os::fd::OwnedFd,
}

impl TracepointLink {
    /// Attaches the pinned program to `category/name` (pid 0 / cpu -1: the calling thread
    /// on any CPU).
    pub fn attach(pinned_program: &Path, category: &str, name: &str) -> Self {
        let perf = bpfkit_test_support::attach_tracepoint(pinned_program, category, name, 0, -1)
            .unwrap_or_else(|e| panic!("{e}"));
        Self { _perf_fd: perf }
    }
}

/// `getpid` through the syscall (glibc may not call the kernel).
pub fn raw_getpid() -> u32 {
    // SAFETY: getpid takes no arguments and cannot fail.
    unsafe { libc::syscall(libc::SYS_getpid) as u32 }
}
