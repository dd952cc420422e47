//! The name index: name → type ids, built in one pass with two flat arrays (hash chains).

/// Hash chains over local type indexes. `heads[hash & mask]` is the first index + 1 of a
/// chain (0 = empty), `next[i]` the following index + 1. Chains are in ascending id order.
pub(crate) struct NameIndex {
    mask: u32,
    heads: Vec<u32>,
    next: Vec<u32>,
}

#[inline]
fn hash(bytes: &[u8]) -> u32 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    let mut chunks = bytes.chunks_exact(8);
    for c in &mut chunks {
        let mut w = [0u8; 8];
        w.copy_from_slice(c);
        h = (h.rotate_left(5) ^ u64::from_le_bytes(w)).wrapping_mul(0x517c_c1b7_2722_0a95);
    }
    let rest = chunks.remainder();
    if !rest.is_empty() {
        let mut w = [0u8; 8];
        w[..rest.len()].copy_from_slice(rest);
        h = (h.rotate_left(5) ^ u64::from_le_bytes(w)).wrapping_mul(0x517c_c1b7_2722_0a95);
    }
    (h >> 32) as u32 ^ h as u32
}

impl NameIndex {
    /// Index `count` local types; `name(i)` gives the name bytes of local type `i`, or
    /// `None` when it is anonymous or unreadable.
    pub(crate) fn build<'n>(count: usize, name: impl Fn(usize) -> Option<&'n [u8]>) -> Self {
        let buckets = (count.max(1) * 2).next_power_of_two().min(1 << 31);
        let mask = (buckets - 1) as u32;
        let mut heads = vec![0u32; buckets];
        let mut next = vec![0u32; count];
        // Insert in reverse so each chain lists ids in ascending order.
        for idx in (0..count).rev() {
            let Some(n) = name(idx) else { continue };
            if n.is_empty() {
                continue;
            }
            let b = (hash(n) & mask) as usize;
            next[idx] = heads[b];
            heads[b] = idx as u32 + 1;
        }
        NameIndex { mask, heads, next }
    }

    /// Call `found(i)` for each local index whose name is `wanted`, ascending.
    pub(crate) fn lookup<'n>(
        &self,
        wanted: &[u8],
        name: impl Fn(usize) -> Option<&'n [u8]>,
        mut found: impl FnMut(usize),
    ) {
        if wanted.is_empty() {
            return;
        }
        let mut cur = self.heads[(hash(wanted) & self.mask) as usize];
        while cur != 0 {
            let idx = (cur - 1) as usize;
            if name(idx) == Some(wanted) {
                found(idx);
            }
            cur = self.next[idx];
        }
    }
}
