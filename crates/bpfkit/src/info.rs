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
    /// The network device the program was loaded for (offloaded to it), 0 for none.
    pub ifindex: u32,
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
            ifindex: i.ifindex,
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

/// A loaded program's code as the kernel keeps it: translated instructions, JIT output per
/// function, and the BTF func/line info that maps them back to the source.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ProgramCode {
    /// The translated (post-verifier) instructions, 8 bytes each in host order. Map
    /// references carry map ids, helper calls their offset from `__bpf_call_base`.
    pub xlated: Vec<u8>,
    /// The JIT-compiled machine code of every function, one after the other (empty when
    /// the kernel withholds it or does not JIT).
    pub jited: Vec<u8>,
    /// Kernel address of each JIT-compiled function (main program first).
    pub jited_ksyms: Vec<u64>,
    /// Length in bytes of each function in `jited`.
    pub jited_func_lens: Vec<u32>,
    /// The program's BTF object id (0: none; then no func or line info).
    pub btf_id: u32,
    /// Function boundaries: (first instruction index, BTF FUNC type id) per function.
    pub func_info: Vec<(u32, u32)>,
    /// Source lines: one record per instruction index where a line starts.
    pub line_info: Vec<LineInfo>,
}

/// One BTF line-info record of a loaded program (`struct bpf_line_info`): the source line
/// that starts at an instruction. The offsets index the program's BTF string section.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LineInfo {
    /// Index of the first instruction (8-byte slot) of the line.
    pub insn_off: u32,
    /// String offset of the file name.
    pub file_name_off: u32,
    /// String offset of the line's text.
    pub line_off: u32,
    /// Line number (upper 22 bits) and column (lower 10 bits).
    pub line_col: u32,
}

impl LineInfo {
    /// The line number.
    pub fn line(&self) -> u32 {
        self.line_col >> 10
    }

    /// The column.
    pub fn column(&self) -> u32 {
        self.line_col & 0x3ff
    }
}

/// The code of a program (two `BPF_OBJ_GET_INFO_BY_FD` calls: sizes, then contents).
pub fn program_code(fd: BorrowedFd<'_>) -> SysResult<ProgramCode> {
    let sizes = prog_info_raw(fd)?;
    let mut code = ProgramCode {
        xlated: vec![0; sizes.xlated_prog_len as usize],
        jited: vec![0; sizes.jited_prog_len as usize],
        jited_ksyms: vec![0; sizes.nr_jited_ksyms as usize],
        jited_func_lens: vec![0; sizes.nr_jited_func_lens as usize],
        btf_id: sizes.btf_id,
        func_info: Vec::new(),
        line_info: Vec::new(),
    };
    let mut func_info = vec![[0u32; 2]; sizes.nr_func_info as usize];
    let mut line_info = vec![[0u32; 4]; sizes.nr_line_info as usize];
    let mut info: uapi::bpf_prog_info = sys::zeroed();
    info.xlated_prog_len = code.xlated.len() as u32;
    info.xlated_prog_insns = code.xlated.as_mut_ptr() as u64;
    info.jited_prog_len = code.jited.len() as u32;
    info.jited_prog_insns = code.jited.as_mut_ptr() as u64;
    info.nr_jited_ksyms = code.jited_ksyms.len() as u32;
    info.jited_ksyms = code.jited_ksyms.as_mut_ptr() as u64;
    info.nr_jited_func_lens = code.jited_func_lens.len() as u32;
    info.jited_func_lens = code.jited_func_lens.as_mut_ptr() as u64;
    info.nr_func_info = func_info.len() as u32;
    info.func_info_rec_size = std::mem::size_of::<[u32; 2]>() as u32;
    info.func_info = func_info.as_mut_ptr() as u64;
    info.nr_line_info = line_info.len() as u32;
    info.line_info_rec_size = std::mem::size_of::<[u32; 4]>() as u32;
    info.line_info = line_info.as_mut_ptr() as u64;
    // SAFETY: every pointer set points to a live buffer of exactly the count or byte length
    // set beside it (records of the size given in the *_rec_size fields); all outlive the call.
    unsafe { sys::obj_get_info_by_fd(fd, &mut info) }?;
    // The kernel reports what it has; keep what was both asked for and filled.
    code.xlated.truncate(info.xlated_prog_len as usize);
    code.jited.truncate(info.jited_prog_len as usize);
    code.jited_ksyms.truncate(info.nr_jited_ksyms as usize);
    code.jited_func_lens
        .truncate(info.nr_jited_func_lens as usize);
    func_info.truncate(info.nr_func_info as usize);
    line_info.truncate(info.nr_line_info as usize);
    code.func_info = func_info.iter().map(|r| (r[0], r[1])).collect();
    code.line_info = line_info
        .iter()
        .map(|r| LineInfo {
            insn_off: r[0],
            file_name_off: r[1],
            line_off: r[2],
            line_col: r[3],
        })
        .collect();
    Ok(code)
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
    /// What the link attaches the program to, decoded from the type's part of the record.
    pub target: LinkTarget,
}

