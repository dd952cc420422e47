//! `tcpconnect`: prints every active TCP connect (IPv4 and IPv6) with pid, command,
//! addresses and ports until Ctrl-C, `--duration` or `-c`'s command exits.

use std::process::ExitCode;

use clap::Parser;
use tcpconnect::{json_line, skel, text_line, Connect, HEADER};
use tool_common::metrics::{EventCounts, Metrics};
use tool_common::{
    exit_with, set_filter, CommonArgs, EventFormat, EventSource, Setup, ToolError, Tracepoint,
};

/// Trace active TCP connects: pid, command, addresses and ports.
#[derive(Parser, Debug)]
#[command(name = "tcpconnect", version)]
struct Args {
    /// Only connects to this destination port.
    #[arg(short = 'P', long, value_name = "PORT", value_parser = clap::value_parser!(u16).range(1..))]
    port: Option<u16>,
    /// Serve counts of the connects seen, by IP version, destination address and port, as
    /// Prometheus text at http://ADDR/metrics (port 0 picks one, named on stderr).
    #[arg(long, value_name = "ADDR")]
    metrics: Option<String>,
    #[command(flatten)]
    common: CommonArgs,
}

/// The `--metrics` counter of one event.
fn count(counts: &mut EventCounts, event: &Connect) {
    counts.add(vec![
        ("ip", event.ip_version().to_string()),
        ("daddr", event.daddr.to_string()),
        ("dport", event.dport.to_string()),
    ]);
}

fn run(args: &Args) -> Result<(), ToolError> {
    let metrics = Metrics::start("tcpconnect", args.metrics.as_deref(), &args.common)?;
    let counts = EventCounts::new(
        "tcpconnect_connects_total",
        "Active TCP connects seen, by IP version, destination address and port.",
    );
    let setup = Setup::new("tcpconnect", &args.common)?;
    let mut open = skel::OpenSkel::open()?;
    let rodata = open.rodata();
    set_filter!(&mut *rodata, setup.filter());
    rodata.TCPCONNECT_DPORT = u32::from(args.port.unwrap_or(0));
    let skel = open.load_with(setup.loader())?;
    let progs = skel.progs();
    let mut session = setup.attach(&[Tracepoint::new(
        progs.set_state(),
        "sock",
        "inet_sock_set_state",
    )])?;
    let maps = skel.maps();
    let lost = maps.LOST()?;
    session.print_events(
        HEADER,
        args.common.json,
        metrics.as_ref(),
        counts,
        &EventFormat {
            decode: Connect::decode,
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
    exit_with("tcpconnect", run(&args))
}
