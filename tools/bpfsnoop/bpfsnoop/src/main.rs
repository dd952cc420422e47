//! `bpfsnoop`: prints every bpf(2) call with its command and result, and the attributes of
//! program loads, map creations and link creations, until Ctrl-C, `--duration` or `-c`'s
//! command exits. It sees every BPF loader on the machine.

use std::process::ExitCode;

use bpfkit::readers::{RingBuf, RingBufPoller};
use bpfsnoop::{json_line, text_line, Call, BPFSNOOP_BPF, HEADER};
use clap::Parser;
use tool_common::run::Step;
use tool_common::{exit_with, CommonArgs, Session, ToolError};

/// Trace bpf(2) calls: command, result, and decoded attributes of PROG_LOAD, MAP_CREATE and
/// LINK_CREATE.
#[derive(Parser, Debug)]
#[command(name = "bpfsnoop", version)]
struct Args {
    #[command(flatten)]
    common: CommonArgs,
}

fn run(args: &Args) -> Result<(), ToolError> {
    let mut session = Session::start(
        "bpfsnoop",
        BPFSNOOP_BPF,
        &args.common,
        &[],
        &[
            ("bpf_enter", "syscalls", "sys_enter_bpf"),
            ("bpf_exit", "syscalls", "sys_exit_bpf"),
        ],
        &[],
    )?;
    let mut poller = RingBufPoller::new()?;
    poller.add(RingBuf::new(session.map("EVENTS")?)?)?;
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
        let polled = poller.poll(Some(timeout), |_, record| match Call::decode(record) {
            Ok(call) => {
                lines.line(&if json {
                    json_line(&call)
                } else {
                    text_line(&call)
                });
            }
            Err(e) => eprintln!("bpfsnoop: skipping a record: {e}"),
        });
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
        if let Ok(call) = Call::decode(record) {
            lines.line(&if json {
                json_line(&call)
            } else {
                text_line(&call)
            });
        }
    })?;
    Ok(())
}

fn main() -> ExitCode {
    let args = Args::parse();
    exit_with("bpfsnoop", run(&args))
}
