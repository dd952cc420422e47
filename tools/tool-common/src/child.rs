//! `-c CMD`: a child forked before the programs load, held stopped (`SIGSTOP`) until they
//! are attached, then continued to exec — so none of its work is missed, and none of the
//! holding is counted: it is stopped outside any syscall (a child held in `read(2)` on a
//! pipe would return from that read after the attach, and show one `read` more than
//! `strace -f` of the same command). [`TracedChild::confine`] moves the
//! held child into a fresh cgroup v2 directory of its own ([`RunCgroup`]) and filters on that
//! cgroup, so everything the command starts is traced too (as `strace -f` does); without
//! cgroup2, or with the user's own `--cgroup`, the filter is the child's pid.

use std::ffi::CString;
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::ExitStatus;
use std::time::{Duration, Instant};

use crate::filter::{cgroup_id_and_level, Filter};

/// Why the command could not be started.
#[derive(Debug, thiserror::Error)]
pub enum ChildError {
    /// `-c` without a command.
    #[error("-c needs a command")]
    Empty,
    /// The program was not found in `PATH` (or is not executable).
    #[error("-c {program}: not found in PATH, or not executable")]
    NotFound {
        /// The program named.
        program: String,
    },
    /// An argument holds a NUL byte.
    #[error("-c: argument {arg:?} contains a NUL byte")]
    Nul {
        /// The argument.
        arg: String,
    },
    /// pipe(2) or fork(2) failed.
    #[error("-c: {call} failed")]
    Sys {
        /// The call.
        call: &'static str,
        /// The error.
        #[source]
        source: std::io::Error,
    },
}

/// A forked child, stopped before it execs its command; [`TracedChild::release`] lets it go.
/// Dropped before release, the child is killed without running the command; dropped while
/// the command still runs (`--duration`, Ctrl-C, SIGTERM), it is sent SIGTERM, then SIGKILL
/// after [`TERM_WAIT`], and reaped, as `bpfkit trace -c` ends its command. The child also has
/// `PR_SET_PDEATHSIG(SIGKILL)` (kept across the exec): it ends if the tool (the thread that
/// called [`TracedChild::spawn`]) dies first.
#[derive(Debug)]
pub struct TracedChild {
    pid: libc::pid_t,
    /// Still stopped, waiting for [`TracedChild::release`].
    held: bool,
    status: Option<ExitStatus>,
    /// Dropped after the child is reaped (fields drop after `Drop::drop`).
    cgroup: Option<RunCgroup>,
}

fn executable(path: &Path) -> bool {
    let Ok(c) = CString::new(path.as_os_str().as_bytes()) else {
        return false;
    };
    // SAFETY: `c` is NUL-terminated; access only reads the path.
    path.is_file() && unsafe { libc::access(c.as_ptr(), libc::X_OK) } == 0
}

/// `program` itself when it has a slash, else the first executable match in `PATH`.
fn find_program(program: &str) -> Option<PathBuf> {
    if program.contains('/') {
        let path = PathBuf::from(program);
        return executable(&path).then_some(path);
    }
    let path = std::env::var_os("PATH").unwrap_or_else(|| "/usr/bin:/bin".into());
    std::env::split_paths(&path)
        .map(|dir| dir.join(program))
        .find(|p| executable(p))
}

