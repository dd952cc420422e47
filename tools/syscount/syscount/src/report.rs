//! Rows of counts (summed over CPUs), sorted, and printed as libbpf-tools' syscount prints
//! them or as JSON lines.

use bpfkit::maps::{MapData, MapError, PerCpuHashMap};
use tool_abi::syscount::{Key, Stats};
use tool_common::metrics::{labels, Exposition};
use tool_common::output::{c_str, json_string};
use tool_common::{errno, syscalls};

/// What a row counts.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum RowKey {
    /// A syscall, by number.
    Syscall(u32),
    /// A process: id and command name.
    Process(u32, String),
}

/// One line of the report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Row {
    /// The syscall or process.
    pub key: RowKey,
    /// With `--failures`: the errno these calls returned.
    pub errno: Option<u32>,
    /// Calls.
    pub count: u64,
    /// Total time in them (ns), with `--latency`.
    pub total_ns: u64,
}

/// How to read and print the rows.
#[derive(Debug, Clone, Copy, Default)]
pub struct Options {
    /// Counting per process.
    pub per_process: bool,
    /// Failures only (rows carry an errno).
    pub failures: bool,
    /// Latency measured (time columns).
    pub latency: bool,
    /// At most this many rows (0: all).
    pub top: usize,
}

/// Reads every entry of `COUNTS` (adding up the CPUs' copies); with `reset`, deletes what
/// was read. Sorted by time (with latency) or count, largest first, then by key.
pub fn read(map: &MapData, options: &Options, reset: bool) -> Result<Vec<Row>, MapError> {
    let counts = PerCpuHashMap::<_, Key, Stats>::new(map)?;
    let mut rows = Vec::new();
    for (key, values) in counts.get_batch(256)? {
        let mut count = 0;
        let mut total_ns = 0;
        let mut comm = [0u8; tool_abi::COMM_LEN];
        // Each CPU's copy holds the name the process had at its last call there; a process
        // renamed by exec keeps its old name on a CPU it used only before. Take the name of
        // the copy with the most calls: the one the process spent its life on.
        let mut comm_calls = 0;
        for value in &values.0 {
            count += value.count;
            total_ns += value.total_ns;
            if value.comm[0] != 0 && value.count >= comm_calls {
                comm = value.comm;
                comm_calls = value.count;
            }
        }
        if reset {
            counts.remove(&key)?;
        }
        if count == 0 {
            continue;
        }
        rows.push(Row {
            key: if options.per_process {
                RowKey::Process(key.id, c_str(&comm))
            } else {
                RowKey::Syscall(key.id)
            },
            errno: options.failures.then_some(key.errno),
            count,
            total_ns,
        });
    }
    sort(&mut rows, options);
    Ok(rows)
}

/// Largest first (time with latency, else count), ties by key and errno.
pub fn sort(rows: &mut Vec<Row>, options: &Options) {
    rows.sort_by(|a, b| {
        let (ma, mb) = if options.latency {
            (a.total_ns, b.total_ns)
        } else {
            (a.count, b.count)
        };
        mb.cmp(&ma)
            .then_with(|| a.key.cmp(&b.key))
            .then_with(|| a.errno.cmp(&b.errno))
    });
    if options.top != 0 {
        rows.truncate(options.top);
    }
}

/// The column header for text output.
pub fn header(options: &Options) -> String {
    let mut h = if options.per_process {
        format!("{:<7} {:<16}", "PID", "COMM")
    } else {
        format!("{:<24}", "SYSCALL")
    };
    if options.failures {
        h.push_str(&format!(" {:<16}", "ERRNO"));
    }
    h.push_str(&format!(" {:>10}", "COUNT"));
    if options.latency {
        h.push_str(&format!(" {:>14} {:>12}", "TOTAL (us)", "AVG (us)"));
    }
    h
}

fn avg_us(row: &Row) -> f64 {
    row.total_ns as f64 / 1000.0 / row.count.max(1) as f64
}

/// One text line.
pub fn text_line(row: &Row, options: &Options) -> String {
    let mut line = match &row.key {
        RowKey::Syscall(nr) => format!("{:<24}", syscalls::name_or_number(*nr)),
        RowKey::Process(pid, comm) => format!("{pid:<7} {comm:<16}"),
    };
    if let Some(e) = row.errno {
        line.push_str(&format!(" {:<16}", errno::name_or_number(e)));
    }
    line.push_str(&format!(" {:>10}", row.count));
    if options.latency {
        line.push_str(&format!(
            " {:>14.3} {:>12.3}",
            row.total_ns as f64 / 1000.0,
            avg_us(row)
        ));
    }
    line
}

