//! Printing log2 histograms (`tool_abi::hist::Hist`) as bcc and libbpf-tools do: one row
//! per slot up to the last non-empty one, with a 40-column bar.

use tool_abi::hist::{Hist, SLOTS};

/// Width of the bar at the fullest slot.
const BAR: usize = 40;

/// Slot `i`'s value range: `(low, high)`, both inclusive (slot 0 is `0 -> 1`).
pub fn slot_range(i: usize) -> (u64, u64) {
    let high = (1u64 << (i + 1)) - 1;
    let low = if i == 0 { 0 } else { 1u64 << i };
    (low, high)
}

/// The histogram as text: a header naming the unit, then `low -> high : count |****|`
/// rows; empty when the histogram is.
///
/// ```
/// use tool_abi::hist::Hist;
/// let mut h = Hist::ZERO;
/// h.slots[1] = 4;
/// h.slots[2] = 2;
/// let text = tool_common::hist::render(&h, "usecs");
/// assert_eq!(text.lines().nth(2).unwrap(),
///     "         2 -> 3          : 4        |****************************************|");
/// ```
pub fn render(hist: &Hist, unit: &str) -> String {
    let Some(last) = hist.slots.iter().rposition(|c| *c != 0) else {
        return String::new();
    };
    let max = hist.slots[..=last]
        .iter()
        .copied()
        .max()
        .unwrap_or(0)
        .max(1);
    let mut out = format!("{:>5}{unit:<19} : count    distribution\n", "");
    for (i, count) in hist.slots.iter().enumerate().take(last.min(SLOTS - 1) + 1) {
        let (low, high) = slot_range(i);
        let stars = (*count as u128 * BAR as u128 / max as u128) as usize;
        out.push_str(&format!(
            "{low:>10} -> {high:<10} : {count:<8} |{}{}|\n",
            "*".repeat(stars),
            " ".repeat(BAR - stars)
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_double_per_slot() {
        assert_eq!(slot_range(0), (0, 1));
        assert_eq!(slot_range(1), (2, 3));
        assert_eq!(slot_range(10), (1024, 2047));
        assert_eq!(slot_range(31), (1 << 31, u32::MAX as u64));
    }

    #[test]
    fn rows_stop_at_the_last_non_empty_slot() {
        let mut h = Hist::ZERO;
        h.slots[0] = 1;
        h.slots[3] = 8;
        let text = render(&h, "usecs");
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines[0], "     usecs               : count    distribution");
        assert_eq!(lines.len(), 5);
        assert_eq!(
            lines[1],
            "         0 -> 1          : 1        |*****                                   |"
        );
        assert_eq!(
            lines[4],
            "         8 -> 15         : 8        |****************************************|"
        );
        assert_eq!(render(&Hist::ZERO, "usecs"), "");
    }
}
