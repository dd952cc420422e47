//! `execsnoop`: loads the embedded Rust eBPF object, attaches `syscalls/sys_enter_execve` and
//! `sys_exit_execve`, and prints one line per exec until Ctrl-C (or `--duration`).

use std::io::Write;
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use bpfkit::loader::{LoadError, Loader};
use bpfkit::programs::{tracepoint, AttachError};
use bpfkit::readers::{ReaderError, RingBuf, RingBufPoller};
use clap::Parser;
use execsnoop::output::{json_line, text_line, HEADER};
use execsnoop::{Exec, EXECSNOOP_BPF};
use execsnoop_common::{GLOBAL_TARGET_PID, GLOBAL_TARGET_UID};

/// Trace every exec: PID, PPID, UID, return code, command and arguments.
#[derive(Parser, Debug)]
#[command(name = "execsnoop", version)]
struct Args {
    /// Only execs by this process id.
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..))]
    pid: Option<u32>,
    /// Only execs by this (real) user id.
    #[arg(long, value_parser = clap::value_parser!(u32).range(..u32::MAX as i64))]
    uid: Option<u32>,
    /// One JSON object per line instead of columns.
    #[arg(long)]
    json: bool,
    /// Stop after this many seconds (default: until Ctrl-C).
    #[arg(long, value_name = "S")]
    duration: Option<f64>,
}

/// Why execsnoop stopped early.
#[derive(Debug, thiserror::Error)]
enum RunError {
    #[error(transparent)]
    Load(#[from] LoadError),
    #[error("the execsnoop object has no program `{name}`")]
    NoProgram { name: &'static str },
    #[error("the execsnoop object has no map `{name}`")]
    NoMap { name: &'static str },
    #[error(transparent)]
    Attach(#[from] AttachError),
    #[error(transparent)]
    Reader(#[from] ReaderError),
    #[error("installing the {signal} handler: {source}")]
    Signal {
        signal: &'static str,
        source: std::io::Error,
    },
    #[error("--duration must be a positive number of seconds, not {value}")]
    Duration { value: f64 },
}

/// Set by SIGINT/SIGTERM; the poll loop checks it at least every 100 ms.
static STOP: AtomicBool = AtomicBool::new(false);

extern "C" fn on_signal(_signal: libc::c_int) {
    STOP.store(true, Ordering::Relaxed);
}

fn install_stop_handlers() -> Result<(), RunError> {
    for (signal, name) in [(libc::SIGINT, "SIGINT"), (libc::SIGTERM, "SIGTERM")] {
        // SAFETY: a zeroed sigaction is valid; the handler only stores to an atomic, which
        // is async-signal-safe; no SA_RESTART, so epoll_wait returns EINTR and we notice.
        let ret = unsafe {
            let mut action: libc::sigaction = std::mem::zeroed();
            action.sa_sigaction = on_signal as extern "C" fn(libc::c_int) as libc::sighandler_t;
            libc::sigemptyset(&mut action.sa_mask);
            libc::sigaction(signal, &action, std::ptr::null_mut())
        };
        if ret != 0 {
            return Err(RunError::Signal {
                signal: name,
                source: std::io::Error::last_os_error(),
            });
        }
    }
    Ok(())
}

fn run(args: &Args) -> Result<(), RunError> {
    let deadline = match args.duration {
        Some(s) if !(s.is_finite() && s > 0.0) => return Err(RunError::Duration { value: s }),
        Some(s) => Some(Instant::now() + Duration::from_secs_f64(s)),
        None => None,
    };
    install_stop_handlers()?;

    let mut loader = Loader::new();
    loader.set_global(GLOBAL_TARGET_PID, &args.pid.unwrap_or(0).to_ne_bytes());
    loader.set_global(
        GLOBAL_TARGET_UID,
        &args.uid.unwrap_or(u32::MAX).to_ne_bytes(),
    );
    let object = loader.load(EXECSNOOP_BPF, "execsnoop")?;

    let mut links = Vec::new();
    let mut ids = Vec::new();
    for (name, tracepoint) in [
        ("execve_enter", "sys_enter_execve"),
        ("execve_exit", "sys_exit_execve"),
    ] {
        let program = object.program(name).ok_or(RunError::NoProgram { name })?;
        links.push(tracepoint::attach(program, "syscalls", tracepoint)?);
        ids.push(format!(
            "{name} id {}",
            program
                .id()
                .map_or_else(|e| format!("? ({e})"), |id| id.to_string())
        ));
    }
    let events = object
        .map("EVENTS")
        .ok_or(RunError::NoMap { name: "EVENTS" })?;
    let mut poller = RingBufPoller::new()?;
    poller.add(RingBuf::new(events)?)?;
    eprintln!(
        "execsnoop: tracing execs ({}); Ctrl-C to stop",
        ids.join(", ")
    );

    let mut out = std::io::stdout().lock();
    if !args.json {
        // A closed stdout (e.g. `| head`) ends the run, as for every line below.
        if writeln!(out, "{HEADER}").is_err() {
            return Ok(());
        }
    }
    let mut closed = false;
    while !STOP.load(Ordering::Relaxed) && !closed {
        let mut timeout = Duration::from_millis(100);
        if let Some(deadline) = deadline {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                break;
            }
            timeout = timeout.min(left);
        }
        let polled = poller.poll(Some(timeout), |_, record| {
            if closed {
                return;
            }
            let line = match Exec::decode(record) {
                Ok(exec) if args.json => json_line(&exec),
                Ok(exec) => text_line(&exec),
                Err(e) => {
                    eprintln!("execsnoop: skipping a record: {e}");
                    return;
                }
            };
            closed = writeln!(out, "{line}").is_err();
        });
        match polled {
            Ok(_) => {}
            // EINTR from the signal that asked us to stop.
            Err(_) if STOP.load(Ordering::Relaxed) => break,
            Err(e) => return Err(e.into()),
        }
    }
    // Links detach and the object's fds close when they drop, in this order.
    drop(links);
    Ok(())
}

fn main() -> ExitCode {
    let args = Args::parse();
    match run(&args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("execsnoop: {e}");
            ExitCode::FAILURE
        }
    }
}
