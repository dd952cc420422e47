//! execguard enforced by the kernel: in the kernel-matrix VMs (x86_64 6.1 and 6.12, where
//! `bpf` is in the active LSM list) the guard denies the exec of a listed copy of a binary
//! with EPERM — under a hard link's name too, since it matches device and inode — lets
//! another copy run, reports each denial through the ring buffer, only reports in audit
//! mode, denies every exec by a task of a listed cgroup, and stops denying once dropped.
//!
//! A probe decides: where `/sys/kernel/security/lsm` lacks `bpf` (the host: no securityfs
//! list, and no trampolines for LSM programs) the tests print `SKIP` and return.

use std::io::ErrorKind;
use std::os::unix::fs::MetadataExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use bpfkit::programs::lsm;
use execguard::{Action, Event, Guard, Policy, Reason};

fn lsm_active(test: &str) -> bool {
    if lsm::bpf_lsm_active() {
        return true;
    }
    eprintln!(
        "SKIP {test}: the BPF LSM is not active here ('bpf' is not in \
         /sys/kernel/security/lsm); run `cargo xtask vm-test --arch x86_64 [--kernel 6.12]`"
    );
    false
}

/// A scratch directory with two copies of a static binary that exits 0 when run as
/// `<copy> true` (busybox in the VM): `denied/busybox` and `allowed/busybox`.
struct Scratch {
    dir: PathBuf,
    denied: PathBuf,
    allowed: PathBuf,
}

