//! Repository tasks. `cargo xtask vm-test --arch x86_64|aarch64 [--kernel 5.10|6.1|6.12]`
//! runs one VM of the kernel matrix: Debian's 5.10 (bullseye), 6.1 (bookworm) or 6.12
//! (trixie) kernel in QEMU (TCG) booting an initramfs of static musl test binaries.
//! `cargo xtask matrix` runs every VM of [`MATRIX`] and prints the kernel × suite table.
//!
//! - [`arch`]: what differs between the two architectures (triples, QEMU, package names).
//! - [`packages`]: Debian packages fetched with `apt-get download` and unpacked with `dpkg -x`.
//! - [`suite`]: the static musl test binaries and the fixtures they need, built on the host.
//! - [`libbpf_tools`]: the host's libbpf-tools programs with their interpreter and libraries.
//! - [`initramfs`]: the busybox initramfs with its `/init` script, as a newc cpio archive.
//! - [`qemu`]: boots it, streams the serial console and reads the suite's status.
//! - [`matrix`]: each suite's outcome from the console, saved per VM, printed as a table.

mod arch;
mod initramfs;
mod libbpf_tools;
mod matrix;
mod netdevsim;
mod packages;
mod qemu;
mod suite;

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, Instant};

use arch::Arch;
use matrix::VmResult;
use packages::KernelRelease;

/// The VMs `cargo xtask matrix` runs, in order.
pub const MATRIX: &[(Arch, KernelRelease)] = &[
    (Arch::X86_64, KernelRelease::V5_10),
    (Arch::X86_64, KernelRelease::V6_1),
    (Arch::X86_64, KernelRelease::V6_12),
    (Arch::Aarch64, KernelRelease::V5_10),
    (Arch::Aarch64, KernelRelease::V6_1),
    (Arch::Aarch64, KernelRelease::V6_12),
];

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
}

const USAGE: &str = "usage: cargo xtask vm-test --arch x86_64|aarch64 [--kernel 5.10|6.1|6.12] \
[--timeout SECONDS] [--only trace|TEST]
       cargo xtask matrix [--timeout SECONDS] [--print]

vm-test downloads what it lacks into <target dir>/vm-cache, builds the static musl test
binaries, boots Debian's kernel in QEMU (default 6.1 from bookworm; 5.10 from bullseye, 6.12
from trixie), prints the console, saves each suite's outcome in
<target dir>/vm-matrix/<arch>-<kernel>.tsv and exits with the number of failed suites.
`--only trace` runs only the `bpfkit trace` checks, `--only TEST` only that test target of the
suite (e.g. vm_lsm_cgroup; its fixtures are shipped, the other commands are not). matrix runs vm-test for every VM of the
matrix (x86_64 and aarch64, each kernel) and prints the kernel x suite table; --print only
prints the table of the saved results.";

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
    /// `--only trace`: only the `bpfkit trace` checks; `--only TEST`: only that test target
    /// (quick iteration on one of them).
    only: Option<String>,
}

enum Task {
    VmTest(VmTest),
    Matrix { timeout: Duration, print_only: bool },
}

fn parse_args(args: &[String]) -> Result<Task, XtaskError> {
    let usage = |message: String| XtaskError::Usage { message };
    let mut iter = args.iter();
    let matrix = match iter.next().map(String::as_str) {
        Some("vm-test") => false,
        Some("matrix") => true,
        Some(other) => return Err(usage(format!("unknown task '{other}'"))),
        None => return Err(usage("no task given".into())),
    };
    let mut arch = None;
    let mut release = KernelRelease::V6_1;
    let mut timeout = Duration::from_secs(600);
    let mut only = None;
    let mut print_only = false;
    while let Some(flag) = iter.next() {
        if matrix && flag == "--print" {
            print_only = true;
            continue;
        }
        let value = iter
            .next()
            .ok_or_else(|| usage(format!("{flag} needs a value")))?;
        match flag.as_str() {
            "--arch" if !matrix => {
                arch = Some(
                    Arch::parse(value).ok_or_else(|| usage(format!("unknown arch '{value}'")))?,
                )
            }
            "--kernel" if !matrix => {
                release = KernelRelease::parse(value)
                    .ok_or_else(|| usage(format!("unknown kernel '{value}' (5.10, 6.1 or 6.12)")))?
            }
            "--timeout" => {
                let secs: u64 = value.parse().map_err(|_| {
                    usage(format!("--timeout '{value}' is not a number of seconds"))
                })?;
                timeout = Duration::from_secs(secs);
            }
            "--only" if !matrix => {
                if value != "trace" && !suite::is_test_target(value) {
                    return Err(usage(format!(
                        "unknown --only '{value}' (trace, or a test target of xtask/src/suite.rs)"
                    )));
                }
                only = Some(value.clone());
            }
            other => return Err(usage(format!("unknown option '{other}'"))),
        }
    }
    if matrix {
        return Ok(Task::Matrix {
            timeout,
            print_only,
        });
    }
    let arch = arch.ok_or_else(|| usage("--arch is required".into()))?;
    Ok(Task::VmTest(VmTest {
        arch,
        release,
        timeout,
        only,
    }))
}