impl TracedChild {
    /// Forks a child that will exec `command` (program, then arguments) once released.
    /// Call it before starting threads: the child runs only async-signal-safe code
    /// between fork and exec.
    pub fn spawn(command: &[String]) -> Result<TracedChild, ChildError> {
        let program = command.first().ok_or(ChildError::Empty)?;
        let path = find_program(program).ok_or_else(|| ChildError::NotFound {
            program: program.clone(),
        })?;
        let path = CString::new(path.as_os_str().as_bytes()).map_err(|_| ChildError::Nul {
            arg: program.clone(),
        })?;
        let args = command
            .iter()
            .map(|a| CString::new(a.as_bytes()).map_err(|_| ChildError::Nul { arg: a.clone() }))
            .collect::<Result<Vec<_>, _>>()?;
        let mut argv: Vec<*const libc::c_char> = args.iter().map(|a| a.as_ptr()).collect();
        argv.push(std::ptr::null());

        // SAFETY: getpid has no preconditions.
        let parent = unsafe { libc::getpid() };
        // SAFETY: fork has no memory-safety preconditions; see the child branch below.
        let pid = unsafe { libc::fork() };
        if pid < 0 {
            return Err(ChildError::Sys {
                call: "fork",
                source: std::io::Error::last_os_error(),
            });
        }
        if pid == 0 {
            // Child: only async-signal-safe calls (prctl, getppid, getpid, kill, execv,
            // write, _exit); every buffer was allocated before the fork. It stops itself
            // with SIGSTOP, which takes effect on the way out of kill(2), after that
            // syscall's exit was traced (before the attach), and resumes on SIGCONT in user
            // space: the first syscall the tracer sees is the execve.
            // SAFETY: raw pointers prepared above; the child never returns.
            unsafe {
                // Killed with the tool if it dies before releasing or killing the child.
                libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL as libc::c_ulong);
                if libc::getppid() != parent {
                    libc::_exit(127);
                }
                libc::kill(libc::getpid(), libc::SIGSTOP);
                libc::execv(path.as_ptr(), argv.as_ptr());
                let msg = b"tool: -c: exec failed\n";
                libc::write(2, msg.as_ptr().cast(), msg.len());
                libc::_exit(127);
            }
        }
        let mut child = TracedChild {
            pid,
            held: false,
            status: None,
            cgroup: None,
        };
        // Wait until it is stopped (or, if it could not get there, has exited).
        let mut status = 0;
        let ret = loop {
            // SAFETY: waitpid on our own child, writing into `status`.
            let ret = unsafe { libc::waitpid(pid, &mut status, libc::WUNTRACED) };
            if ret >= 0 || std::io::Error::last_os_error().raw_os_error() != Some(libc::EINTR) {
                break ret;
            }
        };
        if ret != pid {
            let source = std::io::Error::last_os_error();
            // SAFETY: kill our own child; Drop reaps it.
            unsafe { libc::kill(pid, libc::SIGKILL) };
            child.held = true;
            return Err(ChildError::Sys {
                call: "waitpid",
                source,
            });
        }
        if !libc::WIFSTOPPED(status) {
            child.status = Some(ExitStatus::from_raw(status));
            return Err(ChildError::Sys {
                call: "stopping the child before exec",
                source: std::io::Error::other(format!(
                    "it ended first ({})",
                    ExitStatus::from_raw(status)
                )),
            });
        }
        child.held = true;
        Ok(child)
    }

    /// `-c`'s child for `tool`: none when `command` is empty, else forked and held
    /// ([`TracedChild::spawn`]) with `filter` narrowed to it ([`TracedChild::confine`]).
    pub fn for_command(
        tool: &str,
        command: &[String],
        filter: &mut Filter,
    ) -> Result<Option<TracedChild>, ChildError> {
        if command.is_empty() {
            return Ok(None);
        }
        let mut child = TracedChild::spawn(command)?;
        child.confine(tool, filter);
        Ok(Some(child))
    }

    /// The child's process id.
    pub fn pid(&self) -> u32 {
        self.pid as u32
    }

    /// Narrows `filter` to this child's work: with no `--cgroup` given (`filter.cgroup` off),
    /// moves the held child into a fresh cgroup v2 directory named after `tool` (removed when
    /// the child is dropped) and filters on it, so the command and every process it starts
    /// are traced; else, or if that cgroup cannot be made (a one-line note on stderr), only
    /// the child's pid. Call before [`TracedChild::release`].
    pub fn confine(&mut self, tool: &str, filter: &mut Filter) {
        if filter.cgroup.0 != 0 {
            filter.pid = self.pid();
            return;
        }
        // The in-kernel cgroup filter calls bpf_get_current_ancestor_cgroup_id, which
        // tracepoint programs may call only from Linux 5.14 (probed, not assumed).
        if !bpfkit::features::helper_supported(
            bpfkit::programs::ProgramType::Tracepoint,
            bpfkit::sys::uapi::BPF_FUNC_get_current_ancestor_cgroup_id,
        ) {
            eprintln!(
                "{tool}: -c: this kernel's tracepoint programs cannot filter by cgroup \
                 (bpf_get_current_ancestor_cgroup_id, Linux 5.14); tracing only the command's pid, not what it starts"
            );
            filter.pid = self.pid();
            return;
        }
        let made = RunCgroup::create(tool).and_then(|cgroup| {
            cgroup.add(self.pid())?;
            let id = cgroup_id_and_level(&cgroup.path)
                .map_err(|e| std::io::Error::other(e.to_string()))?;
            Ok((cgroup, id))
        });
        match made {
            Ok((cgroup, id)) => {
                filter.pid = 0;
                filter.cgroup = id;
                self.cgroup = Some(cgroup);
            }
            Err(e) => {
                eprintln!(
                    "{tool}: -c: no cgroup of its own for the command ({e}); tracing only its pid, not what it starts"
                );
                filter.pid = self.pid();
            }
        }
    }

    /// The run's own cgroup directory, if [`TracedChild::confine`] made one.
    pub fn cgroup(&self) -> Option<&Path> {
        self.cgroup.as_ref().map(|c| c.path.as_path())
    }

    /// Lets the child exec its command (call once the programs are attached).
    pub fn release(&mut self) {
        if std::mem::take(&mut self.held) {
            // SAFETY: continue our own stopped child.
            unsafe { libc::kill(self.pid, libc::SIGCONT) };
        }
    }

    /// The exit status if the child has exited (reaps it), else `None`.
    pub fn try_wait(&mut self) -> Option<ExitStatus> {
        if self.status.is_none() {
            let mut status = 0;
            // SAFETY: waitpid on our own child, writing into `status`.
            if unsafe { libc::waitpid(self.pid, &mut status, libc::WNOHANG) } == self.pid {
                self.status = Some(ExitStatus::from_raw(status));
            }
        }
        self.status
    }

    /// Waits for the child to exit and returns its status.
    pub fn wait(&mut self) -> Option<ExitStatus> {
        if self.status.is_none() {
            let mut status = 0;
            let ret = loop {
                // SAFETY: as in try_wait, blocking.
                let ret = unsafe { libc::waitpid(self.pid, &mut status, 0) };
                if ret >= 0 || std::io::Error::last_os_error().raw_os_error() != Some(libc::EINTR) {
                    break ret;
                }
            };
            if ret == self.pid {
                self.status = Some(ExitStatus::from_raw(status));
            }
        }
        self.status
    }
}

