//! Introspection: loaded programs, maps and links with the kernel's info; run-time stats.

use std::os::fd::{AsFd, BorrowedFd, OwnedFd};

use crate::sys::{self, uapi, ObjectKind, SysResult};

/// A NUL-padded kernel name as a string.
pub fn c_name(bytes: &[u8]) -> String {
    let end = bytes.iter().position(|&b| b == 0).unwrap_or(bytes.len());
    String::from_utf8_lossy(&bytes[..end]).into_owned()
}

/// `bpf_map_info` of a map fd.
pub fn map_info(fd: BorrowedFd<'_>) -> SysResult<uapi::bpf_map_info> {
    let mut info: uapi::bpf_map_info = sys::zeroed();
    // SAFETY: no pointer fields are set in `info`.
    unsafe { sys::obj_get_info_by_fd(fd, &mut info) }?;
    Ok(info)
}

/// What the kernel says about a loaded map.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MapInfo {
    /// Id.
    pub id: u32,
    /// Name.
    pub name: String,
    /// `enum bpf_map_type` number (see [`MapTypeExt::from_number`](crate::maps::MapTypeExt::from_number)).
    pub map_type: u32,
    /// Key size.
    pub key_size: u32,
    /// Value size.
    pub value_size: u32,
    /// Capacity.
    pub max_entries: u32,
    /// Flags.
    pub map_flags: u32,
    /// BTF object id (0: none).
    pub btf_id: u32,
}

impl MapInfo {
    /// Info of a map fd.
    pub fn from_fd(fd: BorrowedFd<'_>) -> SysResult<Self> {
        let i = map_info(fd)?;
        Ok(Self {
            id: i.id,
            name: c_name(&i.name),
            map_type: i.type_,
            key_size: i.key_size,
            value_size: i.value_size,
            max_entries: i.max_entries,
            map_flags: i.map_flags,
            btf_id: i.btf_id,
        })
    }
}

/// What the kernel says about a loaded program.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProgramInfo {
    /// Id.
    pub id: u32,
    /// Name.
    pub name: String,
    /// `enum bpf_prog_type` number (see [`ProgramTypeExt::from_number`](crate::programs::ProgramTypeExt::from_number)).
    pub program_type: u32,
    /// The 8-byte tag (hash of the instructions).
    pub tag: [u8; 8],
    /// BTF object id (0: none).
    pub btf_id: u32,
    /// Ids of the maps it uses.
    pub map_ids: Vec<u32>,
    /// Total run time in ns (counted while stats are enabled).
    pub run_time_ns: u64,
    /// Number of runs (counted while stats are enabled).
    pub run_cnt: u64,
    /// Translated (post-verifier) instruction bytes.
    pub xlated_prog_len: u32,
    /// JIT-compiled bytes.
    pub jited_prog_len: u32,
    /// Verifier-counted instructions processed.
    pub verified_insns: u32,
    /// Load time, ns since boot.
    pub load_time: u64,
    /// Creator's uid.
    pub created_by_uid: u32,
    /// GPL-compatible license.
    pub gpl_compatible: bool,
}

fn prog_info_raw(fd: BorrowedFd<'_>) -> SysResult<uapi::bpf_prog_info> {
    let mut info: uapi::bpf_prog_info = sys::zeroed();
    // SAFETY: no pointer fields are set in `info`.
    unsafe { sys::obj_get_info_by_fd(fd, &mut info) }?;
    Ok(info)
}

impl ProgramInfo {
    /// Info of a program fd (two calls: the second fetches the map ids).
    pub fn from_fd(fd: BorrowedFd<'_>) -> SysResult<Self> {
        let i = prog_info_raw(fd)?;
        let mut map_ids = vec![0u32; i.nr_map_ids as usize];
        if !map_ids.is_empty() {
            let mut again: uapi::bpf_prog_info = sys::zeroed();
            again.nr_map_ids = map_ids.len() as u32;
            again.map_ids = map_ids.as_mut_ptr() as u64;
            // SAFETY: `map_ids` holds `nr_map_ids` u32s and outlives the call.
            unsafe { sys::obj_get_info_by_fd(fd, &mut again) }?;
            map_ids.truncate(again.nr_map_ids.min(map_ids.len() as u32) as usize);
        }
        Ok(Self {
            id: i.id,
            name: c_name(&i.name),
            program_type: i.type_,
            tag: i.tag,
            btf_id: i.btf_id,
            map_ids,
            run_time_ns: i.run_time_ns,
            run_cnt: i.run_cnt,
            xlated_prog_len: i.xlated_prog_len,
            jited_prog_len: i.jited_prog_len,
            verified_insns: i.verified_insns,
            load_time: i.load_time,
            created_by_uid: i.created_by_uid,
            gpl_compatible: i.bitfield_1 & 1 != 0,
        })
    }