/// Runs one VM and saves its result; an error before the suite ran is the result's `error`.
fn vm_test(task: &VmTest) -> VmResult {
    let started = Instant::now();
    let mut result = VmResult {
        label: format!("{} {}", task.arch.name(), task.release.name()),
        kernel: String::new(),
        seconds: 0,
        error: None,
        suites: Vec::new(),
    };
    if let Err(e) = run_vm(task, &mut result) {
        eprintln!("xtask: {e}");
        result.error = Some(e.to_string());
    }
    result.seconds = started.elapsed().as_secs();
    let path = matrix::result_path(task.arch.name(), task.release.name());
    if let Err(e) = matrix::save(&result, &path) {
        eprintln!("xtask: {e}");
    }
    result
}

/// `<target dir>/vm-cache/<arch>` for 6.1 (the directory it always had), else
/// `<arch>-<kernel>`.
fn vm_cache(arch: Arch, release: KernelRelease) -> PathBuf {
    let name = match release {
        KernelRelease::V6_1 => arch.name().to_owned(),
        other => format!("{}-{}", arch.name(), other.name()),
    };
    target_dir().join("vm-cache").join(name)
}

fn run_vm(task: &VmTest, result: &mut VmResult) -> Result<(), XtaskError> {
    let started = Instant::now();
    let cache = vm_cache(task.arch, task.release);
    let kernel = packages::kernel(task.arch, task.release, &cache)?;
    result.kernel = kernel.version.clone();
    eprintln!(
        "xtask: kernel {} ({:.1} s)",
        kernel.version,
        started.elapsed().as_secs_f64()
    );
    // Any static busybox of the architecture serves every kernel: the system suite's, shared
    // with the 6.1 VM (bullseye-security's arm64 pool is not reachable).
    let busybox = packages::busybox(task.arch, &vm_cache(task.arch, KernelRelease::V6_1))?;
    let suite = match task.only.as_deref() {
        Some("trace") => suite::build_trace_only(task.arch, &cache)?,
        only => suite::build(task.arch, task.release, &cache, only)?,
    };
    eprintln!(
        "xtask: suite of {} commands built ({:.1} s)",
        suite.commands.len(),
        started.elapsed().as_secs_f64()
    );
    let no_netdevsim = netdevsim::ensure(task.arch, task.release, &kernel);
    let image = initramfs::build(&cache, &busybox, &kernel, &suite, no_netdevsim.as_deref())?;
    let boot = Instant::now();
    let console = qemu::run(task.arch, &kernel.vmlinuz, &image, task.timeout)?;
    result.suites = matrix::parse(&console.lines, &suite.commands);
    eprintln!(
        "xtask: VM exited ({}) with suite status {:?} after {:.1} s (total {:.1} s)",
        console.exit,
        console.status,
        boot.elapsed().as_secs_f64(),
        started.elapsed().as_secs_f64()
    );
    if console.timed_out {
        return Err(XtaskError::Missing(format!(
            "the VM did not finish within {} s",
            task.timeout.as_secs()
        )));
    }
    if console.status.is_none() {
        return Err(XtaskError::Missing(format!(
            "the guest printed no '{}' line before QEMU exited ({})",
            initramfs::STATUS_MARKER,
            console.exit
        )));
    }
    Ok(())
}

/// `cargo xtask matrix`: every VM of [`MATRIX`] (or only the saved results), then the table.
fn matrix_task(timeout: Duration, print_only: bool) -> Result<bool, XtaskError> {
    let mut results = Vec::new();
    for &(arch, release) in MATRIX {
        if print_only {
            let path = matrix::result_path(arch.name(), release.name());
            if path.is_file() {
                results.push(matrix::load(&path)?);
            }
            continue;
        }
        eprintln!("xtask: kernel matrix: {} {}", arch.name(), release.name());
        let result = vm_test(&VmTest {
            arch,
            release,
            timeout,
            only: None,
        });
        eprintln!(
            "xtask: kernel matrix {}: {} s",
            result.label, result.seconds
        );
        results.push(result);
    }
    println!("{}", matrix::table(&results));
    Ok(results.iter().all(VmResult::ok))
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = parse_args(&args).and_then(|task| match task {
        Task::VmTest(task) => {
            let result = vm_test(&task);
            if result.error.is_some() {
                return Ok(2);
            }
            let failed = result
                .suites
                .iter()
                .filter(|s| s.outcome != matrix::Outcome::Pass)
                .count();
            Ok(u8::try_from(failed).unwrap_or(u8::MAX))
        }
        Task::Matrix {
            timeout,
            print_only,
        } => matrix_task(timeout, print_only).map(|ok| if ok { 0 } else { 1 }),
    });
    match result {
        Ok(status) => ExitCode::from(status),
        Err(e) => {
            eprintln!("xtask: {e}");
            ExitCode::from(2)
        }
    }
}
