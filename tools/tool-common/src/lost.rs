//! Events the kernel side dropped because the ring buffer was full (the reader fell
//! behind): the per-CPU `LOST` counter of `tool_abi::lost_counter!`, summed, warned about on
//! stderr and exported as `<tool>_lost_events_total` in `--metrics`.

use std::time::{Duration, Instant};

use bpfkit::maps::{MapData, MapError, PerCpuArray};

use crate::metrics::Exposition;

/// How often a growing count is warned about at most.
const WARN_EVERY: Duration = Duration::from_secs(1);

/// Every CPU's count of dropped events, added up.
pub fn total(map: &MapData) -> Result<u64, MapError> {
    let per_cpu = PerCpuArray::<_, u64>::new(map)?.get(0)?;
    Ok(per_cpu.0.iter().sum())
}

/// Tracks the lost-event count of one tool for its stderr warnings.
#[derive(Debug)]
pub struct LostEvents {
    tool: String,
    /// The count last read.
    total: u64,
    /// The count last warned about.
    warned: u64,
    last_warning: Option<Instant>,
}

impl LostEvents {
    /// Nothing lost yet, for tool `tool`.
    pub fn new(tool: &str) -> LostEvents {
        LostEvents {
            tool: tool.to_owned(),
            total: 0,
            warned: 0,
            last_warning: None,
        }
    }

    /// Reads the count from `map`; warns on stderr when it grew (at most once a second).
    pub fn update(&mut self, map: &MapData) -> Result<(), MapError> {
        self.total = total(map)?;
        if self.total > self.warned
            && self
                .last_warning
                .is_none_or(|at| at.elapsed() >= WARN_EVERY)
        {
            self.warn();
        }
        Ok(())
    }

    /// Reads the count a last time and warns if anything was lost since the last warning.
    pub fn finish(&mut self, map: &MapData) -> Result<(), MapError> {
        self.total = total(map)?;
        if self.total > self.warned {
            self.warn();
        }
        Ok(())
    }

    fn warn(&mut self) {
        eprintln!(
            "{}: {} events lost (ring buffer full: the reader fell behind)",
            self.tool, self.total
        );
        self.warned = self.total;
        self.last_warning = Some(Instant::now());
    }

    /// The `<tool>_lost_events_total` counter family as exposition text.
    pub fn render(&self) -> String {
        render(&self.tool, self.total)
    }
}

/// The `<tool>_lost_events_total` counter family with value `total`.
pub fn render(tool: &str, total: u64) -> String {
    let mut e = Exposition::new();
    let name = format!("{tool}_lost_events_total");
    e.family(
        &name,
        "counter",
        "Events dropped in the kernel because the ring buffer was full.",
    );
    e.sample(&name, "", total as f64);
    e.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn render_is_one_counter_named_for_the_tool() {
        assert_eq!(
            render("opensnoop", 42),
            "# HELP opensnoop_lost_events_total Events dropped in the kernel because the ring buffer was full.\n\
             # TYPE opensnoop_lost_events_total counter\nopensnoop_lost_events_total 42\n"
        );
    }
}