impl Drop for TracedChild {
    fn drop(&mut self) {
        // Never released: kill the stopped child before it execs; reap it.
        if std::mem::take(&mut self.held) {
            // SAFETY: kill our own child (stopped, not yet reaped).
            unsafe { libc::kill(self.pid, libc::SIGKILL) };
            self.wait();
            return;
        }
        if self.try_wait().is_some() {
            return;
        }
        // Still running: ask it to end, then make it.
        // SAFETY: signal our own child (running, not yet reaped).
        unsafe { libc::kill(self.pid, libc::SIGTERM) };
        let start = Instant::now();
        while self.try_wait().is_none() {
            if start.elapsed() >= TERM_WAIT {
                // SAFETY: as above.
                unsafe { libc::kill(self.pid, libc::SIGKILL) };
                self.wait();
                return;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }
}

/// How long a dropped [`TracedChild`] whose command still runs has after SIGTERM before
/// SIGKILL.
pub const TERM_WAIT: Duration = Duration::from_secs(1);

/// Where cgroup2 is mounted, from `/proc/self/mountinfo` (the first cgroup2 mount).
pub fn cgroup2_mount() -> Option<PathBuf> {
    let text = std::fs::read_to_string("/proc/self/mountinfo").ok()?;
    text.lines().find_map(|line| {
        let (left, right) = line.split_once(" - ")?;
        if right.split_whitespace().next()? != "cgroup2" {
            return None;
        }
        left.split_whitespace().nth(4).map(unescape_mount_path)
    })
}

/// Undoes mountinfo's octal escapes (`\040` for a space, and so on).
fn unescape_mount_path(field: &str) -> PathBuf {
    let bytes = field.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let octal = bytes
            .get(i + 1..i + 4)
            .filter(|d| bytes[i] == b'\\' && d.iter().all(|b| (b'0'..=b'7').contains(b)));
        match octal {
            Some(d) => {
                out.push(d.iter().fold(0u8, |v, b| v.wrapping_mul(8) + (b - b'0')));
                i += 4;
            }
            None => {
                out.push(bytes[i]);
                i += 1;
            }
        }
    }
    PathBuf::from(std::ffi::OsString::from_vec(out))
}

/// A cgroup v2 directory made for one `-c` run (`<cgroup2 mount>/bpfkit-<tool>-<pid>`),
/// removed on drop once its processes have exited; if some remain after a short wait it is
/// left, with a note on stderr.
#[derive(Debug)]
pub struct RunCgroup {
    path: PathBuf,
    tool: String,
}

/// How long a drop waits for the cgroup's last processes to go.
const EMPTY_WAIT: Duration = Duration::from_secs(1);

impl RunCgroup {
    /// Makes the directory.
    pub fn create(tool: &str) -> Result<RunCgroup, std::io::Error> {
        let mount =
            cgroup2_mount().ok_or_else(|| std::io::Error::other("cgroup2 is not mounted"))?;
        let path = mount.join(format!("bpfkit-{tool}-{}", std::process::id()));
        std::fs::create_dir(&path)
            .map_err(|e| std::io::Error::new(e.kind(), format!("mkdir {}: {e}", path.display())))?;
        Ok(RunCgroup {
            path,
            tool: tool.to_owned(),
        })
    }

