//! Run-time statistics on only while `bpfkit top` runs.
//!
//! The kernel counts `run_cnt`/`run_time_ns` while the `bpf_stats_enabled_key` static key is
//! raised, by the sysctl `kernel.bpf_stats_enabled` or by each open fd from
//! `BPF_ENABLE_STATS(BPF_STATS_RUN_TIME)` (Linux 5.8). The fd is preferred: the kernel drops
//! it when this process ends, however it ends. The sysctl is written only on kernels without
//! the command, and its previous value is written back when [`Stats`] drops.

use std::fmt;
use std::path::Path;

use bpfkit::info::{self, StatsGuard};

const SYSCTL: &str = "/proc/sys/kernel/bpf_stats_enabled";

/// How statistics are on while `top` runs; dropping it undoes what it did.
pub enum Stats {
    /// `kernel.bpf_stats_enabled` was already 1: left alone.
    AlreadyOn,
    /// Held through a `BPF_ENABLE_STATS` fd, closed on drop.
    Fd {
        /// Closing it lets statistics go off (unless something else holds them on).
        _guard: StatsGuard,
    },
    /// The sysctl was set to 1; `previous` is written back on drop.
    Sysctl {
        /// The sysctl's value before.
        previous: String,
    },
}

impl Stats {
    /// Turns statistics on (or notes that they already are).
    pub fn enable() -> Result<Self, String> {
        let sysctl = Path::new(SYSCTL);
        let previous = std::fs::read_to_string(sysctl).ok();
        if previous.as_deref().map(str::trim) == Some("1") {
            return Ok(Stats::AlreadyOn);
        }
        let err = match info::enable_run_time_stats() {
            Ok(guard) => return Ok(Stats::Fd { _guard: guard }),
            Err(e) => e,
        };
        // EINVAL: a kernel before BPF_ENABLE_STATS. EPERM needs CAP_SYS_ADMIN, which the sysctl
        // needs too: say so rather than try.
        let errno = err.errno();
        let stats_err = bpfkit::Report(&err).to_string();
        match (errno, previous) {
            (Some(libc::EINVAL), Some(previous)) => {
                std::fs::write(sysctl, "1\n").map_err(|e| {
                    let e = bpfkit::Report(&e);
                    format!("BPF_ENABLE_STATS: {stats_err}; writing {SYSCTL}: {e}")
                })?;
                Ok(Stats::Sysctl { previous })
            }
            (Some(libc::EPERM), _) => Err(format!(
                "enabling BPF run-time statistics: {stats_err} (needs CAP_SYS_ADMIN)"
            )),
            _ => Err(format!("enabling BPF run-time statistics: {stats_err}")),
        }
    }
}

impl fmt::Display for Stats {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Stats::AlreadyOn => "stats on (kernel.bpf_stats_enabled=1)",
            Stats::Fd { .. } => "stats on while running (BPF_ENABLE_STATS)",
            Stats::Sysctl { .. } => "stats on while running (kernel.bpf_stats_enabled)",
        })
    }
}

impl Drop for Stats {
    fn drop(&mut self) {
        if let Stats::Sysctl { previous } = self {
            if let Err(e) = std::fs::write(SYSCTL, previous.as_bytes()) {
                let e = bpfkit::Report(&e);
                eprintln!("bpfkit: restoring {SYSCTL} to {}: {e}", previous.trim_end());
            }
        }
    }
}
