//! syslat's userspace library: reading the per-CPU histograms ([`read`]) and printing them
//! as bcc-style bars or JSON lines. The binary (`src/main.rs`) loads [`SYSLAT_BPF`],
//! attaches and reads at each interval and at the end.

use bpfkit::maps::{MapData, MapError, PerCpuHashMap};
use tool_abi::hist::Hist;
use tool_common::hist::{render, slot_range};
use tool_common::metrics::Exposition;
use tool_common::output::json_string;
use tool_common::syscalls;

/// The kernel side, built by build.rs from `../syslat-ebpf`: programs `sys_enter` and
/// `sys_exit` (tracepoints `raw_syscalls/*`), maps `HISTS` and `START`.
pub static SYSLAT_BPF: &[u8] = bpfkit_build::include_ebpf!("syslat");

/// One syscall's histogram, summed over CPUs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyscallHist {
    /// Syscall number.
    pub nr: u32,
    /// Latency histogram.
    pub hist: Hist,
}

/// Reads every histogram of `HISTS` (adding up the CPUs' copies), most calls first; with
/// `reset`, deletes what was read.
pub fn read(map: &MapData, reset: bool) -> Result<Vec<SyscallHist>, MapError> {
    let hists = PerCpuHashMap::<_, u32, Hist>::new(map)?;
    let mut out = Vec::new();
    for (nr, values) in hists.get_batch(64)? {
        let mut hist = Hist::ZERO;
        for value in &values.0 {
            hist.merge(value);
        }
        if reset {
            hists.remove(&nr)?;
        }
        if hist.count != 0 {
            out.push(SyscallHist { nr, hist });
        }
    }
    out.sort_by(|a, b| b.hist.count.cmp(&a.hist.count).then(a.nr.cmp(&b.nr)));
    Ok(out)
}

/// The text block of one syscall: a title line, then the bars.
pub fn text_block(h: &SyscallHist, unit: &str) -> String {
    let avg = h.hist.sum as f64 / h.hist.count.max(1) as f64;
    format!(
        "syscall = {} ({} calls, avg {avg:.1} {unit}, total {} {unit})\n{}",
        syscalls::name_or_number(h.nr),
        h.hist.count,
        h.hist.sum,
        render(&h.hist, unit)
    )
}

/// One JSON line: `{"syscall":…,"nr":…,"unit":…,"count":…,"sum":…,"slots":[{"low":…,"high":…,"count":…},…]}`,
/// slots up to the last non-empty one.
pub fn json_line(h: &SyscallHist, unit: &str) -> String {
    let last = h
        .hist
        .slots
        .iter()
        .rposition(|c| *c != 0)
        .map_or(0, |i| i + 1);
    let slots: Vec<String> = h.hist.slots[..last]
        .iter()
        .enumerate()
        .map(|(i, count)| {
            let (low, high) = slot_range(i);
            format!("{{\"low\":{low},\"high\":{high},\"count\":{count}}}")
        })
        .collect();
    format!(
        "{{\"syscall\":{},\"nr\":{},\"unit\":{},\"count\":{},\"sum\":{},\"slots\":[{}]}}",
        json_string(&syscalls::name_or_number(h.nr)),
        h.nr,
        json_string(unit),
        h.hist.count,
        h.hist.sum,
        slots.join(",")
    )
}

/// The histograms as Prometheus text: `syslat_latency_seconds`, a native histogram per
/// syscall (label `syscall`) with one `le` bucket per log2 slot. Slot `i` holds whole
/// units up to `2^(i+1) - 1`, i.e. latencies below `2^(i+1)` units, so its bound is
/// `le = 2^(i+1) * unit` seconds; `unit_seconds` is 1e-6 for usecs, 1e-3 for msecs.
pub fn metrics_text(hists: &[SyscallHist], unit_seconds: f64) -> String {
    let mut e = Exposition::new();
    e.family(
        "syslat_latency_seconds",
        "histogram",
        "Syscall latency, entry to exit, as log2 buckets.",
    );
    for h in hists {
        let buckets: Vec<(f64, u64)> = h
            .hist
            .slots
            .iter()
            .enumerate()
            .map(|(i, count)| ((1u64 << (i + 1)) as f64 * unit_seconds, *count))
            .collect();
        e.histogram(
            "syslat_latency_seconds",
            &[("syscall", syscalls::name_or_number(h.nr))],
            &buckets,
            h.hist.sum as f64 * unit_seconds,
            h.hist.count,
        );
    }
    e.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> SyscallHist {
        let mut hist = Hist::ZERO;
        hist.slots[0] = 3;
        hist.slots[2] = 1;
        hist.count = 4;
        hist.sum = 6;
        SyscallHist {
            nr: syscalls::parse("read").unwrap(),
            hist,
        }
    }

    #[test]
    fn metrics_buckets_are_cumulative_with_log2_bounds() {
        let text = metrics_text(&[sample()], 1e-6);
        assert!(
            text.contains("syslat_latency_seconds_bucket{syscall=\"read\",le=\"0.000002\"} 3\n"),
            "{text}"
        );
        assert!(
            text.contains("syslat_latency_seconds_bucket{syscall=\"read\",le=\"0.000008\"} 4\n"),
            "{text}"
        );
        assert!(
            text.contains("syslat_latency_seconds_bucket{syscall=\"read\",le=\"+Inf\"} 4\n"),
            "{text}"
        );
        assert!(
            text.contains("syslat_latency_seconds_count{syscall=\"read\"} 4\n"),
            "{text}"
        );
    }

    #[test]
    fn text_block_has_a_title_and_bars() {
        let text = text_block(&sample(), "usecs");
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(
            lines[0],
            "syscall = read (4 calls, avg 1.5 usecs, total 6 usecs)"
        );
        assert_eq!(lines[1], "     usecs               : count    distribution");
        assert_eq!(lines.len(), 5);
    }

    #[test]
    fn json_line_lists_slots_up_to_the_last_non_empty() {
        let value = json_line(&sample(), "usecs");
        assert_eq!(
            value,
            format!(
                "{{\"syscall\":\"read\",\"nr\":{},\"unit\":\"usecs\",\"count\":4,\"sum\":6,\"slots\":[{{\"low\":0,\"high\":1,\"count\":3}},{{\"low\":2,\"high\":3,\"count\":0}},{{\"low\":4,\"high\":7,\"count\":1}}]}}",
                sample().nr
            )
        );
    }
}