/// One JSON line: `{"syscall":"getppid","nr":110,"count":1000}` or
/// `{"pid":…,"comm":"…","count":…}`, plus `"errno"` (name) and `"errno_value"` with
/// failures and `"total_ns"`/`"avg_ns"` with latency.
pub fn json_line(row: &Row, options: &Options) -> String {
    let mut fields = match &row.key {
        RowKey::Syscall(nr) => vec![
            format!(
                "\"syscall\":{}",
                json_string(&syscalls::name_or_number(*nr))
            ),
            format!("\"nr\":{nr}"),
        ],
        RowKey::Process(pid, comm) => {
            vec![
                format!("\"pid\":{pid}"),
                format!("\"comm\":{}", json_string(comm)),
            ]
        }
    };
    if let Some(e) = row.errno {
        fields.push(format!(
            "\"errno\":{}",
            json_string(&errno::name_or_number(e))
        ));
        fields.push(format!("\"errno_value\":{e}"));
    }
    fields.push(format!("\"count\":{}", row.count));
    if options.latency {
        fields.push(format!("\"total_ns\":{}", row.total_ns));
        fields.push(format!("\"avg_ns\":{}", row.total_ns / row.count.max(1)));
    }
    format!("{{{}}}", fields.join(","))
}

/// The rows as Prometheus text: `syscount_calls_total` (a counter per syscall or per
/// process, with an `errno` label with `--failures`) and, with `--latency`,
/// `syscount_call_seconds_total` (time spent in those calls).
pub fn metrics_text(rows: &[Row], options: &Options) -> String {
    let label_pairs = |row: &Row| {
        let mut pairs = match &row.key {
            RowKey::Syscall(nr) => vec![("syscall", syscalls::name_or_number(*nr))],
            RowKey::Process(pid, comm) => vec![("pid", pid.to_string()), ("comm", comm.clone())],
        };
        if let Some(e) = row.errno {
            pairs.push(("errno", errno::name_or_number(e)));
        }
        pairs
    };
    let mut e = Exposition::new();
    e.family(
        "syscount_calls_total",
        "counter",
        "Syscalls that returned, as counted in the kernel.",
    );
    for row in rows {
        e.sample(
            "syscount_calls_total",
            &labels(&label_pairs(row)),
            row.count as f64,
        );
    }
    if options.latency {
        e.family(
            "syscount_call_seconds_total",
            "counter",
            "Time spent in those syscalls, entry to exit.",
        );
        for row in rows {
            e.sample(
                "syscount_call_seconds_total",
                &labels(&label_pairs(row)),
                row.total_ns as f64 / 1e9,
            );
        }
    }
    e.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rows() -> Vec<Row> {
        vec![
            Row {
                key: RowKey::Syscall(libc_getppid()),
                errno: None,
                count: 1000,
                total_ns: 500_000,
            },
            Row {
                key: RowKey::Syscall(0),
                errno: None,
                count: 3,
                total_ns: 9_000_000,
            },
        ]
    }

    fn libc_getppid() -> u32 {
        syscalls::parse("getppid").unwrap()
    }

    #[test]
    fn metrics_text_has_one_counter_per_row() {
        let options = Options {
            latency: true,
            ..Options::default()
        };
        let text = metrics_text(&rows(), &options);
        assert!(
            text.contains("\nsyscount_calls_total{syscall=\"getppid\"} 1000\n"),
            "{text}"
        );
        assert!(
            text.contains("\nsyscount_call_seconds_total{syscall=\"read\"} 0.009\n"),
            "{text}"
        );
    }

    #[test]
    fn sorts_by_count_or_by_time_and_keeps_top() {
        let mut r = rows();
        sort(&mut r, &Options::default());
        assert_eq!(r[0].count, 1000);
        let latency = Options {
            latency: true,
            top: 1,
            ..Options::default()
        };
        let mut r = rows();
        sort(&mut r, &latency);
        assert_eq!(r.len(), 1);
        assert_eq!(r[0].key, RowKey::Syscall(0));
    }

    #[test]
    fn text_and_json_lines_name_the_syscall_and_errno() {
        let options = Options {
            failures: true,
            latency: true,
            ..Options::default()
        };
        let row = Row {
            errno: Some(2),
            ..rows().remove(0)
        };
        let line = text_line(&row, &options);
        assert_eq!(
            line.split_whitespace().collect::<Vec<_>>(),
            ["getppid", "ENOENT", "1000", "500.000", "0.500"]
        );
        assert_eq!(
            header(&options).find("COUNT").map(|i| i + 5),
            line.find("1000").map(|i| i + 4)
        );
        assert_eq!(
            json_line(&row, &options),
            format!(
                "{{\"syscall\":\"getppid\",\"nr\":{},\"errno\":\"ENOENT\",\"errno_value\":2,\"count\":1000,\"total_ns\":500000,\"avg_ns\":500}}",
                libc_getppid()
            )
        );
    }
}