/// What a link attaches its program to (the per-type part of `struct bpf_link_info`).
///
/// `attach_type` fields are `enum bpf_attach_type` numbers.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum LinkTarget {
    /// A raw tracepoint (`BPF_LINK_TYPE_RAW_TRACEPOINT`).
    RawTracepoint {
        /// Tracepoint name, e.g. `sched_switch`.
        name: String,
    },
    /// fentry/fexit/fmod_ret/LSM/freplace (`BPF_LINK_TYPE_TRACING`).
    Tracing {
        /// Attach type.
        attach_type: u32,
        /// Id of the BTF object (vmlinux, a module) or program of the target, 0 for vmlinux.
        target_obj_id: u32,
        /// BTF id of the target function in that object.
        target_btf_id: u32,
    },
    /// A cgroup (`BPF_LINK_TYPE_CGROUP`).
    Cgroup {
        /// The cgroup's id (its inode number on the cgroup2 fs).
        cgroup_id: u64,
        /// Attach type.
        attach_type: u32,
    },
    /// An iterator (`BPF_LINK_TYPE_ITER`).
    Iter {
        /// The iterator target, e.g. `task`, `bpf_map_elem`.
        target: String,
        /// The map of a map-element iterator (0: none).
        map_id: u32,
    },
    /// A network namespace (`BPF_LINK_TYPE_NETNS`).
    Netns {
        /// The namespace's inode number.
        netns_ino: u32,
        /// Attach type.
        attach_type: u32,
    },
    /// XDP on an interface (`BPF_LINK_TYPE_XDP`).
    Xdp {
        /// Interface index.
        ifindex: u32,
    },
    /// A struct_ops map (`BPF_LINK_TYPE_STRUCT_OPS`).
    StructOps {
        /// The struct_ops map.
        map_id: u32,
    },
    /// A netfilter hook (`BPF_LINK_TYPE_NETFILTER`).
    Netfilter {
        /// Protocol family (`NFPROTO_*`).
        pf: u32,
        /// Hook number (`NF_INET_*`).
        hooknum: u32,
        /// Priority.
        priority: i32,
    },
    /// Several kprobes (`BPF_LINK_TYPE_KPROBE_MULTI`).
    KprobeMulti {
        /// Number of functions.
        count: u32,
        /// `BPF_F_KPROBE_MULTI_RETURN` and friends.
        flags: u32,
    },
    /// Several uprobes in one file (`BPF_LINK_TYPE_UPROBE_MULTI`).
    UprobeMulti {
        /// The probed file.
        path: String,
        /// Number of offsets.
        count: u32,
        /// Process filter (0: every process).
        pid: u32,
        /// `BPF_F_UPROBE_MULTI_RETURN`.
        flags: u32,
    },
    /// A uprobe or uretprobe perf event (`BPF_LINK_TYPE_PERF_EVENT`).
    Uprobe {
        /// The probed file.
        path: String,
        /// File offset of the probe.
        offset: u32,
        /// A uretprobe.
        retprobe: bool,
    },
    /// A kprobe or kretprobe perf event (`BPF_LINK_TYPE_PERF_EVENT`).
    Kprobe {
        /// The probed function ("" when given by address).
        function: String,
        /// Offset into the function.
        offset: u32,
        /// The probed address (0 unless the kernel shows addresses to the caller).
        addr: u64,
        /// A kretprobe.
        retprobe: bool,
    },
    /// A tracepoint perf event (`BPF_LINK_TYPE_PERF_EVENT`).
    Tracepoint {
        /// Tracepoint name without its category, e.g. `sys_enter_execve`.
        name: String,
    },
    /// Another perf event (`BPF_LINK_TYPE_PERF_EVENT`): hardware, software, ...
    PerfEvent {
        /// `perf_event_attr.type`.
        event_type: u32,
        /// `perf_event_attr.config`.
        config: u64,
    },
    /// tcx on an interface (`BPF_LINK_TYPE_TCX`).
    Tcx {
        /// Interface index.
        ifindex: u32,
        /// Attach type (ingress/egress).
        attach_type: u32,
    },
    /// A netkit device (`BPF_LINK_TYPE_NETKIT`).
    Netkit {
        /// Interface index.
        ifindex: u32,
        /// Attach type (primary/peer).
        attach_type: u32,
    },
    /// A sockmap (`BPF_LINK_TYPE_SOCKMAP`).
    Sockmap {
        /// The sockmap.
        map_id: u32,
        /// Attach type.
        attach_type: u32,
    },
    /// A link type without target fields, or one newer than bpfkit.
    Unknown,
}

