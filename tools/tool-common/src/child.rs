//! `-c CMD`: a child forked before the programs load (so its pid can be a filter), held on
//! a pipe until they are attached, then exec'd — so none of its work is missed.

use std::ffi::CString;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::ExitStatus;

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

/// A forked child waiting to exec its command; [`TracedChild::release`] lets it go.
/// Dropped before release, the child exits without running the command.
#[derive(Debug)]
pub struct TracedChild {
    pid: libc::pid_t,
    go: Option<OwnedFd>,
    status: Option<ExitStatus>,
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

        let mut fds = [0 as libc::c_int; 2];
        // SAFETY: pipe2 writes two fds into `fds`.
        if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) } != 0 {
            return Err(ChildError::Sys {
                call: "pipe2",
                source: std::io::Error::last_os_error(),
            });
        }
        // SAFETY: both fds were just created and are owned here once each.
        let (read_end, write_end) =
            unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) };
        // SAFETY: fork has no memory-safety preconditions; see the child branch below.
        let pid = unsafe { libc::fork() };
        if pid < 0 {
            return Err(ChildError::Sys {
                call: "fork",
                source: std::io::Error::last_os_error(),
            });
        }
        if pid == 0 {
            // Child: only async-signal-safe calls (close, read, execv, write, _exit); every
            // buffer was allocated before the fork.
            // SAFETY: raw fds and pointers prepared above; the child never returns.
            unsafe {
                libc::close(write_end.as_raw_fd());
                let mut byte = 0u8;
                let got = loop {
                    let n = libc::read(read_end.as_raw_fd(), (&mut byte as *mut u8).cast(), 1);
                    if n >= 0 || *libc::__errno_location() != libc::EINTR {
                        break n;
                    }
                };
                if got == 1 {
                    libc::execv(path.as_ptr(), argv.as_ptr());
                    let msg = b"tool: -c: exec failed\n";
                    libc::write(2, msg.as_ptr().cast(), msg.len());
                }
                libc::_exit(127);
            }
        }
        drop(read_end);
        Ok(TracedChild {
            pid,
            go: Some(write_end),
            status: None,
        })
    }

    /// The child's process id.
    pub fn pid(&self) -> u32 {
        self.pid as u32
    }

    /// Lets the child exec its command (call once the programs are attached).
    pub fn release(&mut self) {
        if let Some(go) = self.go.take() {
            // SAFETY: one byte from a valid buffer to our own pipe's write end.
            unsafe { libc::write(go.as_raw_fd(), b"g".as_ptr().cast(), 1) };
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
        // Never released: closing the pipe makes the child exit without exec; reap it.
        if self.go.take().is_some() {
            self.wait();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn child_runs_only_after_release() {
        let dir = std::env::temp_dir().join(format!("tool-common-child-{}", std::process::id()));
        let _ = std::fs::remove_file(&dir);
        let mut child = TracedChild::spawn(&["touch".into(), dir.display().to_string()]).unwrap();
        std::thread::sleep(std::time::Duration::from_millis(100));
        assert!(!dir.exists(), "the command ran before release");
        assert!(child.try_wait().is_none());
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
    }
}
