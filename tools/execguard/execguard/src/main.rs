//! `execguard`: denies the exec of listed files, and every exec by tasks of listed cgroups,
//! with a BPF LSM program on `bprm_check_security`; prints one line per denied (or, with
//! `--audit`, reported) exec until Ctrl-C or `--duration`.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use clap::Parser;
use execguard::{json_line, text_line, Guard, GuardError, Policy, HEADER};

/// Deny (or audit) exec of listed files or by listed cgroups with BPF LSM.
#[derive(Parser, Debug)]
#[command(name = "execguard", version)]
struct Args {
    /// Files whose exec is denied (matched by device and inode, so under any name).
    #[arg(long, value_name = "PATH", num_args = 1..)]
    deny: Vec<PathBuf>,
    /// A cgroup v2 directory whose tasks may not exec anything (repeatable).
    #[arg(long, value_name = "PATH")]
    cgroup: Vec<PathBuf>,
    /// Only report what would be denied.
    #[arg(long)]
    audit: bool,
    /// One JSON object per line instead of columns.
    #[arg(long)]
    json: bool,
    /// Stop after this many seconds (default: until Ctrl-C).
    #[arg(long, value_name = "S")]
    duration: Option<f64>,
    /// `--token-path`, as every tool takes it.
    #[command(flatten)]
    token: tool_common::TokenArgs,
}

/// Why execguard stopped early.
#[derive(Debug, thiserror::Error)]
enum RunError {
    #[error(transparent)]
    Guard(Box<GuardError>),
    #[error("installing the {signal} handler")]
    Signal {
        signal: &'static str,
        source: std::io::Error,
    },
    #[error("--duration must be a positive number of seconds, not {value}")]
    Duration { value: f64 },
}

impl From<GuardError> for RunError {
    fn from(e: GuardError) -> Self {
        RunError::Guard(Box::new(e))
    }
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
    let policy = Policy {
        deny: args.deny.clone(),
        cgroups: args.cgroup.clone(),
        audit: args.audit,
        token: args.token.clone(),
    };
    let mut guard = Guard::start(&policy)?;
    eprintln!(
        "execguard: {} {} file(s), {} cgroup(s) (program id {}); Ctrl-C to stop",
        if args.audit { "auditing" } else { "denying" },
        args.deny.len(),
        args.cgroup.len(),
        guard
            .program_id()
            .map_or_else(|| "?".to_owned(), |id| id.to_string())
    );
    let mut out = std::io::stdout().lock();
    if !args.json && writeln!(out, "{HEADER}").is_err() {
        return Ok(());
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
        let polled = guard.poll(
            Some(timeout),
            |event| {
                if closed {
                    return;
                }
                let line = if args.json {
                    json_line(&event)
                } else {
                    text_line(&event)
                };
                // A closed stdout (e.g. `| head`) ends the run.
                closed = writeln!(out, "{line}").and_then(|()| out.flush()).is_err();
            },
            |e| eprintln!("execguard: skipping a record: {e}"),
        );
        match polled {
            Ok(_) => {}
            // EINTR from the signal that asked us to stop.
            Err(_) if STOP.load(Ordering::Relaxed) => break,
            Err(e) => return Err(e.into()),
        }
    }
    let lost = guard.lost_events()?;
    if lost > 0 {
        eprintln!("execguard: {lost} events lost (ring buffer full: the reader fell behind)");
    }
    // The link detaches and the object's fds close as the guard drops.
    drop(guard);
    Ok(())
}

fn main() -> ExitCode {
    let args = Args::parse();
    match run(&args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("execguard: {}", bpfkit::Report(&e));
            ExitCode::FAILURE
        }
    }
}
