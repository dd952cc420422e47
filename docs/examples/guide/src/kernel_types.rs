//! Reading what the CO-RE sample found.

use crate::skel::{types::Lineage, Skel};
use crate::Error;

// ANCHOR: read_lineage
/// What `lineage` read for thread `tid`: its parent's pid and command name, and whether the
/// kernel's `task_struct` has `bpf_net_context`.
pub fn lineage_of(skel: &Skel, tid: u32) -> Result<Option<(i32, String, bool)>, Error> {
    let Some(seen): Option<Lineage> = skel.maps().LINEAGE()?.get(&tid)? else {
        return Ok(None);
    };
    let end = seen.parent_comm.iter().position(|&b| b == 0).unwrap_or(16);
    let comm = String::from_utf8_lossy(&seen.parent_comm[..end]).into_owned();
    Ok(Some((seen.ppid, comm, seen.has_net_context != 0)))
}
// ANCHOR_END: read_lineage
