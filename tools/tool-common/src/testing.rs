//! Helpers for the tools' integration tests (they run a tool binary as root): start it and
//! wait until it is attached, stop it with SIGINT as Ctrl-C does, parse its JSON lines,
//! and check that its programs are gone afterwards.

use std::io::{BufRead, BufReader, Read};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A running tool whose programs are attached.
#[derive(Debug)]
pub struct Running {
    name: String,
    child: Child,
    stderr: BufReader<std::process::ChildStderr>,
    /// Ids of its programs, from its "NAME: tracing … (… id N …)" line on stderr.
    pub program_ids: Vec<u32>,
}

/// Starts `binary` with `args` and waits for its "tracing" line.
///
/// # Panics
/// If the tool does not start (this is for tests).
pub fn start(binary: impl AsRef<Path>, args: &[&str]) -> Running {
    let binary = binary.as_ref();
    let name = binary
        .file_name()
        .map_or_else(String::new, |n| n.to_string_lossy().into_owned());
    let mut child = Command::new(binary)
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("spawn {}: {e}", binary.display()));
    let mut stderr = BufReader::new(child.stderr.take().expect("stderr"));
    let mut line = String::new();
    stderr.read_line(&mut line).expect("read the tool's stderr");
    assert!(
        line.starts_with(&format!("{name}: tracing ")),
        "{name} did not start: {line:?}"
    );
    let program_ids = line
        .split(" id ")
        .skip(1)
        .map(|rest| {
            let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
            digits.parse().expect("program id")
        })
        .collect();
    Running {
        name,
        child,
        stderr,
        program_ids,
    }
}

impl Running {
    /// The tool's process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The next line the tool writes to stderr (after the "tracing" line).
    ///
    /// # Panics
    /// If stderr cannot be read.
    pub fn stderr_line(&mut self) -> String {
        let mut line = String::new();
        self.stderr
            .read_line(&mut line)
            .expect("read the tool's stderr");
        line
    }
}

/// Sends SIGINT, waits for a successful exit, checks the programs are gone, and returns
/// stdout.
///
/// # Panics
/// If the tool fails or leaves a program loaded.
pub fn stop(mut running: Running) -> String {
    interrupt(&running.child);
    let mut out = String::new();
    running
        .child
        .stdout
        .take()
        .expect("stdout")
        .read_to_string(&mut out)
        .expect("read stdout");
    let status = running.child.wait().expect("wait");
    assert!(status.success(), "{} exited with {status}", running.name);
    for id in &running.program_ids {
        assert_program_gone(*id);
    }
    out
}

/// Parses one JSON object per line.
///
/// # Panics
/// On a line that is not JSON.
pub fn json_lines(text: &str) -> Vec<serde_json::Value> {
    text.lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON: {l:?}: {e}")))
        .collect()
}

