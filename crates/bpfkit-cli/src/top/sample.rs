//! One reading of every loaded program's run-time statistics, the rates between two
//! readings, the processes holding each program, and the filter and sort of the rows.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;
use std::time::{Duration, Instant};

use bpfkit::info::{self, ProgramInfo};
use serde_json::{json, Value};

use crate::prog::type_name;

/// The counters of every loaded program at one instant.
pub struct Sample {
    /// When the counters were read (monotonic).
    pub at: Instant,
    /// Each program by id.
    pub programs: BTreeMap<u32, ProgramInfo>,
}

impl Sample {
    /// Reads every loaded program's info.
    pub fn take() -> Result<Self, String> {
        let programs = info::loaded_programs().map_err(|e| {
            let e = bpfkit::Report(&e);
            format!("listing programs: {e}")
        })?;
        Ok(Self {
            at: Instant::now(),
            programs: programs.into_iter().map(|p| (p.id, p)).collect(),
        })
    }
}

/// A process holding a program: an fd of the program, or of a link to it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Owner {
    /// Process id.
    pub pid: u32,
    /// `/proc/PID/comm`.
    pub comm: String,
}

/// One program's line: its counters and what changed since the previous sample.
#[derive(Debug, Clone)]
pub struct Row {
    /// Program id.
    pub id: u32,
    /// bpftool's type name.
    pub type_name: String,
    /// The kernel's program name.
    pub name: String,
    /// Runs counted while stats were enabled, since load.
    pub run_cnt: u64,
    /// Run time counted while stats were enabled, since load.
    pub run_time_ns: u64,
    /// Runs during the interval.
    pub run_cnt_delta: u64,
    /// Run time during the interval.
    pub run_time_ns_delta: u64,
    /// Runs per second during the interval (the program's events per second).
    pub runs_per_sec: f64,
    /// Average run time of the interval's runs (0 without runs).
    pub avg_ns: f64,
    /// Run time over the interval's wall time on all online CPUs, in percent.
    pub cpu_percent: f64,
    /// Processes holding the program.
    pub owners: Vec<Owner>,
}

impl Row {
    /// The row as the JSON object documented in `top --help`.
    pub fn to_json(&self) -> Value {
        json!({
            "id": self.id,
            "type": self.type_name,
            "name": self.name,
            "run_cnt": self.run_cnt,
            "run_time_ns": self.run_time_ns,
            "run_cnt_delta": self.run_cnt_delta,
            "run_time_ns_delta": self.run_time_ns_delta,
            "runs_per_sec": self.runs_per_sec,
            "avg_ns": self.avg_ns,
            "cpu_percent": self.cpu_percent,
            "pids": self.owners.iter().map(|o| json!({"pid": o.pid, "comm": o.comm})).collect::<Vec<_>>(),
        })
    }

    /// The holders as `comm(pid)` joined by spaces.
    pub fn owners_text(&self) -> String {
        let parts: Vec<String> = self
            .owners
            .iter()
            .map(|o| format!("{}({})", o.comm, o.pid))
            .collect();
        parts.join(" ")
    }
}

/// Online CPUs, for the CPU share (1 if the list cannot be read).
pub fn online_cpus() -> u64 {
    bpfkit::cpus::online_cpus().map_or(1, |cpus| cpus.len().max(1) as u64)
}

/// The rows of `now` against `before` (a program absent before counts from zero: it was
/// loaded during the interval), with the holders from `owners`.
pub fn rows(
    before: &Sample,
    now: &Sample,
    cpus: u64,
    owners: &HashMap<u32, Vec<Owner>>,
) -> Vec<Row> {
    let elapsed = now
        .at
        .saturating_duration_since(before.at)
        .max(Duration::from_micros(1));
    let elapsed_ns = elapsed.as_nanos() as f64;
    now.programs
        .values()
        .map(|p| {
            let (cnt0, time0) = before
                .programs
                .get(&p.id)
                .map_or((0, 0), |b| (b.run_cnt, b.run_time_ns));
            let run_cnt_delta = p.run_cnt.saturating_sub(cnt0);
            let run_time_ns_delta = p.run_time_ns.saturating_sub(time0);
            Row {
                id: p.id,
                type_name: type_name(p.program_type),
                name: p.name.clone(),
                run_cnt: p.run_cnt,
                run_time_ns: p.run_time_ns,
                run_cnt_delta,
                run_time_ns_delta,
                runs_per_sec: run_cnt_delta as f64 / elapsed.as_secs_f64(),
                avg_ns: if run_cnt_delta == 0 {
                    0.0
                } else {
                    run_time_ns_delta as f64 / run_cnt_delta as f64
                },
                cpu_percent: run_time_ns_delta as f64 * 100.0 / (elapsed_ns * cpus as f64),
                owners: owners.get(&p.id).cloned().unwrap_or_default(),
            }
        })
        .collect()
}

