//! `tcpconnect`: prints every active TCP connect (IPv4 and IPv6) with pid, command,
//! addresses and ports until Ctrl-C, `--duration` or `-c`'s command exits.

use std::process::ExitCode;

use clap::Parser;
use tcpconnect::{json_line, text_line, Connect, HEADER, TCPCONNECT_BPF};
use tool_abi::tcpconnect as abi;
use tool_common::metrics::{EventCounts, Metrics};
use tool_common::{exit_with, CommonArgs, EventFormat, Session, ToolError};

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
    let mut session = Session::start(
        "tcpconnect",
        TCPCONNECT_BPF,
        &args.common,
        &[(
            abi::GLOBAL_DPORT,
            u32::from(args.port.unwrap_or(0)).to_ne_bytes().to_vec(),
        )],
        &[("set_state", "sock", "inet_sock_set_state")],
        &[],
    )?;
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
    )
}

fn main() -> ExitCode {
    let args = Args::parse();
    exit_with("tcpconnect", run(&args))
}
