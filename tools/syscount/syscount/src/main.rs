//! `syscount`: counts syscalls per syscall (or per process) until Ctrl-C, `--duration` or
//! `-c`'s command exits, printing the top rows at the end (and every `--interval`).

use std::process::ExitCode;

use clap::Parser;
use syscount::report::{self, Options};
use syscount::SYSCOUNT_BPF;
use tool_abi::syscount as abi;
use tool_common::metrics::Metrics;
use tool_common::run::Step;
use tool_common::{errno, exit_with, CommonArgs, Session, ToolError};

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

fn flag(on: bool) -> Vec<u8> {
    u32::from(on).to_ne_bytes().to_vec()
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
    let mut session = Session::start(
        "syscount",
        SYSCOUNT_BPF,
        &args.common,
        &[
            (abi::GLOBAL_PER_PROCESS, flag(args.process)),
            (abi::GLOBAL_LATENCY, flag(args.latency)),
            (abi::GLOBAL_FAILURES, flag(args.failures)),
            (abi::GLOBAL_ERRNO, wanted_errno.to_ne_bytes().to_vec()),
        ],
        // sys_enter only stamps entry times: without --latency it stays detached, so
        // each syscall runs one program, not two.
        if args.latency {
            &[
                ("sys_enter", "raw_syscalls", "sys_enter"),
                ("sys_exit", "raw_syscalls", "sys_exit"),
            ]
        } else {
            &[("sys_exit", "raw_syscalls", "sys_exit")]
        },
        &[],
    )?;
    if let Some(m) = &metrics {
        m.announce();
    }
    // Metrics carry every row, whatever --top says.
    let all = Options { top: 0, ..options };
    let refresh = |session: &Session| -> Result<(), ToolError> {
        if let Some(m) = &metrics {
            let rows = report::read(session.map("COUNTS")?, &all, false)?;
            m.set(report::metrics_text(&rows, &all));
        }
        Ok(())
    };
    loop {
        match session.run.step() {
            Step::Wait(wait) => {
                refresh(&session)?;
                tool_common::run::sleep(wait);
            }
            Step::Interval => {
                refresh(&session)?;
                let rows = report::read(session.map("COUNTS")?, &options, true)?;
                if !print(&mut session, &rows, &options, args.common.json) {
                    return Ok(());
                }
            }
            Step::Stop => break,
        }
    }
    session.detach();
    // The last metrics (the final OTLP push) carry what is printed below.
    refresh(&session)?;
    let rows = report::read(session.map("COUNTS")?, &options, false)?;
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
