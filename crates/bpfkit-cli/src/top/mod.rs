//! `bpfkit top`: a live view of loaded programs (runs, run time, rates, CPU share, holders),
//! with run-time statistics on only while it runs.

mod sample;
mod stats;
#[cfg(feature = "tui")]
mod tui;

use std::io::{IsTerminal, Write};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use sample::{Filter, Row, Sample, SortKey};
use serde_json::Value;
use stats::Stats;

/// `top --help`'s long text.
pub const LONG_ABOUT: &str = "\
A live view of loaded BPF programs: runs, run time, average time per run, runs per second and
the share of CPU time each takes, with the processes holding each program (an fd of the
program or of a link to it, from /proc/PID/fdinfo).

The kernel counts runs only while BPF statistics are enabled: top holds a BPF_ENABLE_STATS
fd while it runs (the kernel drops it when top ends, however it ends). On kernels without
that command it sets the sysctl kernel.bpf_stats_enabled and writes the old value back on
exit. A sysctl already at 1 is left alone.

Without --json, --once or --count, and with a terminal on stdout, top is a full-screen view:
q or Esc quits, s steps the sort column, r reverses it, / types a filter (a substring of the
name or type, or an id; Enter keeps it, Esc clears it), Up/Down scroll.

Otherwise it prints one table (or, with --json, one JSON array on one line) per interval:
--once prints one, --count N prints N. Each object has this shape (stable; fields may be
added, never removed):
{
  \"id\": 42, \"type\": \"tracepoint\", \"name\": \"handle_exec\",
  \"run_cnt\": 1200, \"run_time_ns\": 360000,          // since load, while stats were on
  \"run_cnt_delta\": 100, \"run_time_ns_delta\": 30000, // during the interval
  \"runs_per_sec\": 100.0, \"avg_ns\": 300.0,            // avg of the interval's runs
  \"cpu_percent\": 0.0015,                             // of all online CPUs' time
  \"pids\": [{\"pid\": 811, \"comm\": \"execsnoop\"}]
}";

/// `bpfkit top` options.
#[derive(clap::Args)]
pub struct Args {
    /// Print one sample (after one interval) and exit.
    #[arg(long, conflicts_with = "count")]
    once: bool,
    /// Print this many samples, one per interval, and exit.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..))]
    count: Option<u64>,
    /// Print JSON (one array per sample, one per line) instead of a table.
    #[arg(long)]
    json: bool,
    /// Seconds between samples.
    #[arg(long, value_name = "SECS", default_value_t = 1.0, value_parser = parse_interval)]
    interval: f64,
    /// Sort by this column.
    #[arg(long, value_enum, default_value_t = SortKey::Cpu)]
    sort: SortKey,
    /// Reverse the sort order.
    #[arg(long)]
    reverse: bool,
    /// Show programs whose name contains this (repeatable: any of them).
    #[arg(long, value_name = "SUBSTR")]
    name: Vec<String>,
    /// Show programs of this type, bpftool's name, e.g. tracepoint, xdp (repeatable).
    #[arg(long = "type", value_name = "TYPE")]
    prog_type: Vec<String>,
    /// Show the program with this id (repeatable).
    #[arg(long, value_name = "ID")]
    id: Vec<u32>,
}

fn parse_interval(s: &str) -> Result<f64, String> {
    let v: f64 = s.parse().map_err(|e| format!("{e}"))?;
    if v.is_finite() && (0.01..=3600.0).contains(&v) {
        Ok(v)
    } else {
        Err("must be between 0.01 and 3600 seconds".into())
    }
}

static STOP: AtomicBool = AtomicBool::new(false);

extern "C" fn on_signal(_: libc::c_int) {
    STOP.store(true, Ordering::Relaxed);
}

/// What every view needs: the options' filter and order, and the interval.
pub struct View {
    filter: Filter,
    sort: SortKey,
    reverse: bool,
    interval: Duration,
    cpus: u64,
}