impl Scratch {
    fn new(test: &str) -> Scratch {
        let source = ["/bin/busybox", "/usr/bin/true", "/bin/true"]
            .into_iter()
            .map(Path::new)
            .find(|p| p.exists())
            .expect("a busybox or true binary to copy");
        let dir = std::env::temp_dir().join(format!("execguard-{test}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let mut copies = Vec::new();
        for name in ["denied", "allowed"] {
            std::fs::create_dir_all(dir.join(name)).expect("scratch dir");
            let copy = dir.join(name).join("busybox");
            std::fs::copy(source, &copy).expect("copy the binary");
            copies.push(copy);
        }
        let allowed = copies.pop().unwrap();
        let denied = copies.pop().unwrap();
        Scratch {
            dir,
            denied,
            allowed,
        }
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Runs `<path> true`: `Ok(exit code)` or the spawn (exec) error.
fn run(path: &Path) -> std::io::Result<i32> {
    Command::new(path)
        .arg("true")
        .stdin(Stdio::null())
        .status()
        .map(|s| s.code().unwrap_or(-1))
}

fn thread_comm() -> String {
    std::fs::read_to_string("/proc/thread-self/comm")
        .expect("read comm")
        .trim_end()
        .to_owned()
}

/// Events until `count` arrived or 5 s passed.
fn events(guard: &mut Guard, count: usize) -> Vec<Event> {
    let mut got = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(5);
    while got.len() < count && Instant::now() < deadline {
        guard
            .poll(
                Some(Duration::from_millis(100)),
                |e| got.push(e),
                |e| panic!("undecodable record: {e}"),
            )
            .expect("poll events");
    }
    // Anything more that is already there (there should be none).
    guard
        .poll(
            Some(Duration::from_millis(200)),
            |e| got.push(e),
            |e| panic!("undecodable record: {e}"),
        )
        .expect("poll events");
    got
}

fn assert_eperm(result: std::io::Result<i32>, what: &str) {
    match result {
        Err(e) => assert_eq!(e.raw_os_error(), Some(libc::EPERM), "{what}: {e}"),
        Ok(code) => panic!("{what}: ran (exit {code}) instead of failing with EPERM"),
    }
}

#[test]
fn listed_file_is_denied_under_any_name_and_reported() {
    if !lsm_active("listed_file_is_denied_under_any_name_and_reported") {
        return;
    }
    let scratch = Scratch::new("deny");
    let alias = scratch.dir.join("alias");
    std::fs::hard_link(&scratch.denied, &alias).expect("hard link");
    let ino = std::fs::metadata(&scratch.denied).expect("stat").ino();
    assert_eq!(run(&scratch.denied).expect("runs before the guard"), 0);

    let mut guard = Guard::start(&Policy {
        deny: vec![scratch.denied.clone()],
        ..Policy::default()
    })
    .expect("guard starts");
    let comm = thread_comm();
    assert_eperm(run(&scratch.denied), "exec of the listed file");
    assert_eperm(run(&alias), "exec of a hard link to the listed file");
    assert_eq!(run(&scratch.allowed).expect("the other copy runs"), 0);

    let got = events(&mut guard, 2);
    assert_eq!(
        got.len(),
        2,
        "one event per denied exec, none for the allowed one: {got:?}"
    );
    for (event, name) in got.iter().zip([&scratch.denied, &alias]) {
        assert_eq!(event.action, Action::Deny, "{event:?}");
        assert_eq!(event.reason, Reason::File, "{event:?}");
        assert_eq!(event.ino, ino, "{event:?}");
        assert_eq!(
            event.listed.as_deref(),
            Some(scratch.denied.as_path()),
            "{event:?}"
        );
        assert_eq!(Path::new(&event.filename), name.as_path(), "{event:?}");
        assert_eq!(event.comm, comm, "{event:?}");
        assert_ne!(
            event.pid,
            std::process::id(),
            "the forked child asked: {event:?}"
        );
        assert_eq!(event.uid, 0, "{event:?}");
    }
    println!("execguard events: {}", execguard::text_line(&got[0]));
    println!("execguard events: {}", execguard::json_line(&got[1]));

    drop(guard);
    assert_eq!(
        run(&scratch.denied).expect("runs again once the guard is dropped"),
        0
    );
}

#[test]
fn audit_mode_reports_and_allows() {
    if !lsm_active("audit_mode_reports_and_allows") {
        return;
    }
    let scratch = Scratch::new("audit");
    let mut guard = Guard::start(&Policy {
        deny: vec![scratch.denied.clone()],
        audit: true,
        ..Policy::default()
    })
    .expect("guard starts");
    assert_eq!(run(&scratch.denied).expect("audit mode allows"), 0);
    assert_eq!(run(&scratch.allowed).expect("the other copy runs"), 0);
    let got = events(&mut guard, 1);
    assert_eq!(got.len(), 1, "{got:?}");
    assert_eq!(got[0].action, Action::Audit);
    assert_eq!(got[0].reason, Reason::File);
    assert_eq!(Path::new(&got[0].filename), scratch.denied.as_path());
}

/// The first cgroup v2 mount point in `/proc/self/mountinfo`.
fn cgroup2_mount() -> Option<PathBuf> {
    let info = std::fs::read_to_string("/proc/self/mountinfo").ok()?;
    info.lines().find_map(|line| {
        let (left, right) = line.split_once(" - ")?;
        if right.split(' ').next() != Some("cgroup2") {
            return None;
        }
        left.split(' ').nth(4).map(PathBuf::from)
    })
}

/// Removes the test's cgroup (retrying while the reaped child's exit settles).
struct TestCgroup(PathBuf);

impl Drop for TestCgroup {
    fn drop(&mut self) {
        for _ in 0..50 {
            match std::fs::remove_dir(&self.0) {
                Err(e) if e.kind() == ErrorKind::ResourceBusy => {
                    std::thread::sleep(Duration::from_millis(20))
                }
                _ => return,
            }
        }
    }
}

#[test]
fn listed_cgroup_may_not_exec() {
    if !lsm_active("listed_cgroup_may_not_exec") {
        return;
    }
    let Some(root) = cgroup2_mount() else {
        eprintln!("SKIP listed_cgroup_may_not_exec: no cgroup2 mount");
        return;
    };
    let scratch = Scratch::new("cgroup");
    let cgroup = TestCgroup(root.join(format!("execguard-{}", std::process::id())));
    std::fs::create_dir(&cgroup.0).expect("create a cgroup");
    let id = std::fs::metadata(&cgroup.0).expect("stat cgroup").ino();
    let mut guard = Guard::start(&Policy {
        cgroups: vec![cgroup.0.clone()],
        ..Policy::default()
    })
    .expect("guard starts");

    let procs = std::ffi::CString::new(
        cgroup
            .0
            .join("cgroup.procs")
            .into_os_string()
            .into_encoded_bytes(),
    )
    .expect("no NUL");
    let mut command = Command::new(&scratch.allowed);
    command.arg("true");
    // SAFETY: the closure runs in the forked child before exec and only calls open, write
    // and close (async-signal-safe) on memory prepared before the fork.
    unsafe {
        command.pre_exec(move || {
            let fd = libc::open(procs.as_ptr(), libc::O_WRONLY);
            if fd < 0 {
                return Err(std::io::Error::last_os_error());
            }
            let written = libc::write(fd, b"0".as_ptr().cast(), 1);
            libc::close(fd);
            if written != 1 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    assert_eperm(
        command.status().map(|s| s.code().unwrap_or(-1)),
        "exec by a task of the listed cgroup",
    );
    assert_eq!(run(&scratch.allowed).expect("runs outside the cgroup"), 0);
    let got = events(&mut guard, 1);
    assert_eq!(got.len(), 1, "{got:?}");
    assert_eq!(got[0].action, Action::Deny);
    assert_eq!(got[0].reason, Reason::Cgroup);
    assert_eq!(got[0].cgroup_id, id, "{:?}", got[0]);
    assert_eq!(Path::new(&got[0].filename), scratch.allowed.as_path());
    drop(guard);
}

/// The execguard binary: cargo's build of it, or in the VM the copy xtask ships as
/// `/bin/execguard`.
fn execguard_binary() -> PathBuf {
    let built = Path::new(env!("CARGO_BIN_EXE_execguard"));
    if built.exists() {
        built.to_owned()
    } else {
        PathBuf::from("/bin/execguard")
    }
}

#[test]
fn cli_denies_and_prints_json_lines_until_sigterm() {
    if !lsm_active("cli_denies_and_prints_json_lines_until_sigterm") {
        return;
    }
    use std::io::{BufRead, BufReader, Read};
    let scratch = Scratch::new("cli");
    let mut guard = Command::new(execguard_binary())
        .arg("--deny")
        .arg(&scratch.denied)
        .args(["--json", "--duration", "60"])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn execguard");
    let mut stderr = BufReader::new(guard.stderr.take().unwrap());
    let mut banner = String::new();
    stderr.read_line(&mut banner).expect("read banner");
    assert!(
        banner.starts_with("execguard: denying 1 file(s), 0 cgroup(s) (program id "),
        "{banner}"
    );
    assert_eperm(
        run(&scratch.denied),
        "exec of the listed file under the CLI",
    );
    assert_eq!(run(&scratch.allowed).expect("the other copy runs"), 0);
    // The event is printed within the poll loop's 100 ms; give it time, then stop it.
    std::thread::sleep(Duration::from_millis(500));
    // SAFETY: kill(2) on our own child's pid.
    assert_eq!(unsafe { libc::kill(guard.id() as i32, libc::SIGTERM) }, 0);
    let status = guard.wait().expect("wait execguard");
    let mut out = String::new();
    guard
        .stdout
        .take()
        .unwrap()
        .read_to_string(&mut out)
        .expect("read stdout");
    let mut rest = String::new();
    stderr.read_to_string(&mut rest).expect("read stderr");
    assert!(status.success(), "{status}: {rest}");
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 1, "one JSON line per denial: {out}");
    let json: serde_json::Value = serde_json::from_str(lines[0]).expect("JSON line");
    println!("execguard CLI printed: {}", lines[0]);
    let denied = scratch.denied.to_str().unwrap();
    assert_eq!(json["action"], "deny");
    assert_eq!(json["reason"], "file");
    assert_eq!(json["filename"], denied);
    assert_eq!(json["listed"], denied);
    assert_eq!(
        json["ino"],
        std::fs::metadata(&scratch.denied).unwrap().ino()
    );
    assert_eq!(run(&scratch.denied).expect("runs once execguard exited"), 0);
}
