//! `opensnoop`: prints every open (`open`, `openat`, `openat2`) with pid, command, fd or
//! errno, flags and path until Ctrl-C, `--duration` or `-c`'s command exits.

use std::process::ExitCode;

use clap::Parser;
use opensnoop::{json_line, skel, text_line, Open, HEADER};
use tool_common::metrics::{EventCounts, Metrics};
use tool_common::{
    errno, exit_with, set_filter, CommonArgs, EventFormat, EventSource, Setup, ToolError,
    Tracepoint,
};

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
    let setup = Setup::new("opensnoop", &args.common)?;
    let mut open = skel::OpenSkel::open()?;
    let rodata = open.rodata();
    set_filter!(&mut *rodata, setup.filter());
    rodata.OPENSNOOP_FAILED = u32::from(args.failed);
    let skel = open.load_with(setup.loader())?;
    let progs = skel.progs();
    let mut session = setup.attach(&[
        // open(2) exists on x86_64 only; openat2 since 5.6.
        Tracepoint::optional(progs.open_enter(), "syscalls", "sys_enter_open"),
        Tracepoint::optional(progs.open_exit(), "syscalls", "sys_exit_open"),
        Tracepoint::new(progs.openat_enter(), "syscalls", "sys_enter_openat"),
        Tracepoint::new(progs.openat_exit(), "syscalls", "sys_exit_openat"),
        Tracepoint::optional(progs.openat2_enter(), "syscalls", "sys_enter_openat2"),
        Tracepoint::optional(progs.openat2_exit(), "syscalls", "sys_exit_openat2"),
    ])?;
    let maps = skel.maps();
    let lost = maps.LOST()?;
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
        EventSource {
            events: maps.EVENTS()?,
            lost: lost.map(),
        },
    )
}

fn main() -> ExitCode {
    let args = Args::parse();
    exit_with("opensnoop", run(&args))
}