    /// The directory.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Moves process `pid` into the cgroup.
    pub fn add(&self, pid: u32) -> Result<(), std::io::Error> {
        let procs = self.path.join("cgroup.procs");
        std::fs::write(&procs, pid.to_string())
            .map_err(|e| std::io::Error::new(e.kind(), format!("{}: {e}", procs.display())))
    }
}

impl Drop for RunCgroup {
    fn drop(&mut self) {
        let start = Instant::now();
        loop {
            match std::fs::remove_dir(&self.path) {
                Ok(()) => return,
                Err(e) if e.raw_os_error() == Some(libc::EBUSY) && start.elapsed() < EMPTY_WAIT => {
                    std::thread::sleep(Duration::from_millis(10));
                }
                Err(e) => {
                    let left = std::fs::read_to_string(self.path.join("cgroup.procs"))
                        .map(|p| p.lines().count())
                        .unwrap_or(0);
                    eprintln!(
                        "{}: -c: left cgroup {} ({left} processes of the command still in it: {e})",
                        self.tool,
                        self.path.display()
                    );
                    return;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::MetadataExt;

    #[test]
    fn child_runs_only_after_release() {
        let dir = std::env::temp_dir().join(format!("tool-common-child-{}", std::process::id()));
        let _ = std::fs::remove_file(&dir);
        let mut child = TracedChild::spawn(&["touch".into(), dir.display().to_string()]).unwrap();
        std::thread::sleep(std::time::Duration::from_millis(100));
        assert!(!dir.exists(), "the command ran before release");
        assert!(child.try_wait().is_none());
        // Held stopped (state `T`) in signal delivery, not blocked in a syscall (a pipe
        // read) whose return a tracer attached meanwhile would see.
        let stat = std::fs::read_to_string(format!("/proc/{}/stat", child.pid())).unwrap();
        let state = stat.rsplit_once(") ").unwrap().1.chars().next();
        assert_eq!(state, Some('T'), "{stat}");
        let wchan = std::fs::read_to_string(format!("/proc/{}/wchan", child.pid())).unwrap();
        // `0` where the kernel hides symbols from this reader.
        assert!(wchan == "do_signal_stop" || wchan == "0", "held in {wchan}");
        child.release();
        let status = child.wait().unwrap();
        assert!(status.success(), "{status}");
        assert!(dir.exists());
        std::fs::remove_file(&dir).unwrap();
    }

    #[test]
    fn dropped_before_release_the_child_exits_without_running() {
        let child = TracedChild::spawn(&["true".into()]).unwrap();
        let pid = child.pid();
        drop(child);
        // Reaped: the pid is no longer our child.
        // SAFETY: waitpid with a null status pointer.
        let ret = unsafe { libc::waitpid(pid as libc::pid_t, std::ptr::null_mut(), libc::WNOHANG) };
        assert_eq!(ret, -1);
    }

    #[test]
    fn missing_program_is_a_clear_error() {
        let err = TracedChild::spawn(&["no-such-program-xyz".into()]).unwrap_err();
        assert_eq!(
            err.to_string(),
            "-c no-such-program-xyz: not found in PATH, or not executable"
        );
        assert!(matches!(TracedChild::spawn(&[]), Err(ChildError::Empty)));
        // No -c: no child, the filter as it was.
        let mut filter = Filter {
            pid: 7,
            ..Filter::default()
        };
        assert!(TracedChild::for_command("t", &[], &mut filter)
            .unwrap()
            .is_none());
        assert_eq!(filter.pid, 7);
    }

    #[test]
    fn mountinfo_escapes_are_undone() {
        assert_eq!(
            unescape_mount_path(r"/sys/fs/cgroup\040two\134x\9"),
            PathBuf::from(r"/sys/fs/cgroup two\x\9")
        );
    }

    /// Root and cgroup2 needed: else `SKIP`.
    fn can_make_cgroups() -> bool {
        // SAFETY: geteuid has no preconditions.
        let root = unsafe { libc::geteuid() } == 0;
        if !root || cgroup2_mount().is_none() {
            println!("SKIP needs root and a cgroup2 mount");
            return false;
        }
        true
    }

    #[test]
    fn confined_child_runs_in_its_own_cgroup_which_goes_with_it() {
        if !can_make_cgroups() {
            return;
        }
        let mut child = TracedChild::spawn(&["true".into()]).unwrap();
        let mut filter = Filter {
            pid: 7,
            ..Filter::default()
        };
        child.confine("tool-common-test-a", &mut filter);
        let dir = child.cgroup().expect("a cgroup of its own").to_owned();
        assert_eq!(filter.pid, 0, "the cgroup replaces the pid filter");
        assert_eq!(filter.cgroup, cgroup_id_and_level(&dir).unwrap());
        assert_eq!(filter.cgroup.0, std::fs::metadata(&dir).unwrap().ino());
        let procs = std::fs::read_to_string(dir.join("cgroup.procs")).unwrap();
        assert_eq!(procs.trim(), child.pid().to_string());
        child.release();
        assert!(child.wait().unwrap().success());
        drop(child);
        assert!(!dir.exists(), "{} left behind", dir.display());
    }

    #[test]
    fn with_a_user_cgroup_the_filter_is_the_pid() {
        let mut child = TracedChild::spawn(&["true".into()]).unwrap();
        let mut filter = Filter {
            cgroup: (42, 1),
            ..Filter::default()
        };
        child.confine("tool-common-test-b", &mut filter);
        assert!(child.cgroup().is_none());
        assert_eq!(filter.pid, child.pid());
        assert_eq!(filter.cgroup, (42, 1));
    }

    #[test]
    fn a_command_still_running_at_drop_is_terminated_and_its_cgroup_removed() {
        if !can_make_cgroups() {
            return;
        }
        let mut child = TracedChild::spawn(&["sleep".into(), "30".into()]).unwrap();
        let mut filter = Filter::default();
        child.confine("tool-common-test-d", &mut filter);
        let dir = child.cgroup().expect("a cgroup of its own").to_owned();
        let pid = child.pid() as libc::pid_t;
        child.release();
        std::thread::sleep(Duration::from_millis(100));
        let start = Instant::now();
        drop(child);
        assert!(start.elapsed() < TERM_WAIT, "sleep ends on SIGTERM at once");
        // Reaped: the pid is no longer our child.
        // SAFETY: waitpid with a null status pointer.
        let ret = unsafe { libc::waitpid(pid, std::ptr::null_mut(), libc::WNOHANG) };
        assert_eq!(ret, -1);
        assert!(!dir.exists(), "{} left behind", dir.display());
    }

    #[test]
    fn a_cgroup_with_processes_left_is_kept() {
        if !can_make_cgroups() {
            return;
        }
        // The shell ends on SIGTERM; the sleep it started stays in the cgroup.
        let mut child = TracedChild::spawn(&[
            "sh".into(),
            "-c".into(),
            "sleep 30 & echo started; wait".into(),
        ])
        .unwrap();
        let mut filter = Filter::default();
        child.confine("tool-common-test-c", &mut filter);
        let dir = child.cgroup().expect("a cgroup of its own").to_owned();
        child.release();
        let procs = dir.join("cgroup.procs");
        let start = Instant::now();
        while std::fs::read_to_string(&procs).unwrap().lines().count() < 2 {
            assert!(start.elapsed() < Duration::from_secs(5), "no sleep started");
            std::thread::sleep(Duration::from_millis(10));
        }
        let shell = child.pid();
        // The drop ends the shell, waits a second for the cgroup to empty, then leaves it.
        drop(child);
        let kept = dir.exists();
        let left: Vec<libc::pid_t> = std::fs::read_to_string(&procs)
            .unwrap_or_default()
            .lines()
            .filter_map(|l| l.parse().ok())
            .collect();
        for pid in &left {
            // SAFETY: kill the test's own leftover sleep (reparented, reaped by init).
            unsafe { libc::kill(*pid, libc::SIGKILL) };
        }
        assert!(kept, "removed with a process in it");
        assert_eq!(left.len(), 1, "only the sleep is left: {left:?}");
        assert_ne!(left[0] as u32, shell);
        let start = Instant::now();
        while std::fs::remove_dir(&dir).is_err() {
            assert!(
                start.elapsed() < Duration::from_secs(5),
                "cgroup still busy"
            );
            std::thread::sleep(Duration::from_millis(10));
        }
    }
}
