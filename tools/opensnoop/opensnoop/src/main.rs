//! `opensnoop`: prints every open (`open`, `openat`, `openat2`) with pid, command, fd or
//! errno, flags and path until Ctrl-C, `--duration` or `-c`'s command exits.

use std::process::ExitCode;

use clap::Parser;
use opensnoop::{json_line, text_line, Open, HEADER, OPENSNOOP_BPF};
use tool_abi::opensnoop as abi;
use tool_common::metrics::{EventCounts, Metrics};
use tool_common::{errno, exit_with, CommonArgs, EventFormat, Session, ToolError};

/// Trace open, openat and openat2: pid, command, fd or errno, flags and path.
#[derive(Parser, Debug)]
#[command(name = "opensnoop", version)]
struct Args {
    /// Only failed opens.
    #[arg(short = 'x', long)]
    failed: bool,
    /// Serve counts of the opens seen, by command and errno (empty for success), as
    /// Prometheus text at http://ADDR/metrics (port 0 picks one, named on stderr).
    #[arg(long, value_name = "ADDR")]
    metrics: Option<String>,
    #[command(flatten)]
    common: CommonArgs,
}

/// The `--metrics` counter of one open.
fn count(counts: &mut EventCounts, open: &Open) {
    let errno = open.errno().map_or_else(String::new, errno::name_or_number);
    counts.add(vec![("comm", open.comm.clone()), ("errno", errno)]);
}

fn run(args: &Args) -> Result<(), ToolError> {
    let metrics = Metrics::start("opensnoop", args.metrics.as_deref(), &args.common)?;
    let counts = EventCounts::new(
        "opensnoop_opens_total",
        "Opens seen, by command and errno (empty: success).",
    );
    let mut session = Session::start(
        "opensnoop",
        OPENSNOOP_BPF,
        &args.common,
        &[(
            abi::GLOBAL_FAILED,
            u32::from(args.failed).to_ne_bytes().to_vec(),
        )],
        &[
            ("open_enter", "syscalls", "sys_enter_open"),
            ("open_exit", "syscalls", "sys_exit_open"),
            ("openat_enter", "syscalls", "sys_enter_openat"),
            ("openat_exit", "syscalls", "sys_exit_openat"),
            ("openat2_enter", "syscalls", "sys_enter_openat2"),
            ("openat2_exit", "syscalls", "sys_exit_openat2"),
        ],
        // open(2) exists on x86_64 only; openat2 since 5.6.
        &["open_enter", "open_exit", "openat2_enter", "openat2_exit"],
    )?;
    session.print_events(
        HEADER,
        args.common.json,
        metrics.as_ref(),
        counts,
        &EventFormat {
            decode: Open::decode,
            json_line,
            text_line,
            count,
        },
    )
}

fn main() -> ExitCode {
    let args = Args::parse();
    exit_with("opensnoop", run(&args))
}
