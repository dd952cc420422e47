//! execsnoop without root: with only CAP_BPF + CAP_PERFMON (+ CAP_DAC_READ_SEARCH for
//! tracefs, which is root-only) as uid 65534 it traces execs; without them its error names
//! the capability that is missing. Runs the binary under `setpriv` (util-linux).

use std::path::PathBuf;
use std::process::{Child, Command, Output, Stdio};
use std::sync::Mutex;
use std::time::Duration;

/// Held while a test thread has a copied executable open for writing and while one forks:
/// a child forked during another thread's copy inherits the write fd until it execs, and an
/// exec of that copy meanwhile fails with ETXTBSY ("Text file busy").
static WRITE_OR_FORK: Mutex<()> = Mutex::new(());

fn lock() -> std::sync::MutexGuard<'static, ()> {
    WRITE_OR_FORK.lock().unwrap_or_else(|e| e.into_inner())
}

/// Copies `from` to `to` with no fork of this process in between.
fn copy(from: &str, to: &PathBuf) {
    let _guard = lock();
    std::fs::copy(from, to).unwrap();
}

/// Spawns `cmd` (stdout and stderr piped) with no copy in progress; `spawn` returns once
/// the child has exec'd, so it holds no copy's write fd after that.
fn spawn(cmd: &mut Command) -> Child {
    let _guard = lock();
    cmd.stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("setpriv runs")
}

/// A world-executable copy of execsnoop (the build directory may be under a private home).
fn world_executable_copy(test: &str) -> (PathBuf, PathBuf) {
    let dir = std::env::temp_dir().join(format!("bpfkit-leastpriv-{}-{test}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::set_permissions(&dir, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    let exe = dir.join("execsnoop");
    copy(env!("CARGO_BIN_EXE_execsnoop"), &exe);
    std::fs::set_permissions(&exe, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    (dir, exe)
}

/// `setpriv` as nobody with exactly `caps` (e.g. "+bpf,+perfmon"; "" for none).
fn as_nobody(caps: &str) -> Command {
    let mut cmd = Command::new("setpriv");
    cmd.args(["--reuid=65534", "--regid=65534", "--clear-groups"]);
    if caps.is_empty() {
        cmd.arg("--inh-caps=-all");
    } else {
        cmd.arg(format!("--inh-caps={caps}"));
        cmd.arg(format!("--ambient-caps={caps}"));
    }
    cmd
}

fn run(caps: &str, exe: &PathBuf) -> Output {
    spawn(as_nobody(caps).arg(exe).args(["--duration", "1"]))
        .wait_with_output()
        .expect("setpriv runs")
}

#[test]
fn without_capabilities_the_error_names_cap_bpf() {
    let (dir, exe) = world_executable_copy("nocaps");
    let out = run("", &exe);
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("this process lacks CAP_BPF (or CAP_SYS_ADMIN)"),
        "{stderr}"
    );
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn without_tracefs_access_the_error_names_cap_dac_read_search() {
    let (dir, exe) = world_executable_copy("notracefs");
    let out = run("+bpf,+perfmon", &exe);
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr
            .contains("tracefs is readable by root only (this process lacks CAP_DAC_READ_SEARCH)"),
        "{stderr}"
    );
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn with_bpf_perfmon_and_dac_read_search_it_traces_as_nobody() {
    let (dir, exe) = world_executable_copy("traces");
    let marker = dir.join(format!("lp{}", std::process::id()));
    copy("/bin/true", &marker);
    let child = spawn(as_nobody("+bpf,+perfmon,+dac_read_search").arg(&exe).args([
        "--duration",
        "4",
        "--json",
    ]));
    std::thread::sleep(Duration::from_millis(2000));
    for _ in 0..3 {
        // ETXTBSY while another test thread's fork still holds the copy's fd: retry.
        let status = (0..50)
            .find_map(|_| {
                let ran = {
                    let _guard = lock();
                    Command::new(&marker).status()
                };
                match ran {
                    Err(e) if e.raw_os_error() == Some(libc::ETXTBSY) => {
                        std::thread::sleep(Duration::from_millis(20));
                        None
                    }
                    other => Some(other.unwrap()),
                }
            })
            .expect("the marker runs");
        assert!(status.success());
    }
    let out = child.wait_with_output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let seen = stdout
        .lines()
        .filter(|l| l.contains(marker.file_name().unwrap().to_str().unwrap()))
        .count();
    assert!(seen >= 3, "expected the 3 marker execs:\n{stdout}");
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn a_token_path_without_a_token_is_reported() {
    let out = spawn(Command::new(env!("CARGO_BIN_EXE_execsnoop")).args([
        "--token-path",
        "/proc",
        "--duration",
        "1",
    ]))
    .wait_with_output()
    .expect("execsnoop runs");
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("BPF token: creating it from \"/proc\" was refused"),
        "{stderr}"
    );
}
