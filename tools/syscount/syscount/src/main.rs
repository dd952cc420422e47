//! `syscount`: counts syscalls per syscall (or per process) until Ctrl-C, `--duration` or
//! `-c`'s command exits, printing the top rows at the end (and every `--interval`).

use std::process::ExitCode;

use clap::Parser;
use syscount::report::{self, Options};
use syscount::skel;
use tool_common::metrics::Metrics;
use tool_common::run::Step;
use tool_common::{
    errno, exit_with, set_filter, CommonArgs, Session, Setup, ToolError, Tracepoint,
};

/// Count syscalls per syscall or per process, with failures and latency.
#[derive(Parser, Debug)]
#[command(name = "syscount", version)]
struct Args {
    /// Count per process instead of per syscall.
    #[arg(short = 'P', long)]
    process: bool,
    /// Also measure the time spent in the calls (total and average).
    #[arg(short = 'L', long)]
    latency: bool,
    /// Count only failed calls, per errno.
    #[arg(short = 'x', long)]
    failures: bool,
    /// With --failures, only this errno (name such as ENOENT, or number).
    #[arg(short = 'e', long, value_name = "ERRNO", requires = "failures")]
    errno: Option<String>,
    /// Print at most N rows (0: all).
    #[arg(short = 'T', long, value_name = "N", default_value_t = 10)]
    top: usize,
    /// Serve the counts as Prometheus text at http://ADDR/metrics (e.g. 127.0.0.1:9435;
    /// port 0 picks one, named on stderr).
    #[arg(long, value_name = "ADDR")]
    metrics: Option<String>,
    #[command(flatten)]
    common: CommonArgs,
}

fn run(args: &Args) -> Result<(), ToolError> {
    let wanted_errno = match &args.errno {
        Some(text) => errno::parse(text).ok_or_else(|| {
            ToolError::Usage(format!("--errno {text}: not an errno name or number"))
        })?,
        None => 0,
    };
    let options = Options {
        per_process: args.process,
        failures: args.failures,
        latency: args.latency,
        top: args.top,
    };
    let metrics = Metrics::start("syscount", args.metrics.as_deref(), &args.common)?;
    let setup = Setup::new("syscount", &args.common)?;
    // The options are frozen `.rodata`: the verifier prunes what this run leaves off.
    let mut open = skel::OpenSkel::open()?;
    let rodata = open.rodata();
    set_filter!(&mut *rodata, setup.filter());
    rodata.SYSCOUNT_PER_PROCESS = u32::from(args.process);
    rodata.SYSCOUNT_LATENCY = u32::from(args.latency);
    rodata.SYSCOUNT_FAILURES = u32::from(args.failures);
    rodata.SYSCOUNT_ERRNO = wanted_errno;
    // Counted as strace counts: not a new task's return from fork, and rt_sigreturn on
    // entry (its exit has no syscall number).
    let number = |name| {
        tool_common::syscalls::Arch::host()
            .and_then(|arch| arch.number(name))
            .unwrap_or(u32::MAX)
    };
    rodata.SYSCOUNT_CLONE = number("clone");
    rodata.SYSCOUNT_CLONE3 = number("clone3");
    rodata.SYSCOUNT_FORK = number("fork");
    rodata.SYSCOUNT_VFORK = number("vfork");
    rodata.SYSCOUNT_RT_SIGRETURN = number("rt_sigreturn");
    let sigreturn = !args.failures && rodata.SYSCOUNT_RT_SIGRETURN != u32::MAX;
    open.set_autoload_sys_enter_rt_sigreturn(sigreturn);
    // sys_enter only stamps entry times: without --latency it is not even loaded, so each
    // syscall runs one program, not two.
    open.set_autoload_sys_enter(args.latency);
    let skel = open.load_with(setup.loader())?;
    let progs = skel.progs();
    let mut tracepoints = vec![Tracepoint::new(
        progs.sys_exit(),
        "raw_syscalls",
        "sys_exit",
    )];
    if args.latency {
        tracepoints.push(Tracepoint::new(
            progs.sys_enter(),
            "raw_syscalls",
            "sys_enter",
        ));
    }
    if sigreturn {
        tracepoints.push(Tracepoint::optional(
            progs.sys_enter_rt_sigreturn(),
            "syscalls",
            "sys_enter_rt_sigreturn",
        ));
    }
    let mut session = setup.attach(&tracepoints)?;
    let maps = skel.maps();
    let counts = maps.COUNTS()?;
    if let Some(m) = &metrics {
        m.announce();
    }
    // Metrics carry every row, whatever --top says.
    let all = Options { top: 0, ..options };
    let refresh = || -> Result<(), ToolError> {
        if let Some(m) = &metrics {
            let rows = report::read(counts.map(), &all, false)?;
            m.set(report::metrics_text(&rows, &all));
        }
        Ok(())
    };
    loop {
        match session.run.step() {
            Step::Wait(wait) => {
                refresh()?;
                tool_common::run::sleep(wait);
            }
            Step::Interval => {
                refresh()?;
                let rows = report::read(counts.map(), &options, true)?;
                if !print(&mut session, &rows, &options, args.common.json) {
                    return Ok(());
                }
            }
            Step::Stop => break,
        }
    }
    session.detach();
    // The last metrics (the final OTLP push) carry what is printed below.
    refresh()?;
    let rows = report::read(counts.map(), &options, false)?;
    print(&mut session, &rows, &options, args.common.json);
    if let Some(status) = session.run.child_status() {
        if !status.success() {
            eprintln!("syscount: the command exited with {status}");
        }
    }
    Ok(())
}

/// Prints one report; false once stdout is closed.
fn print(session: &mut Session, rows: &[report::Row], options: &Options, json: bool) -> bool {
    let lines = &mut session.lines;
    if json {
        return rows
            .iter()
            .all(|row| lines.line(&report::json_line(row, options)));
    }
    lines.line(&format!("[{}]", tool_common::output::time_of_day()))
        && lines.line(&report::header(options))
        && rows
            .iter()
            .all(|row| lines.line(&report::text_line(row, options)))
        && lines.line("")
}

fn main() -> ExitCode {
    let args = Args::parse();
    exit_with("syscount", run(&args))
}
