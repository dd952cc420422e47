//! The name index: name → type ids, built in one pass with two flat arrays (hash chains).

/// Hash chains over local type indexes. `heads[hash & mask]` is the first index + 1 of a
/// chain (0 = empty), `next[i]` the following index + 1. Chains are in ascending id order.
pub(crate) struct NameIndex {
    mask: u32,
    heads: Vec<u32>,
    next: Vec<u32>,
}

const SEED: u64 = 0xcbf2_9ce4_8422_2325;
const LO: u64 = 0x0101_0101_0101_0101;
const HI: u64 = 0x8080_8080_8080_8080;

#[inline]
fn mix(h: u64, w: u64) -> u64 {
    (h.rotate_left(5) ^ w).wrapping_mul(0x517c_c1b7_2722_0a95)
}

#[inline]
fn finish(h: u64) -> u32 {
    (h >> 32) as u32 ^ h as u32
}

/// Hash of a name: 8-byte little-endian words, the last one zero-padded.
pub(crate) fn hash(bytes: &[u8]) -> u32 {
    let mut h = SEED;
    let mut chunks = bytes.chunks_exact(8);
    for c in &mut chunks {
        let mut w = [0u8; 8];
        w.copy_from_slice(c);
        h = mix(h, u64::from_le_bytes(w));
    }
    let rest = chunks.remainder();
    if !rest.is_empty() {
        let mut w = [0u8; 8];
        w[..rest.len()].copy_from_slice(rest);
        h = mix(h, u64::from_le_bytes(w));
    }
    finish(h)
}

/// [`hash`] of the NUL-terminated string starting at `start` of `table`, found a word at
/// a time (no separate strlen). `None` when the string is empty or runs off the table.
#[inline]
pub(crate) fn hash_cstr(table: &[u8], start: usize) -> Option<u32> {
    let mut h = SEED;
    let mut pos = start;
    loop {
        let w = match table.get(pos..pos + 8) {
            Some(c) => {
                let mut b = [0u8; 8];
                b.copy_from_slice(c);
                u64::from_le_bytes(b)
            }
            None => {
                // Near the end: zero-pad; an unterminated string is an error.
                let rest = table.get(pos..)?;
                if !rest.contains(&0) {
                    return None;
                }
                let mut b = [0u8; 8];
                b[..rest.len()].copy_from_slice(rest);
                u64::from_le_bytes(b)
            }
        };
        let zero = w.wrapping_sub(LO) & !w & HI;
        if zero != 0 {
            // The lowest flagged byte is the first NUL (little-endian order).
            let nbytes = (zero.trailing_zeros() / 8) as usize;
            if nbytes > 0 {
                h = mix(h, w & (u64::MAX >> (64 - 8 * nbytes)));
            } else if pos == start {
                return None;
            }
            return Some(finish(h));
        }
        h = mix(h, w);
        pos += 8;
    }
}

impl NameIndex {
    /// Index `count` local types; `name_hash(i)` gives the [`hash`] of local type `i`'s
    /// name, or `None` when it is anonymous or unreadable.
    pub(crate) fn build(count: usize, name_hash: impl Fn(usize) -> Option<u32>) -> Self {
        let buckets = count.max(1).next_power_of_two().min(1 << 31);
        let mask = (buckets - 1) as u32;
        let mut heads = vec![0u32; buckets];
        let mut next = vec![0u32; count];
        // Insert in reverse so each chain lists ids in ascending order.
        for idx in (0..count).rev() {
            let Some(h) = name_hash(idx) else { continue };
            let b = (h & mask) as usize;
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hash_cstr_agrees_with_hash_for_every_length_and_position() {
        let names = [
            "a",
            "abcdefg",
            "abcdefgh",
            "abcdefghi",
            "task_struct",
            "x_0123456789abcdef",
        ];
        for name in names {
            for pad in 0..9 {
                let mut table = vec![b'z'; pad];
                table.push(0);
                let start = table.len();
                table.extend_from_slice(name.as_bytes());
                table.push(0);
                assert_eq!(
                    hash_cstr(&table, start),
                    Some(hash(name.as_bytes())),
                    "{name} {pad}"
                );
                // At the very end of the table too (the zero-padded path).
                let tail = &table[..];
                assert_eq!(hash_cstr(tail, start), Some(hash(name.as_bytes())));
            }
        }
    }

    #[test]
    fn hash_cstr_rejects_empty_and_unterminated() {
        assert_eq!(hash_cstr(b"\0abc\0", 0), None);
        assert_eq!(hash_cstr(b"\0abc", 1), None);
        assert_eq!(hash_cstr(b"\0abc", 9), None);
    }
}
