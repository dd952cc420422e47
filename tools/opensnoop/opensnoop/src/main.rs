//! `opensnoop`: prints every open (`open`, `openat`, `openat2`) with pid, command, fd or
//! errno, flags and path until Ctrl-C, `--duration` or `-c`'s command exits.

use std::process::ExitCode;

use bpfkit::readers::{RingBuf, RingBufPoller};
use clap::Parser;
use opensnoop::{json_line, text_line, Open, HEADER, OPENSNOOP_BPF};
use tool_abi::opensnoop as abi;
use tool_common::run::Step;
use tool_common::{exit_with, CommonArgs, Session, ToolError};

/// Trace open, openat and openat2: pid, command, fd or errno, flags and path.
#[derive(Parser, Debug)]
#[command(name = "opensnoop", version)]
struct Args {
    /// Only failed opens.
    #[arg(short = 'x', long)]
    failed: bool,
    #[command(flatten)]
    common: CommonArgs,
}

fn run(args: &Args) -> Result<(), ToolError> {
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
    let mut poller = RingBufPoller::new()?;
    poller.add(RingBuf::new(session.map("EVENTS")?)?)?;
    if !args.common.json && !session.lines.line(HEADER) {
        return Ok(());
    }
    loop {
        let timeout = match session.run.step() {
            Step::Wait(timeout) => timeout,
            Step::Interval => continue,
            Step::Stop => break,
        };
        let lines = &mut session.lines;
        let polled = poller.poll(Some(timeout), |_, record| match Open::decode(record) {
            Ok(open) if args.common.json => {
                lines.line(&json_line(&open));
            }
            Ok(open) => {
                lines.line(&text_line(&open));
            }
            Err(e) => eprintln!("opensnoop: skipping a record: {e}"),
        });
        match polled {
            Ok(_) if session.lines.closed() => return Ok(()),
            Ok(_) => {}
            Err(_) if tool_common::run::stop_requested() => break,
            Err(e) => return Err(e.into()),
        }
    }
    // Whatever the last programs wrote before they detach.
    session.detach();
    let lines = &mut session.lines;
    poller.poll(Some(std::time::Duration::ZERO), |_, record| {
        if let Ok(open) = Open::decode(record) {
            lines.line(&if args.common.json {
                json_line(&open)
            } else {
                text_line(&open)
            });
        }
    })?;
    Ok(())
}

fn main() -> ExitCode {
    let args = Args::parse();
    exit_with("opensnoop", run(&args))
}