impl View {
    /// Every program's row of `now` against `before`, with its holders.
    fn all_rows(&self, before: &Sample, now: &Sample) -> Vec<Row> {
        sample::rows(before, now, self.cpus, &sample::owners())
    }

    /// The rows the filter keeps, in the chosen order.
    fn shown(&self, rows: &[Row]) -> Vec<Row> {
        let mut shown: Vec<Row> = rows
            .iter()
            .filter(|r| self.filter.matches(r))
            .cloned()
            .collect();
        sample::sort(&mut shown, self.sort, self.reverse);
        shown
    }
}

/// Sleeps until `deadline` or a SIGINT/SIGTERM; false on a signal.
fn sleep_until(deadline: Instant) -> bool {
    while !STOP.load(Ordering::Relaxed) {
        let now = Instant::now();
        if now >= deadline {
            return true;
        }
        std::thread::sleep((deadline - now).min(Duration::from_millis(50)));
    }
    false
}

/// Run the command.
pub fn run(args: Args) -> Result<(), Box<dyn std::error::Error>> {
    let view = View {
        filter: Filter {
            names: args.name,
            types: args.prog_type,
            ids: args.id,
            text: String::new(),
        },
        sort: args.sort,
        reverse: args.reverse,
        interval: Duration::from_secs_f64(args.interval),
        cpus: sample::online_cpus(),
    };
    let count = if args.once { Some(1) } else { args.count };
    // SAFETY: the handler only stores to an atomic, which is async-signal-safe.
    unsafe {
        libc::signal(libc::SIGINT, on_signal as *const () as libc::sighandler_t);
        libc::signal(libc::SIGTERM, on_signal as *const () as libc::sighandler_t);
    }
    let stats = Stats::enable()?;
    let interactive = count.is_none() && !args.json && std::io::stdout().is_terminal();
    if interactive {
        #[cfg(feature = "tui")]
        return tui::run(view, &stats, &STOP);
    }
    let result = print_samples(&view, count, args.json);
    // Statistics go off (or the sysctl is restored) before the exit status is decided.
    drop(stats);
    result
}

/// Prints `count` samples (until a signal without one), one per interval.
fn print_samples(
    view: &View,
    count: Option<u64>,
    json: bool,
) -> Result<(), Box<dyn std::error::Error>> {
    let mut before = Sample::take()?;
    let mut printed = 0u64;
    let mut out = std::io::stdout().lock();
    while count.is_none_or(|c| printed < c) {
        if !sleep_until(before.at + view.interval) {
            break;
        }
        let now = Sample::take()?;
        let rows = view.shown(&view.all_rows(&before, &now));
        if json {
            let array: Vec<Value> = rows.iter().map(Row::to_json).collect();
            writeln!(out, "{}", Value::from(array))?;
        } else {
            if printed > 0 {
                writeln!(out)?;
            }
            write_table(&mut out, &rows)?;
        }
        out.flush()?;
        printed += 1;
        before = now;
    }
    Ok(())
}

fn write_table(out: &mut impl Write, rows: &[Row]) -> std::io::Result<()> {
    writeln!(
        out,
        "{:>6} {:<14} {:<16} {:>10} {:>10} {:>7} {:>12} {:>14}  PIDS",
        "ID", "TYPE", "NAME", "RUNS/S", "AVG_NS", "CPU%", "RUN_CNT", "RUN_TIME_NS"
    )?;
    for r in rows {
        writeln!(
            out,
            "{:>6} {:<14} {:<16} {:>10.1} {:>10.0} {:>7.3} {:>12} {:>14}  {}",
            r.id,
            r.type_name,
            r.name,
            r.runs_per_sec,
            r.avg_ns,
            r.cpu_percent,
            r.run_cnt,
            r.run_time_ns,
            r.owners_text()
        )?;
    }
    Ok(())
}