/// Which programs are shown: every given criterion must match (an empty one matches all).
#[derive(Debug, Default, Clone)]
pub struct Filter {
    /// Substrings of the program name (any one).
    pub names: Vec<String>,
    /// Type names, bpftool's spelling (any one).
    pub types: Vec<String>,
    /// Program ids (any one).
    pub ids: Vec<u32>,
    /// Typed in the TUI: a substring of the name, the type or the id.
    pub text: String,
}

impl Filter {
    /// Whether `row` is shown.
    pub fn matches(&self, row: &Row) -> bool {
        (self.names.is_empty() || self.names.iter().any(|n| row.name.contains(n.as_str())))
            && (self.types.is_empty() || self.types.contains(&row.type_name))
            && (self.ids.is_empty() || self.ids.contains(&row.id))
            && (self.text.is_empty()
                || row.name.contains(&self.text)
                || row.type_name.contains(&self.text)
                || row.id.to_string() == self.text)
    }
}

/// The column rows are sorted by.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum SortKey {
    /// CPU share during the interval (largest first).
    Cpu,
    /// Runs per second (largest first).
    Rate,
    /// Average run time (largest first).
    Avg,
    /// Total run time since load (largest first).
    Runtime,
    /// Total run count since load (largest first).
    Runs,
    /// Program id (smallest first).
    Id,
    /// Program name (alphabetical).
    Name,
}

#[cfg(feature = "tui")]
impl SortKey {
    /// Every key, in the order the TUI's `s` key steps through them.
    pub const ALL: [SortKey; 7] = [
        SortKey::Cpu,
        SortKey::Rate,
        SortKey::Avg,
        SortKey::Runtime,
        SortKey::Runs,
        SortKey::Id,
        SortKey::Name,
    ];

    /// The key after this one.
    pub fn next(self) -> Self {
        let i = Self::ALL.iter().position(|&k| k == self).unwrap_or(0);
        Self::ALL[(i + 1) % Self::ALL.len()]
    }

    /// The name shown in the TUI's header (the `--sort` spelling).
    pub fn label(self) -> &'static str {
        match self {
            SortKey::Cpu => "cpu",
            SortKey::Rate => "rate",
            SortKey::Avg => "avg",
            SortKey::Runtime => "runtime",
            SortKey::Runs => "runs",
            SortKey::Id => "id",
            SortKey::Name => "name",
        }
    }
}

/// Sorts by `key` (ties by id), reversed when `reverse`.
pub fn sort(rows: &mut [Row], key: SortKey, reverse: bool) {
    rows.sort_by(|a, b| {
        let order = match key {
            SortKey::Cpu => b.cpu_percent.total_cmp(&a.cpu_percent),
            SortKey::Rate => b.runs_per_sec.total_cmp(&a.runs_per_sec),
            SortKey::Avg => b.avg_ns.total_cmp(&a.avg_ns),
            SortKey::Runtime => b.run_time_ns.cmp(&a.run_time_ns),
            SortKey::Runs => b.run_cnt.cmp(&a.run_cnt),
            SortKey::Id => a.id.cmp(&b.id),
            SortKey::Name => a.name.cmp(&b.name),
        };
        order.then(a.id.cmp(&b.id))
    });
    if reverse {
        rows.reverse();
    }
}

/// Which processes hold which programs: every `/proc/PID/fd` entry that is a BPF program
/// or link, and the `prog_id` its `fdinfo` names. This process is left out (it opens every
/// program to read its info). Processes that end or deny access during the scan are
/// skipped: the scan is a snapshot, like `ps`.
pub fn owners() -> HashMap<u32, Vec<Owner>> {
    let mut out: HashMap<u32, Vec<Owner>> = HashMap::new();
    let me = std::process::id();
    let Ok(proc_dir) = std::fs::read_dir("/proc") else {
        return out;
    };
    for entry in proc_dir.flatten() {
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|s| s.parse::<u32>().ok())
        else {
            continue;
        };
        if pid == me {
            continue;
        }
        let mut ids = prog_ids_held(&entry.path());
        if ids.is_empty() {
            continue;
        }
        ids.sort_unstable();
        ids.dedup();
        let comm = std::fs::read_to_string(entry.path().join("comm"))
            .map(|c| c.trim_end().to_owned())
            .unwrap_or_default();
        for id in ids {
            out.entry(id).or_default().push(Owner {
                pid,
                comm: comm.clone(),
            });
        }
    }
    out
}