/// After a tool exits no link holds its program, so the kernel frees it (the id is gone).
///
/// # Panics
/// If the program is still loaded after two seconds.
pub fn assert_program_gone(id: u32) {
    let deadline = Instant::now() + Duration::from_secs(2);
    loop {
        // union bpf_attr for BPF_PROG_GET_FD_BY_ID: prog_id, next_id, open_flags.
        let mut attr = [0u32; 4];
        attr[0] = id;
        // SAFETY: BPF_PROG_GET_FD_BY_ID (13) reads `attr` (16 bytes) and returns an fd or -1.
        let fd = unsafe { libc::syscall(libc::SYS_bpf, 13, attr.as_mut_ptr(), 16) };
        if fd < 0 {
            assert_eq!(
                std::io::Error::last_os_error().raw_os_error(),
                Some(libc::ENOENT),
                "program {id}"
            );
            return;
        }
        // SAFETY: `fd` was just returned to us and is closed once.
        unsafe { libc::close(fd as libc::c_int) };
        assert!(
            Instant::now() < deadline,
            "program {id} still loaded after the tool exited"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Compiles a C file with `cc -O2` into `dir/name` and returns the binary's path.
///
/// # Panics
/// If the compiler fails.
pub fn compile_c(
    source: impl AsRef<Path>,
    dir: impl AsRef<Path>,
    name: &str,
) -> std::path::PathBuf {
    let binary = dir.as_ref().join(name);
    let out = Command::new("cc")
        .args(["-O2", "-o"])
        .arg(&binary)
        .arg(source.as_ref())
        .output()
        .expect("cc is installed (.ci/run installs gcc)");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    binary
}

/// `GET /metrics` from `addr` (`HOST:PORT`): the response body.
///
/// # Panics
/// On a connection error or a status other than 200.
pub fn scrape(addr: &str) -> String {
    use std::io::Write;
    let mut stream =
        std::net::TcpStream::connect(addr).unwrap_or_else(|e| panic!("connect {addr}: {e}"));
    write!(stream, "GET /metrics HTTP/1.1\r\nHost: {addr}\r\n\r\n").expect("send the request");
    let mut response = String::new();
    stream
        .read_to_string(&mut response)
        .expect("read the response");
    let (head, body) = response.split_once("\r\n\r\n").expect("an HTTP response");
    assert!(head.starts_with("HTTP/1.1 200 "), "{head}");
    body.to_owned()
}

/// The address in a "NAME: serving metrics on http://ADDR/metrics" line.
///
/// # Panics
/// If the line is not one.
pub fn metrics_addr(line: &str) -> String {
    line.split("http://")
        .nth(1)
        .and_then(|rest| rest.split('/').next())
        .unwrap_or_else(|| panic!("not a metrics line: {line:?}"))
        .to_owned()
}

/// Checks `/proc/self/cgroup` as a process of `-c`'s command wrote it: the process ran in
/// the run's own cgroup v2 directory (`bpfkit-<tool>-<pid>`), which is gone now that the
/// run has ended.
///
/// # Panics
/// If it ran elsewhere, cgroup2 is not mounted, or the directory is left.
pub fn assert_run_cgroup_removed(tool: &str, proc_cgroup: &str) {
    // The v2 line (hybrid hosts list the v1 hierarchies too).
    let path = proc_cgroup
        .lines()
        .find_map(|l| l.strip_prefix("0::/"))
        .unwrap_or_else(|| panic!("no cgroup v2 line: {proc_cgroup:?}"));
    assert!(
        path.starts_with(&format!("bpfkit-{tool}-")),
        "not the run's cgroup: {proc_cgroup}"
    );
    let dir = crate::child::cgroup2_mount()
        .expect("cgroup2 mounted")
        .join(path);
    assert!(!dir.exists(), "{} left behind", dir.display());
}

/// A shell that waits for its stdin to close, then execs `program args`: a workload whose
/// pid is known before it runs (release it with [`Held::release`]).
#[derive(Debug)]
pub struct Held {
    child: Child,
}

impl Held {
    /// Starts `sh -c 'read _; exec PROGRAM ARGS'`.
    ///
    /// # Panics
    /// If sh cannot start.
    pub fn spawn(program: &Path, args: &[&str]) -> Held {
        let child = Command::new("/bin/sh")
            .arg("-c")
            .arg("read _; exec \"$0\" \"$@\"")
            .arg(program)
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .spawn()
            .expect("spawn sh");
        Held { child }
    }

    /// Its pid (the workload's, after the exec).
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Lets it exec the workload and waits for it to finish successfully.
    ///
    /// # Panics
    /// If the workload fails.
    pub fn release(mut self) {
        drop(self.child.stdin.take());
        let status = self.child.wait().expect("wait for the workload");
        assert!(status.success(), "workload: {status}");
    }
}

/// Sends SIGINT to `child` (as Ctrl-C does).
///
/// # Panics
/// If kill(2) fails.
pub fn interrupt(child: &Child) {
    signal(child.id(), libc::SIGINT);
}

/// Sends signal `sig` to process `pid` (a child of the test).
///
/// # Panics
/// If kill(2) fails.
pub fn signal(pid: u32, sig: libc::c_int) {
    // SAFETY: kill(2) takes a pid and a signal number; no memory is involved.
    let ret = unsafe { libc::kill(pid as libc::pid_t, sig) };
    assert_eq!(ret, 0, "kill: {}", std::io::Error::last_os_error());
}

/// Stops `pid` with `SIGSTOP` and waits until every one of its threads is stopped.
///
/// `kill(2)` returns before the target has stopped; on a loaded machine the target may run on
/// for many milliseconds, so a test that needs the process frozen (e.g. a reader that must
/// fall behind) waits for `/proc/PID/task/*/stat` to show every thread in state `T`.
pub fn stop_process(pid: u32) {
    signal(pid, libc::SIGSTOP);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    loop {
        let tasks = std::fs::read_dir(format!("/proc/{pid}/task")).expect("read /proc/PID/task");
        let all_stopped = tasks.flatten().all(|task| {
            let stat = std::fs::read_to_string(task.path().join("stat")).unwrap_or_default();
            // The state follows the parenthesised comm, which may itself contain ") ".
            let state = stat
                .rsplit_once(") ")
                .and_then(|(_, rest)| rest.chars().next());
            matches!(state, Some('T' | 't') | None)
        });
        if all_stopped {
            return;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "process {pid} did not stop within 30 s"
        );
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
}

/// A libbpf-tools program (Debian's `libbpf-tools`) run beside a tool on the same workload,
/// line-buffered (`stdbuf -oL`) so that what it prints once attached reaches the test.
#[derive(Debug)]
pub struct Theirs {
    child: Child,
    out: BufReader<std::process::ChildStdout>,
}

impl Theirs {
    /// Whether `program` is installed; prints `SKIP` if not (the test then returns).
    pub fn installed(program: &str) -> bool {
        let installed = Path::new(program).exists();
        if !installed {
            println!("SKIP {program} is missing (Debian package libbpf-tools)");
        }
        installed
    }

    /// Starts `program args` and waits for its first line on stdout (its header, printed
    /// once attached), returned with it.
    ///
    /// # Panics
    /// If it cannot start or prints nothing.
    pub fn start(program: &str, args: &[&str]) -> (Theirs, String) {
        let mut child = Command::new("stdbuf")
            .arg("-oL")
            .arg(program)
            .args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("start {program}: {e}"));
        let mut out = BufReader::new(child.stdout.take().expect("stdout"));
        let mut first = String::new();
        out.read_line(&mut first)
            .unwrap_or_else(|e| panic!("read {program}'s first line: {e}"));
        (Theirs { child, out }, first)
    }

    /// Sends SIGINT, reads the rest of its stdout and returns it.
    ///
    /// # Panics
    /// If it does not exit successfully.
    pub fn stop(mut self) -> String {
        interrupt(&self.child);
        let mut text = String::new();
        self.out.read_to_string(&mut text).expect("read its stdout");
        let status = self.child.wait().expect("wait");
        assert!(
            status.success(),
            "libbpf-tools program exited with {status}"
        );
        text
    }
}
