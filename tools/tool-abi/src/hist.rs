//! Log2 histograms as the kernel side fills them: slot `i` counts values in
//! `[2^i, 2^(i+1))`, slot 0 also counts 0 (bcc's and libbpf-tools' layout).

/// Slots per histogram (values up to 2^32 - 1 units; larger values land in the last).
pub const SLOTS: usize = 32;

/// `floor(log2(v))`, 0 for 0 and 1; loop-free so it costs the verifier a few instructions.
#[inline(always)]
pub fn log2(v: u64) -> u32 {
    let (mut v, mut r) = if v >> 32 != 0 { (v >> 32, 32) } else { (v, 0) };
    let shift = ((v > 0xFFFF) as u32) << 4;
    v >>= shift;
    r |= shift;
    let shift = ((v > 0xFF) as u32) << 3;
    v >>= shift;
    r |= shift;
    let shift = ((v > 0xF) as u32) << 2;
    v >>= shift;
    r |= shift;
    let shift = ((v > 0x3) as u32) << 1;
    v >>= shift;
    r |= shift;
    r | (v >> 1) as u32
}

/// The slot a value goes to (capped at the last slot).
#[inline(always)]
pub fn slot(v: u64) -> usize {
    let s = log2(v) as usize;
    if s >= SLOTS {
        SLOTS - 1
    } else {
        s
    }
}

/// A log2 histogram with the sum and count of the values it holds.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Hist {
    /// Values per slot.
    pub slots: [u64; SLOTS],
    /// Sum of the values (in the histogram's unit).
    pub sum: u64,
    /// Number of values.
    pub count: u64,
}

impl Hist {
    /// An empty histogram.
    pub const ZERO: Hist = Hist {
        slots: [0; SLOTS],
        sum: 0,
        count: 0,
    };

    /// Adds `other` into `self` (e.g. the per-CPU copies of one key).
    pub fn merge(&mut self, other: &Hist) {
        for (a, b) in self.slots.iter_mut().zip(other.slots.iter()) {
            *a += b;
        }
        self.sum += other.sum;
        self.count += other.count;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn log2_is_floor_log2() {
        assert_eq!(log2(0), 0);
        assert_eq!(log2(1), 0);
        assert_eq!(log2(2), 1);
        assert_eq!(log2(3), 1);
        assert_eq!(log2(4), 2);
        assert_eq!(log2(1023), 9);
        assert_eq!(log2(1024), 10);
        assert_eq!(log2(u32::MAX as u64), 31);
        assert_eq!(log2(1 << 32), 32);
        assert_eq!(log2(u64::MAX), 63);
        for v in 1..5000u64 {
            assert_eq!(log2(v), 63 - v.leading_zeros(), "{v}");
        }
    }

    #[test]
    fn slot_caps_at_the_last() {
        assert_eq!(slot(5), 2);
        assert_eq!(slot(u64::MAX), SLOTS - 1);
    }
}
