//! Maps from userspace: typed views through the skeleton.

use crate::skel::Skel;
use crate::Error;

// ANCHOR: read_maps
/// The target's syscall counts, most frequent first, and their total summed over CPUs.
pub fn syscall_counts(skel: &Skel) -> Result<(Vec<(u32, u64)>, u64), Error> {
    // `SYSCALLS` is a `HashMap<u32, u64>`: key and value types come from the object's BTF.
    let mut counts = skel
        .maps()
        .SYSCALLS()?
        .iter()
        .collect::<Result<Vec<(u32, u64)>, _>>()?;
    counts.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    // A per-CPU array gives one value per possible CPU.
    let total = skel.maps().TOTAL()?.get(0)?.0.iter().sum();
    Ok((counts, total))
}

/// The last syscall number the program saw, read from its `.bss` (memory-mapped: no
/// syscall per read).
pub fn last_syscall(skel: &Skel) -> Result<u64, Error> {
    Ok(skel.bss().LAST_SYSCALL()?)
}

/// The calls of syscall `nr` by process `tgid` from the `TABLES` map's 4 KiB values.
pub fn table_count(skel: &Skel, tgid: u32, nr: u32) -> Result<Option<u64>, Error> {
    let table = skel.maps().TABLES()?.get(&tgid)?;
    Ok(table.map(|t| t.calls[(nr % 512) as usize]))
}
// ANCHOR_END: read_maps
