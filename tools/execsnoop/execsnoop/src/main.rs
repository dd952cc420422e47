//! `execsnoop`: loads the embedded Rust eBPF object, attaches `syscalls/sys_enter_execve` and
//! `sys_exit_execve`, and prints one line per exec until Ctrl-C, `--duration` or the end of
//! `-c`'s command.

use std::process::ExitCode;

use bpfkit::loader::Loader;
use bpfkit::programs::{tracepoint, AttachError};
use bpfkit::readers::{ReaderError, RingBufPoller};
use bpfkit::skel::SkelError;
use clap::Parser;
use execsnoop::output::{json_line, text_line, HEADER};
use execsnoop::{skel, Exec};
use tool_common::child::{ChildError, TracedChild};
use tool_common::filter::{Filter, FilterArgs, FilterError};
use tool_common::lost::LostEvents;
use tool_common::output::Lines;
use tool_common::run::{RunLoop, Step};

/// Trace every exec: PID, PPID, UID, return code, command and arguments.
#[derive(Parser, Debug)]
#[command(name = "execsnoop", version)]
struct Args {
    /// `--pid`, `--comm` (the name of the process calling exec, before the exec) and
    /// `--cgroup`, checked in the kernel.
    #[command(flatten)]
    filter: FilterArgs,
    /// Only execs by this (real) user id.
    #[arg(long, value_parser = clap::value_parser!(u32).range(..u32::MAX as i64))]
    uid: Option<u32>,
    /// One JSON object per line instead of columns.
    #[arg(long)]
    json: bool,
    /// Stop after this many seconds (default: until Ctrl-C, or until `-c`'s command exits).
    #[arg(long, value_name = "S")]
    duration: Option<f64>,
    /// BPF token options.
    #[command(flatten)]
    token: tool_common::TokenArgs,
    /// Run this command (no shell; its arguments follow) once the programs are attached,
    /// trace it and everything it starts (its own cgroup; with --cgroup, only its pid), and
    /// stop when it exits. Must come last.
    #[arg(short = 'c', long = "command", value_name = "CMD", num_args = 1.., allow_hyphen_values = true)]
    command: Vec<String>,
}

/// Why execsnoop stopped early.
#[derive(Debug, thiserror::Error)]
enum RunError {
    #[error(transparent)]
    Skel(#[from] SkelError),
    #[error("the execsnoop object has no program `{name}`")]
    NoProgram { name: &'static str },
    #[error(transparent)]
    Attach(#[from] AttachError),
    #[error(transparent)]
    Reader(#[from] ReaderError),
    #[error(transparent)]
    Run(#[from] tool_common::run::RunError),
    #[error(transparent)]
    Filter(#[from] FilterError),
    #[error(transparent)]
    Child(#[from] ChildError),
    #[error(transparent)]
    Map(#[from] bpfkit::maps::MapError),
}

fn run(args: &Args) -> Result<(), RunError> {
    tool_common::run::seconds("duration", args.duration)?;
    let mut filter = Filter::resolve(&args.filter, None)?;
    // `-c`: forked now, held until the programs are attached; it and everything it starts
    // traced (its own cgroup; its pid with `--cgroup`).
    let child = TracedChild::for_command("execsnoop", &args.command, &mut filter)?;

    // The typed skeleton: the filters are `.rodata` fields set before load (frozen then, so
    // the verifier drops the checks left off), programs and maps are methods. The pid goes to
    // TARGET_PID (the C twin's global too); the shared `--comm`/`--cgroup` filter goes to
    // the `FILTER_*` fields, its own pid check off.
    let mut open = skel::OpenSkel::open()?;
    let rodata = open.rodata();
    tool_common::set_filter!(&mut *rodata, &Filter { pid: 0, ..filter });
    rodata.TARGET_PID = filter.pid;
    rodata.TARGET_UID = args.uid.unwrap_or(u32::MAX);
    let mut loader = Loader::new();
    args.token.apply(&mut loader);
    let skel = open.load_with(&loader)?;

    let progs = skel.progs();
    let mut links = Vec::new();
    let mut ids = Vec::new();
    for (name, program, tracepoint) in [
        ("execve_enter", progs.execve_enter(), "sys_enter_execve"),
        ("execve_exit", progs.execve_exit(), "sys_exit_execve"),
    ] {
        let program = program.ok_or(RunError::NoProgram { name })?;
        links.push(tracepoint::attach(program, "syscalls", tracepoint)?);
        ids.push(format!(
            "{name} id {}",
            program
                .id()
                .map_or_else(|e| format!("? ({e})"), |id| id.to_string())
        ));
    }
    let mut poller = RingBufPoller::new()?;
    poller.add(skel.maps().EVENTS()?)?;
    // The Ctrl-C handlers are in place before "tracing" is printed (whoever waits for that
    // line and then sends SIGINT stops the run instead of killing the tool); the run loop
    // releases `-c`'s child at its first step.
    let mut run = RunLoop::new(args.duration, None, child)?;
    eprintln!(
        "execsnoop: tracing execs ({}); Ctrl-C to stop",
        ids.join(", ")
    );

    let mut lines = Lines::new();
    // A closed stdout (e.g. `| head`) ends the run, as for every line below.
    if !args.json && !lines.line(HEADER) {
        return Ok(());
    }
    let lost_map = skel.maps().LOST()?;
    let mut lost = LostEvents::new("execsnoop");
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
        lost.update(lost_map.map())?;
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
    lost.finish(lost_map.map())?;
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