/// `struct bpf_link_info` as bytes, read at the offsets of the generated record
/// ([`uapi::bpf_link_info`], through [`link_at!`]): safe reads of whichever union arm the
/// link's type fills. Room past the generated record for the arms a newer kernel adds; the
/// kernel accepts a longer buffer as long as the bytes it does not know are zero.
#[repr(C, align(8))]
#[derive(Clone, Copy)]
struct LinkInfoBuf([u8; 128]);

// SAFETY: a byte array: plain data, every bit pattern valid, no pointers.
unsafe impl uapi::Zeroable for LinkInfoBuf {}

const _: () = assert!(std::mem::size_of::<uapi::bpf_link_info>() <= 128);

/// Byte offset of a field path of `struct bpf_link_info`, e.g. `anon_1.tcx.ifindex`.
macro_rules! link_at {
    ($($field:tt)+) => {
        std::mem::offset_of!(uapi::bpf_link_info, $($field)+)
    };
}

/// The longest name fetched (a path).
const NAME_MAX: usize = 4096;

impl LinkInfoBuf {
    fn u32_at(&self, at: usize) -> u32 {
        u32::from_ne_bytes(self.0[at..at + 4].try_into().unwrap_or_default())
    }
    fn u64_at(&self, at: usize) -> u64 {
        u64::from_ne_bytes(self.0[at..at + 8].try_into().unwrap_or_default())
    }
    fn set_u32(&mut self, at: usize, v: u32) {
        self.0[at..at + 4].copy_from_slice(&v.to_ne_bytes());
    }
    fn set_u64(&mut self, at: usize, v: u64) {
        self.0[at..at + 8].copy_from_slice(&v.to_ne_bytes());
    }
}

/// Query the link info, with a name buffer at `(pointer offset, length offset)` if given.
fn link_info_raw(
    fd: BorrowedFd<'_>,
    name: Option<(usize, usize, &mut Vec<u8>)>,
) -> SysResult<LinkInfoBuf> {
    let mut info = LinkInfoBuf([0; 128]);
    if let Some((ptr_at, len_at, buf)) = name {
        info.set_u64(ptr_at, buf.as_mut_ptr() as u64);
        info.set_u32(len_at, buf.len() as u32);
        // SAFETY: the one pointer set points to `buf`, whose length is the one set beside
        // it; `buf` outlives the call.
        unsafe { sys::obj_get_info_by_fd(fd, &mut info) }?;
    } else {
        // SAFETY: no pointer fields are set in `info`.
        unsafe { sys::obj_get_info_by_fd(fd, &mut info) }?;
    }
    Ok(info)
}

/// Query again with a name buffer; the NUL-terminated string the kernel wrote.
fn link_name(fd: BorrowedFd<'_>, ptr_at: usize, len_at: usize) -> SysResult<String> {
    let mut buf = vec![0u8; NAME_MAX];
    link_info_raw(fd, Some((ptr_at, len_at, &mut buf)))?;
    Ok(c_name(&buf))
}

