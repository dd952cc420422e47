//! `syslat`: per-syscall latency histograms until Ctrl-C, `--duration` or `-c`'s command
//! exits, printed at the end (and every `--interval`).

use std::process::ExitCode;

use clap::Parser;
use syslat::{json_line, metrics_text, read, skel, text_block};
use tool_common::metrics::Metrics;
use tool_common::run::Step;
use tool_common::{
    exit_with, set_filter, syscalls, CommonArgs, Session, Setup, ToolError, Tracepoint,
};

/// Syscall latency as log2 histograms, one per syscall.
#[derive(Parser, Debug)]
#[command(name = "syslat", version)]
struct Args {
    /// Only this syscall (name such as `read`, or number).
    #[arg(short = 's', long, value_name = "NAME")]
    syscall: Option<String>,
    /// Milliseconds instead of microseconds.
    #[arg(short = 'm', long)]
    milliseconds: bool,
    /// Serve the histograms as Prometheus text at http://ADDR/metrics (e.g.
    /// 127.0.0.1:9436; port 0 picks one, named on stderr).
    #[arg(long, value_name = "ADDR")]
    metrics: Option<String>,
    #[command(flatten)]
    common: CommonArgs,
}

fn run(args: &Args) -> Result<(), ToolError> {
    let only = match &args.syscall {
        Some(name) => syscalls::parse(name).ok_or_else(|| {
            ToolError::Usage(format!(
                "--syscall {name}: no such syscall on this architecture"
            ))
        })?,
        None => u32::MAX,
    };
    let unit = if args.milliseconds { "msecs" } else { "usecs" };
    let unit_seconds = if args.milliseconds { 1e-3 } else { 1e-6 };
    let metrics = Metrics::start("syslat", args.metrics.as_deref(), &args.common)?;
    let setup = Setup::new("syslat", &args.common)?;
    let mut open = skel::OpenSkel::open()?;
    let rodata = open.rodata();
    set_filter!(&mut *rodata, setup.filter());
    rodata.SYSLAT_SYSCALL = only;
    rodata.SYSLAT_MILLISECONDS = u32::from(args.milliseconds);
    rodata.SYSLAT_RT_SIGRETURN = tool_common::syscalls::Arch::host()
        .and_then(|arch| arch.number("rt_sigreturn"))
        .unwrap_or(u32::MAX);
    let skel = open.load_with(setup.loader())?;
    let progs = skel.progs();
    let mut session = setup.attach(&[
        Tracepoint::new(progs.sys_enter(), "raw_syscalls", "sys_enter"),
        Tracepoint::new(progs.sys_exit(), "raw_syscalls", "sys_exit"),
    ])?;
    let maps = skel.maps();
    let hist_map = maps.HISTS()?;
    if let Some(m) = &metrics {
        m.announce();
    }
    let refresh = || -> Result<(), ToolError> {
        if let Some(m) = &metrics {
            m.set(metrics_text(&read(hist_map.map(), false)?, unit_seconds));
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
                let hists = read(hist_map.map(), true)?;
                if !print(&mut session, &hists, unit, args.common.json) {
                    return Ok(());
                }
            }
            Step::Stop => break,
        }
    }
    session.detach();
    // The last metrics (the final OTLP push) carry what is printed below.
    refresh()?;
    let hists = read(hist_map.map(), false)?;
    print(&mut session, &hists, unit, args.common.json);
    Ok(())
}

/// Prints one report; false once stdout is closed.
fn print(session: &mut Session, hists: &[syslat::SyscallHist], unit: &str, json: bool) -> bool {
    let lines = &mut session.lines;
    if json {
        return hists.iter().all(|h| lines.line(&json_line(h, unit)));
    }
    lines.line(&format!("[{}]", tool_common::output::time_of_day()))
        && hists.iter().all(|h| lines.line(&text_block(h, unit)))
}

fn main() -> ExitCode {
    let args = Args::parse();
    exit_with("syslat", run(&args))
}