/// The program ids behind the BPF program and link fds of the process at `proc_pid`.
fn prog_ids_held(proc_pid: &Path) -> Vec<u32> {
    let mut ids = Vec::new();
    let Ok(fds) = std::fs::read_dir(proc_pid.join("fd")) else {
        return ids;
    };
    for fd in fds.flatten() {
        let Ok(target) = std::fs::read_link(fd.path()) else {
            continue;
        };
        let target = target.as_os_str().as_encoded_bytes();
        if !matches!(
            target,
            b"anon_inode:bpf-prog" | b"anon_inode:bpf_link" | b"anon_inode:bpf-link"
        ) {
            continue;
        }
        let fdinfo = proc_pid.join("fdinfo").join(fd.file_name());
        if let Some(id) = std::fs::read_to_string(fdinfo)
            .ok()
            .and_then(|text| fdinfo_prog_id(&text))
        {
            ids.push(id);
        }
    }
    ids
}

/// The `prog_id:` field of a program's or link's fdinfo.
fn fdinfo_prog_id(text: &str) -> Option<u32> {
    text.lines()
        .find_map(|l| l.strip_prefix("prog_id:"))
        .and_then(|v| v.trim().parse().ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(id: u32, name: &str, cpu: f64, runs: u64) -> Row {
        Row {
            id,
            type_name: "tracepoint".into(),
            name: name.into(),
            run_cnt: runs,
            run_time_ns: 0,
            run_cnt_delta: 0,
            run_time_ns_delta: 0,
            runs_per_sec: 0.0,
            avg_ns: 0.0,
            cpu_percent: cpu,
            owners: Vec::new(),
        }
    }

    #[test]
    fn fdinfo_prog_id_reads_the_field_of_a_program_or_link() {
        let prog = "pos:\t0\nflags:\t02000002\nmnt_id:\t15\nino:\t1057\nprog_type:\t5\n\
                    prog_jited:\t1\nprog_tag:\t3b185187f1855c4c\nmemlock:\t4096\nprog_id:\t91\n";
        assert_eq!(fdinfo_prog_id(prog), Some(91));
        let link = "link_type:\traw_tracepoint\nlink_id:\t4\nprog_tag:\tab\nprog_id:\t17\n";
        assert_eq!(fdinfo_prog_id(link), Some(17));
        assert_eq!(fdinfo_prog_id("map_type:\t1\nmap_id:\t3\n"), None);
    }

    #[test]
    fn sort_orders_by_key_then_id_and_reverses() {
        let mut rows = vec![
            row(3, "b", 1.0, 5),
            row(1, "c", 2.0, 5),
            row(2, "a", 1.0, 9),
        ];
        sort(&mut rows, SortKey::Cpu, false);
        assert_eq!(rows.iter().map(|r| r.id).collect::<Vec<_>>(), [1, 2, 3]);
        sort(&mut rows, SortKey::Name, false);
        assert_eq!(rows.iter().map(|r| r.id).collect::<Vec<_>>(), [2, 3, 1]);
        sort(&mut rows, SortKey::Runs, true);
        assert_eq!(rows.iter().map(|r| r.id).collect::<Vec<_>>(), [3, 1, 2]);
    }

    #[test]
    fn filter_needs_every_criterion_and_any_value_of_each() {
        let r = row(7, "handle_exec", 0.0, 0);
        let mut f = Filter::default();
        assert!(f.matches(&r));
        f.names = vec!["nope".into(), "exec".into()];
        assert!(f.matches(&r));
        f.types = vec!["xdp".into()];
        assert!(!f.matches(&r));
        f.types = vec!["tracepoint".into()];
        f.ids = vec![8];
        assert!(!f.matches(&r));
        f.ids = vec![7];
        f.text = "7".into();
        assert!(f.matches(&r));
        f.text = "trace".into();
        assert!(f.matches(&r));
        f.text = "zzz".into();
        assert!(!f.matches(&r));
    }
}
