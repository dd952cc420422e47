//! `bpfsnoop`: prints every bpf(2) call with its command and result, and the attributes of
//! program loads, map creations and link creations, until Ctrl-C, `--duration` or `-c`'s
//! command exits. It sees every BPF loader on the machine.

use std::process::ExitCode;

use bpfsnoop::{json_line, skel, text_line, Call, HEADER};
use clap::Parser;
use tool_common::metrics::{EventCounts, Metrics};
use tool_common::{
    exit_with, set_filter, CommonArgs, EventFormat, EventSource, Setup, ToolError, Tracepoint,
};

/// Trace bpf(2) calls: command, result, and decoded attributes of PROG_LOAD, MAP_CREATE and
/// LINK_CREATE.
#[derive(Parser, Debug)]
#[command(name = "bpfsnoop", version)]
struct Args {
    /// Serve counts of the calls seen, by command name, bpf command and errno, as
    /// Prometheus text at http://ADDR/metrics (port 0 picks one, named on stderr).
    #[arg(long, value_name = "ADDR")]
    metrics: Option<String>,
    #[command(flatten)]
    common: CommonArgs,
}

/// The `--metrics` counter of one event.
fn count(counts: &mut EventCounts, event: &Call) {
    counts.add(vec![
        ("comm", event.comm.clone()),
        ("cmd", bpfsnoop::command_name(event.cmd)),
        (
            "errno",
            if event.ret < 0 {
                tool_common::errno::name_or_number((-event.ret) as u32)
            } else {
                String::new()
            },
        ),
    ]);
}

fn run(args: &Args) -> Result<(), ToolError> {
    let metrics = Metrics::start("bpfsnoop", args.metrics.as_deref(), &args.common)?;
    let counts = EventCounts::new(
        "bpfsnoop_calls_total",
        "bpf(2) calls seen, by command name, bpf command and errno (empty: success).",
    );
    let setup = Setup::new("bpfsnoop", &args.common)?;
    let mut open = skel::OpenSkel::open()?;
    let rodata = open.rodata();
    set_filter!(&mut *rodata, setup.filter());
    let skel = open.load_with(setup.loader())?;
    let progs = skel.progs();
    let mut session = setup.attach(&[
        Tracepoint::new(progs.bpf_enter(), "syscalls", "sys_enter_bpf"),
        Tracepoint::new(progs.bpf_exit(), "syscalls", "sys_exit_bpf"),
    ])?;
    let maps = skel.maps();
    let lost = maps.LOST()?;
    session.print_events(
        HEADER,
        args.common.json,
        metrics.as_ref(),
        counts,
        &EventFormat {
            decode: Call::decode,
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
    exit_with("bpfsnoop", run(&args))
}
