//! `execsnoop`: loads the embedded Rust eBPF object, attaches `syscalls/sys_enter_execve` and
//! `sys_exit_execve`, and prints one line per exec until Ctrl-C (or `--duration`).

use std::process::ExitCode;

use bpfkit::loader::{LoadError, Loader};
use bpfkit::programs::{tracepoint, AttachError};
use bpfkit::readers::{ReaderError, RingBuf, RingBufPoller};
use clap::Parser;
use execsnoop::output::{json_line, text_line, HEADER};
use execsnoop::{Exec, EXECSNOOP_BPF};
use execsnoop_common::{GLOBAL_TARGET_PID, GLOBAL_TARGET_UID};
use tool_common::output::Lines;
use tool_common::run::{RunLoop, Step};

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
    /// BPF token options.
    #[command(flatten)]
    token: tool_common::TokenArgs,
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
    #[error(transparent)]
    Run(#[from] tool_common::run::RunError),
}

fn run(args: &Args) -> Result<(), RunError> {
    tool_common::run::seconds("duration", args.duration)?;

    let mut loader = Loader::new();
    args.token.apply(&mut loader);
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

    let mut lines = Lines::new();
    // A closed stdout (e.g. `| head`) ends the run, as for every line below.
    if !args.json && !lines.line(HEADER) {
        return Ok(());
    }
    let mut run = RunLoop::new(args.duration, None, None)?;
    while let Step::Wait(timeout) = run.step() {
        let polled = poller.poll(Some(timeout), |_, record| {
            let line = match Exec::decode(record) {
                Ok(exec) if args.json => json_line(&exec),
                Ok(exec) => text_line(&exec),
                Err(e) => {
                    eprintln!("execsnoop: skipping a record: {e}");
                    return;
                }
            };
            lines.line(&line);
        });
        match polled {
            Ok(_) if lines.closed() => break,
            Ok(_) => {}
            // EINTR from the signal that asked us to stop.
            Err(_) if tool_common::run::stop_requested() => break,
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
            eprintln!("execsnoop: {}", bpfkit::Report(&e));
            ExitCode::FAILURE
        }
    }
}