impl LinkInfo {
    /// Info of a link fd, with its target (a second query fetches names and paths).
    pub fn from_fd(fd: BorrowedFd<'_>) -> SysResult<Self> {
        let info = link_info_raw(fd, None)?;
        let link_type = info.u32_at(link_at!(type_));
        let target = match link_type {
            uapi::BPF_LINK_TYPE_RAW_TRACEPOINT => LinkTarget::RawTracepoint {
                name: link_name(
                    fd,
                    link_at!(anon_1.raw_tracepoint.tp_name),
                    link_at!(anon_1.raw_tracepoint.tp_name_len),
                )?,
            },
            uapi::BPF_LINK_TYPE_TRACING => LinkTarget::Tracing {
                attach_type: info.u32_at(link_at!(anon_1.tracing.attach_type)),
                target_obj_id: info.u32_at(link_at!(anon_1.tracing.target_obj_id)),
                target_btf_id: info.u32_at(link_at!(anon_1.tracing.target_btf_id)),
            },
            uapi::BPF_LINK_TYPE_CGROUP => LinkTarget::Cgroup {
                cgroup_id: info.u64_at(link_at!(anon_1.cgroup.cgroup_id)),
                attach_type: info.u32_at(link_at!(anon_1.cgroup.attach_type)),
            },
            uapi::BPF_LINK_TYPE_ITER => LinkTarget::Iter {
                target: link_name(
                    fd,
                    link_at!(anon_1.iter.target_name),
                    link_at!(anon_1.iter.target_name_len),
                )?,
                map_id: info.u32_at(link_at!(anon_1.iter.anon_1.map.map_id)),
            },
            uapi::BPF_LINK_TYPE_NETNS => LinkTarget::Netns {
                netns_ino: info.u32_at(link_at!(anon_1.netns.netns_ino)),
                attach_type: info.u32_at(link_at!(anon_1.netns.attach_type)),
            },
            uapi::BPF_LINK_TYPE_XDP => LinkTarget::Xdp {
                ifindex: info.u32_at(link_at!(anon_1.xdp.ifindex)),
            },
            uapi::BPF_LINK_TYPE_STRUCT_OPS => LinkTarget::StructOps {
                map_id: info.u32_at(link_at!(anon_1.struct_ops.map_id)),
            },
            uapi::BPF_LINK_TYPE_NETFILTER => LinkTarget::Netfilter {
                pf: info.u32_at(link_at!(anon_1.netfilter.pf)),
                hooknum: info.u32_at(link_at!(anon_1.netfilter.hooknum)),
                priority: info.u32_at(link_at!(anon_1.netfilter.priority)) as i32,
            },
            uapi::BPF_LINK_TYPE_KPROBE_MULTI => LinkTarget::KprobeMulti {
                count: info.u32_at(link_at!(anon_1.kprobe_multi.count)),
                flags: info.u32_at(link_at!(anon_1.kprobe_multi.flags)),
            },
            uapi::BPF_LINK_TYPE_UPROBE_MULTI => LinkTarget::UprobeMulti {
                path: link_name(
                    fd,
                    link_at!(anon_1.uprobe_multi.path),
                    link_at!(anon_1.uprobe_multi.path_size),
                )?,
                count: info.u32_at(link_at!(anon_1.uprobe_multi.count)),
                flags: info.u32_at(link_at!(anon_1.uprobe_multi.flags)),
                pid: info.u32_at(link_at!(anon_1.uprobe_multi.pid)),
            },
            uapi::BPF_LINK_TYPE_PERF_EVENT => {
                match info.u32_at(link_at!(anon_1.perf_event.type_)) {
                    t @ (uapi::BPF_PERF_EVENT_UPROBE | uapi::BPF_PERF_EVENT_URETPROBE) => {
                        LinkTarget::Uprobe {
                            path: link_name(
                                fd,
                                link_at!(anon_1.perf_event.anon_1.uprobe.file_name),
                                link_at!(anon_1.perf_event.anon_1.uprobe.name_len),
                            )?,
                            offset: info.u32_at(link_at!(anon_1.perf_event.anon_1.uprobe.offset)),
                            retprobe: t == uapi::BPF_PERF_EVENT_URETPROBE,
                        }
                    }
                    t @ (uapi::BPF_PERF_EVENT_KPROBE | uapi::BPF_PERF_EVENT_KRETPROBE) => {
                        LinkTarget::Kprobe {
                            function: link_name(
                                fd,
                                link_at!(anon_1.perf_event.anon_1.kprobe.func_name),
                                link_at!(anon_1.perf_event.anon_1.kprobe.name_len),
                            )?,
                            offset: info.u32_at(link_at!(anon_1.perf_event.anon_1.kprobe.offset)),
                            addr: info.u64_at(link_at!(anon_1.perf_event.anon_1.kprobe.addr)),
                            retprobe: t == uapi::BPF_PERF_EVENT_KRETPROBE,
                        }
                    }
                    uapi::BPF_PERF_EVENT_TRACEPOINT => LinkTarget::Tracepoint {
                        name: link_name(
                            fd,
                            link_at!(anon_1.perf_event.anon_1.tracepoint.tp_name),
                            link_at!(anon_1.perf_event.anon_1.tracepoint.name_len),
                        )?,
                    },
                    uapi::BPF_PERF_EVENT_EVENT => LinkTarget::PerfEvent {
                        config: info.u64_at(link_at!(anon_1.perf_event.anon_1.event.config)),
                        event_type: info.u32_at(link_at!(anon_1.perf_event.anon_1.event.type_)),
                    },
                    _ => LinkTarget::Unknown,
                }
            }
            uapi::BPF_LINK_TYPE_TCX => LinkTarget::Tcx {
                ifindex: info.u32_at(link_at!(anon_1.tcx.ifindex)),
                attach_type: info.u32_at(link_at!(anon_1.tcx.attach_type)),
            },
            uapi::BPF_LINK_TYPE_NETKIT => LinkTarget::Netkit {
                ifindex: info.u32_at(link_at!(anon_1.netkit.ifindex)),
                attach_type: info.u32_at(link_at!(anon_1.netkit.attach_type)),
            },
            uapi::BPF_LINK_TYPE_SOCKMAP => LinkTarget::Sockmap {
                map_id: info.u32_at(link_at!(anon_1.sockmap.map_id)),
                attach_type: info.u32_at(link_at!(anon_1.sockmap.attach_type)),
            },
            _ => LinkTarget::Unknown,
        };
        Ok(Self {
            id: info.u32_at(link_at!(id)),
            link_type,
            prog_id: info.u32_at(link_at!(prog_id)),
            target,
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