    /// The tag as 16 hex digits, as bpftool prints it.
    pub fn tag_hex(&self) -> String {
        self.tag.iter().map(|b| format!("{b:02x}")).collect()
    }
}

/// The translated instructions of a program (8 bytes each, kernel `struct bpf_insn` layout).
pub fn xlated_insns(fd: BorrowedFd<'_>) -> SysResult<Vec<u64>> {
    let i = prog_info_raw(fd)?;
    let mut insns = vec![0u64; i.xlated_prog_len as usize / 8];
    if insns.is_empty() {
        return Ok(insns);
    }
    let mut again: uapi::bpf_prog_info = sys::zeroed();
    again.xlated_prog_len = (insns.len() * 8) as u32;
    again.xlated_prog_insns = insns.as_mut_ptr() as u64;
    // SAFETY: `insns` holds `xlated_prog_len` bytes and outlives the call.
    unsafe { sys::obj_get_info_by_fd(fd, &mut again) }?;
    insns.truncate(again.xlated_prog_len as usize / 8);
    Ok(insns)
}

/// What the kernel says about a link.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LinkInfo {
    /// Id.
    pub id: u32,
    /// `enum bpf_link_type` number.
    pub link_type: u32,
    /// Id of the attached program.
    pub prog_id: u32,
}

impl LinkInfo {
    /// Info of a link fd.
    pub fn from_fd(fd: BorrowedFd<'_>) -> SysResult<Self> {
        let mut info: uapi::bpf_link_info = sys::zeroed();
        // SAFETY: no pointer fields are set in `info`.
        unsafe { sys::obj_get_info_by_fd(fd, &mut info) }?;
        Ok(Self {
            id: info.id,
            link_type: info.type_,
            prog_id: info.prog_id,
        })
    }
}

/// Ids of every loaded object of `kind`, in increasing order.
pub fn ids(kind: ObjectKind) -> SysResult<Vec<u32>> {
    let mut out = Vec::new();
    let mut id = 0;
    while let Some(next) = sys::get_next_id(kind, id)? {
        out.push(next);
        id = next;
    }
    Ok(out)
}

/// Open each id of `kind` and describe it; objects gone since listing are skipped.
fn list<T>(kind: ObjectKind, describe: fn(BorrowedFd<'_>) -> SysResult<T>) -> SysResult<Vec<T>> {
    let mut out = Vec::new();
    for id in ids(kind)? {
        let fd: OwnedFd = match sys::get_fd_by_id(kind, id) {
            Ok(fd) => fd,
            Err(e) if e.errno() == Some(libc::ENOENT) => continue,
            Err(e) => return Err(e),
        };
        out.push(describe(fd.as_fd())?);
    }
    Ok(out)
}

/// Every loaded program.
pub fn loaded_programs() -> SysResult<Vec<ProgramInfo>> {
    list(ObjectKind::Prog, ProgramInfo::from_fd)
}

/// Every loaded map.
pub fn loaded_maps() -> SysResult<Vec<MapInfo>> {
    list(ObjectKind::Map, MapInfo::from_fd)
}

/// Every link.
pub fn loaded_links() -> SysResult<Vec<LinkInfo>> {
    list(ObjectKind::Link, LinkInfo::from_fd)
}

/// Run-time statistics (`run_time_ns`, `run_cnt`) are collected while this guard lives.
#[derive(Debug)]
pub struct StatsGuard {
    _fd: OwnedFd,
}

/// `BPF_ENABLE_STATS(BPF_STATS_RUN_TIME)`: count program run time until the guard drops.
pub fn enable_run_time_stats() -> SysResult<StatsGuard> {
    sys::enable_stats(uapi::BPF_STATS_RUN_TIME).map(|fd| StatsGuard { _fd: fd })
}
