//! `tcpconnect`: prints every active TCP connect (IPv4 and IPv6) with pid, command,
//! addresses and ports until Ctrl-C, `--duration` or `-c`'s command exits.

use std::process::ExitCode;

use bpfkit::readers::{RingBuf, RingBufPoller};
use clap::Parser;
use tcpconnect::{json_line, text_line, Connect, HEADER, TCPCONNECT_BPF};
use tool_abi::tcpconnect as abi;
use tool_common::metrics::{EventCounts, MetricsServer};
use tool_common::run::Step;
use tool_common::{exit_with, CommonArgs, Session, ToolError};

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
    let metrics = args
        .metrics
        .as_deref()
        .map(MetricsServer::start)
        .transpose()?;
    let mut counts = EventCounts::new(
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
    let mut poller = RingBufPoller::new()?;
    poller.add(RingBuf::new(session.map("EVENTS")?)?)?;
    if let Some(m) = &metrics {
        eprintln!(
            "tcpconnect: serving metrics on http://{}/metrics",
            m.local_addr()
        );
        m.set(counts.render());
    }
    if !args.common.json && !session.lines.line(HEADER) {
        return Ok(());
    }
    let json = args.common.json;
    loop {
        let timeout = match session.run.step() {
            Step::Wait(timeout) => timeout,
            Step::Interval => continue,
            Step::Stop => break,
        };
        let lines = &mut session.lines;
        let counts = &mut counts;
        let polled = poller.poll(Some(timeout), |_, record| match Connect::decode(record) {
            Ok(c) => {
                count(counts, &c);
                lines.line(&if json { json_line(&c) } else { text_line(&c) });
            }
            Err(e) => eprintln!("tcpconnect: skipping a record: {e}"),
        });
        if let Some(m) = &metrics {
            m.set(counts.render());
        }
        match polled {
            Ok(_) if session.lines.closed() => return Ok(()),
            Ok(_) => {}
            Err(_) if tool_common::run::stop_requested() => break,
            Err(e) => return Err(e.into()),
        }
    }
    session.detach();
    let lines = &mut session.lines;
    poller.poll(Some(std::time::Duration::ZERO), |_, record| {
        if let Ok(c) = Connect::decode(record) {
            lines.line(&if json { json_line(&c) } else { text_line(&c) });
        }
    })?;
    Ok(())
}

fn main() -> ExitCode {
    let args = Args::parse();
    exit_with("tcpconnect", run(&args))
}
