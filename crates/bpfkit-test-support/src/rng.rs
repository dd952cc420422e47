//! A deterministic pseudo-random sequence for mutation tests, so a failing input reproduces.

/// xorshift64* (Vigna): a fixed sequence from a non-zero seed, no dependency needed.
///
/// ```
/// use bpfkit_test_support::XorShift64Star;
/// let mut rng = XorShift64Star(0x9e37_79b9_7f4a_7c15);
/// let first = rng.next_u64();
/// assert_eq!(XorShift64Star(0x9e37_79b9_7f4a_7c15).next_u64(), first);
/// assert!(rng.below(8) < 8);
/// ```
#[derive(Debug, Clone)]
pub struct XorShift64Star(pub u64);

impl XorShift64Star {
    /// The next 64-bit value.
    pub fn next_u64(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    /// A value in `0..n` (0 when `n` is 0).
    pub fn below(&mut self, n: usize) -> usize {
        (self.next_u64() % n.max(1) as u64) as usize
    }
}
