//! Repository tasks. `cargo xtask vm-test --arch x86_64|aarch64 [--kernel 6.1|6.12]` runs
//! the kernel matrix: Debian's 6.1 (bookworm) or 6.12 (trixie) kernel in QEMU (TCG) booting
//! an initramfs of static musl test binaries.
//!
//! - [`arch`]: what differs between the two architectures (triples, QEMU, package names).
//! - [`packages`]: Debian packages fetched with `apt-get download` and unpacked with `dpkg -x`.
//! - [`suite`]: the static musl test binaries and the fixtures they need, built on the host.
//! - [`initramfs`]: the busybox initramfs with its `/init` script, as a newc cpio archive.
//! - [`qemu`]: boots it, streams the serial console and reads the suite's status.

mod arch;
mod initramfs;
mod packages;
mod qemu;
mod suite;

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, Instant};

use arch::Arch;
use packages::KernelRelease;

/// Everything that can stop a task, each naming what it was doing.
#[derive(Debug, thiserror::Error)]
pub enum XtaskError {
    /// Bad command line.
    #[error("{message}\n\n{USAGE}")]
    Usage {
        /// What was wrong.
        message: String,
    },
    /// A host command could not be started or failed.
    #[error("`{command}` failed: {detail}")]
    Command {
        /// The command line.
        command: String,
        /// Its exit status and stderr, or why it did not start.
        detail: String,
    },
    /// A file system operation failed.
    #[error("{action} {path}: {source}")]
    Io {
        /// What was being done.
        action: &'static str,
        /// On which path.
        path: PathBuf,
        /// The error.
        source: std::io::Error,
    },
    /// Something expected was not found (a package, a kernel file, a test binary).
    #[error("{0}")]
    Missing(String),
    /// The VM did not report a status before the timeout.
    #[error("the VM did not finish within {seconds} s (no status line on the console)")]
    Timeout {
        /// The timeout.
        seconds: u64,
    },
}

const USAGE: &str =
    "usage: cargo xtask vm-test --arch x86_64|aarch64 [--kernel 6.1|6.12] [--timeout SECONDS]
       [--only trace]

Downloads what it lacks into <target dir>/vm-cache, builds the static musl test binaries,
boots Debian's kernel in QEMU (default 6.1 from bookworm; 6.12 from trixie), prints the
console and exits with the suite's status. `--only trace` runs only the `bpfkit trace`
checks.";

/// `io::Error` → [`XtaskError::Io`] with the action and path.
pub fn io_err(action: &'static str, path: &Path) -> impl FnOnce(std::io::Error) -> XtaskError {
    let path = path.to_owned();
    move |source| XtaskError::Io {
        action,
        path,
        source,
    }
}

/// The repository root (the parent of this crate).
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from("."))
}

/// Cargo's target directory: `$CARGO_TARGET_DIR`, else `<repo>/target`.
pub fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo_root().join("target"))
}

struct VmTest {
    arch: Arch,
    release: KernelRelease,
    timeout: Duration,
    /// `--only trace`: only the `bpfkit trace` checks (quick iteration on them).
    only_trace: bool,
}

fn parse_args(args: &[String]) -> Result<VmTest, XtaskError> {
    let usage = |message: String| XtaskError::Usage { message };
    let mut iter = args.iter();
    match iter.next().map(String::as_str) {
        Some("vm-test") => {}
        Some(other) => return Err(usage(format!("unknown task '{other}'"))),
        None => return Err(usage("no task given".into())),
    }
    let mut arch = None;
    let mut release = KernelRelease::V6_1;
    let mut timeout = Duration::from_secs(600);
    let mut only_trace = false;
    while let Some(flag) = iter.next() {
        let value = iter
            .next()
            .ok_or_else(|| usage(format!("{flag} needs a value")))?;
        match flag.as_str() {
            "--arch" => {
                arch = Some(
                    Arch::parse(value).ok_or_else(|| usage(format!("unknown arch '{value}'")))?,
                )
            }
            "--kernel" => {
                release = KernelRelease::parse(value)
                    .ok_or_else(|| usage(format!("unknown kernel '{value}' (6.1 or 6.12)")))?
            }
            "--timeout" => {
                let secs: u64 = value.parse().map_err(|_| {
                    usage(format!("--timeout '{value}' is not a number of seconds"))
                })?;
                timeout = Duration::from_secs(secs);
            }
            "--only" if value == "trace" => only_trace = true,
            "--only" => return Err(usage(format!("unknown --only '{value}' (trace)"))),
            other => return Err(usage(format!("unknown option '{other}'"))),
        }
    }
    let arch = arch.ok_or_else(|| usage("--arch is required".into()))?;
    Ok(VmTest {
        arch,
        release,
        timeout,
        only_trace,
    })
}

fn vm_test(task: &VmTest) -> Result<i32, XtaskError> {
    let started = Instant::now();
    // 6.1 keeps the cache directory it always had; another release gets its own.
    let cache_name = match task.release {
        KernelRelease::V6_1 => task.arch.name().to_owned(),
        other => format!("{}-{}", task.arch.name(), other.name()),
    };
    let cache = target_dir().join("vm-cache").join(cache_name);
    let kernel = packages::kernel(task.arch, task.release, &cache)?;
    eprintln!(
        "xtask: kernel {} ({:.1} s)",
        kernel.version,
        started.elapsed().as_secs_f64()
    );
    let busybox = packages::busybox(task.arch, task.release, &cache)?;
    let suite = if task.only_trace {
        suite::build_trace_only(task.arch, &cache)?
    } else {
        suite::build(task.arch, &cache)?
    };
    eprintln!(
        "xtask: suite of {} commands built ({:.1} s)",
        suite.commands.len(),
        started.elapsed().as_secs_f64()
    );
    let image = initramfs::build(&cache, &busybox, &kernel, &suite)?;
    let boot = Instant::now();
    let status = qemu::run(task.arch, &kernel.vmlinuz, &image, task.timeout)?;
    eprintln!(
        "xtask: VM exited with suite status {status} after {:.1} s (total {:.1} s)",
        boot.elapsed().as_secs_f64(),
        started.elapsed().as_secs_f64()
    );
    Ok(status)
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = parse_args(&args).and_then(|task| vm_test(&task));
    match result {
        Ok(0) => ExitCode::SUCCESS,
        Ok(status) => ExitCode::from(u8::try_from(status).unwrap_or(1).max(1)),
        Err(e) => {
            eprintln!("xtask: {e}");
            ExitCode::from(2)
        }
    }
}
