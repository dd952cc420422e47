//! Kernel feature probes: lazy, cached, each naming the feature and the first kernel with it.
//!
//! A probe runs only when a decision needs it, and its answer has three outcomes
//! ([`Support`]): supported and not supported are cached for the process; "could not tell"
//! (EPERM without privileges, ENOMEM, a full fd table...) is not, and the next call asks again.
//! Nothing here compares kernel version numbers: distribution kernels backport features, so
//! the version is only quoted in the error that explains what is missing.

use std::collections::HashMap;
use std::os::fd::AsFd;
use std::sync::{Mutex, OnceLock};

use crate::maps::{MapType, MapTypeExt};
use crate::programs::{ProgramType, ProgramTypeExt};
use crate::sys::{self, uapi, MapCreateAttr, ProgLoadAttr};

/// A kernel feature: its name and the upstream Linux version that introduced it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Feature {
    /// What the feature is, e.g. `map type ARENA`.
    pub name: &'static str,
    /// The first upstream release that has it, e.g. `6.9`.
    pub since: &'static str,
}

impl Feature {
    /// A feature named `name` that Linux `since` (`"6.13"`) introduced.
    pub const fn new(name: &'static str, since: &'static str) -> Self {
        Self { name, since }
    }

    /// The first upstream release with it as `(major, minor)`, for comparing: `(6, 9)`.
    pub fn min_kernel(&self) -> Option<(u32, u32)> {
        let (major, minor) = self.since.split_once('.')?;
        Some((major.parse().ok()?, minor.parse().ok()?))
    }
}

/// A feature the running kernel lacks.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{} is not supported by this kernel (requires Linux {})", feature.name, feature.since)]
pub struct FeatureError {
    /// The missing feature.
    pub feature: Feature,
}

/// The probes bpfkit knows, beyond map and program types.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Probe {
    /// Maps with `BPF_F_MMAPABLE` (Linux 5.5).
    MmapableMaps,
    /// Global data: `BPF_PSEUDO_MAP_VALUE` loads of array map values (Linux 5.2).
    GlobalData,
    /// `BPF_MAP_FREEZE` (Linux 5.2).
    MapFreeze,
    /// The `*_BATCH` map commands (Linux 5.6).
    BatchOps,
    /// BTF loading at all (Linux 4.18).
    Btf,
    /// BTF `FUNC`/`FUNC_PROTO` kinds (Linux 5.0).
    BtfFunc,
    /// BTF `DATASEC`/`VAR` kinds (Linux 5.2).
    BtfDatasec,
    /// BTF `FLOAT` kind (Linux 5.13).
    BtfFloat,
    /// BTF `DECL_TAG` kind (Linux 5.16).
    BtfDeclTag,
    /// BTF `TYPE_TAG` kind (Linux 5.17).
    BtfTypeTag,
    /// BTF `ENUM64` kind (Linux 6.0).
    BtfEnum64,
    /// `bpf_get_attach_cookie` helper for kprobe programs (Linux 5.15).
    BpfCookie,
    /// `BPF_TOKEN_CREATE` command (Linux 6.9).
    Token,
    /// `BPF_LINK_CREATE` at all (Linux 5.7).
    BpfLink,
    /// Perf event links (`BPF_PERF_EVENT`: kprobe/uprobe/tracepoint via links, cookies; 5.15).
    PerfEventLink,
    /// tcx links (`BPF_TCX_INGRESS`/`EGRESS`, Linux 6.6).
    TcxLink,
    /// netkit links (`BPF_NETKIT_PRIMARY`/`PEER`, Linux 6.7).
    NetkitLink,
}

impl Probe {
    /// The feature this probe detects.
    pub fn feature(self) -> Feature {
        let (name, since) = match self {
            Self::MmapableMaps => ("mmapable maps (BPF_F_MMAPABLE)", "5.5"),
            Self::GlobalData => ("global data (BPF_PSEUDO_MAP_VALUE)", "5.2"),
            Self::MapFreeze => ("BPF_MAP_FREEZE", "5.2"),
            Self::BatchOps => ("batch map operations", "5.6"),
            Self::Btf => ("BTF", "4.18"),
            Self::BtfFunc => ("BTF kind FUNC", "5.0"),
            Self::BtfDatasec => ("BTF kind DATASEC", "5.2"),
            Self::BtfFloat => ("BTF kind FLOAT", "5.13"),
            Self::BtfDeclTag => ("BTF kind DECL_TAG", "5.16"),
            Self::BtfTypeTag => ("BTF kind TYPE_TAG", "5.17"),
            Self::BtfEnum64 => ("BTF kind ENUM64", "6.0"),
            Self::BpfCookie => ("BPF cookie (bpf_get_attach_cookie)", "5.15"),
            Self::Token => ("BPF token (BPF_TOKEN_CREATE)", "6.9"),
            Self::BpfLink => ("BPF links (BPF_LINK_CREATE)", "5.7"),
            Self::PerfEventLink => ("perf event links (BPF_PERF_EVENT)", "5.15"),
            Self::TcxLink => ("tcx links (BPF_TCX_INGRESS)", "6.6"),
            Self::NetkitLink => ("netkit links (BPF_NETKIT_PRIMARY)", "6.7"),
        };
        Feature { name, since }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Key {
    Map(MapType),
    Prog(ProgramType),
    Helper(ProgramType, u32),
    Probe(Probe),
}

/// What a probe found out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Support {
    /// The kernel has the feature.
    Supported,
    /// The kernel lacks it (it refused the probe as it refuses unknown features).
    Unsupported,
    /// The probe could not tell: the kernel refused it for another reason (`errno`, e.g.
    /// EPERM without CAP_BPF). Not cached: the next question probes again.
    Unknown {
        /// The errno that left the question open.
        errno: i32,
    },
}

impl Support {
    /// `true` only for [`Support::Supported`].
    pub fn is_supported(self) -> bool {
        self == Self::Supported
    }

    fn from_bool(supported: bool) -> Self {
        if supported {
            Self::Supported
        } else {
            Self::Unsupported
        }
    }
}

/// The answer a failed probe call gives: "could not tell" for errnos that say nothing about
/// the feature (privileges, resources such as a full verifier log or fd table, interruption),
/// else "not supported".
fn failed(e: &sys::SyscallError) -> Support {
    match e.errno() {
        Some(
            errno @ (libc::EPERM
            | libc::ENOMEM
            | libc::ENOSPC
            | libc::EMFILE
            | libc::ENFILE
            | libc::EAGAIN
            | libc::EINTR
            | libc::EFAULT),
        ) => Support::Unknown { errno },
        _ => Support::Unsupported,
    }
}

fn cache() -> &'static Mutex<HashMap<Key, bool>> {
    static CACHE: OnceLock<Mutex<HashMap<Key, bool>>> = OnceLock::new();
    CACHE.get_or_init(|| Mutex::new(HashMap::new()))
}

fn cached(key: Key, probe: impl FnOnce() -> Support) -> Support {
    if let Some(&v) = cache().lock().unwrap_or_else(|e| e.into_inner()).get(&key) {
        return Support::from_bool(v);
    }
    let v = probe();
    log::debug!("feature probe {key:?}: {v:?}");
    let known = match v {
        Support::Supported => true,
        Support::Unsupported => false,
        Support::Unknown { .. } => return v,
    };
    cache()
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .insert(key, known);
    v
}

/// Forget every cached probe answer: the next question probes the kernel again. For a
/// process whose privileges changed since it probed (a BPF token obtained, capabilities
/// raised), and for tests that answer the probes through the syscall seam.
pub fn forget_cached() {
    cache().lock().unwrap_or_else(|e| e.into_inner()).clear();
}

impl From<Feature> for FeatureError {
    fn from(feature: Feature) -> Self {
        Self { feature }
    }
}

/// `Err` only when the probe found the feature missing: when it could not tell, the
/// operation itself is left to report what the kernel says.
fn require(support: Support, feature: Feature) -> Result<(), FeatureError> {
    if support == Support::Unsupported {
        Err(FeatureError { feature })
    } else {
        Ok(())
    }
}

/// Whether the kernel can create maps of `map_type` (probed by creating a tiny one).
pub fn map_type_support(map_type: MapType) -> Support {
    cached(Key::Map(map_type), || probe_map_type(map_type))
}

/// [`map_type_support`] as a bool: `false` also when the probe could not tell.
pub fn map_type_supported(map_type: MapType) -> bool {
    map_type_support(map_type).is_supported()
}

/// `Ok` unless `map_type` is known to be missing; the error names the first kernel with it.
pub fn require_map_type(map_type: MapType) -> Result<(), FeatureError> {
    require(map_type_support(map_type), map_type.feature())
}

/// Whether the kernel can load programs of `prog_type` (probed with `r0 = 0; exit`).
pub fn program_type_support(prog_type: ProgramType) -> Support {
    cached(Key::Prog(prog_type), || probe_prog_type(prog_type))
}

/// [`program_type_support`] as a bool: `false` also when the probe could not tell.
pub fn program_type_supported(prog_type: ProgramType) -> bool {
    program_type_support(prog_type).is_supported()
}

/// `Ok` unless `prog_type` is known to be missing; the error names the first kernel with it.
pub fn require_program_type(prog_type: ProgramType) -> Result<(), FeatureError> {
    require(program_type_support(prog_type), prog_type.feature())
}

/// Whether programs of `prog_type` may call helper number `helper` (`enum bpf_func_id`):
/// a tiny program calling it is loaded; the verifier's "invalid func"/"unknown func" means no.
pub fn helper_support(prog_type: ProgramType, helper: u32) -> Support {
    cached(Key::Helper(prog_type, helper), || {
        probe_helper(prog_type, helper)
    })
}

/// [`helper_support`] as a bool: `false` also when the probe could not tell.
pub fn helper_supported(prog_type: ProgramType, helper: u32) -> bool {
    helper_support(prog_type, helper).is_supported()
}

/// Whether the kernel has `probe`'s feature.
pub fn support(probe: Probe) -> Support {
    cached(Key::Probe(probe), || run_probe(probe))
}

/// [`support`] as a bool: `false` also when the probe could not tell.
pub fn supported(probe: Probe) -> bool {
    support(probe).is_supported()
}

/// `Ok` unless `probe`'s feature is known to be missing; the error names the first kernel
/// with it.
pub fn require_feature(probe: Probe) -> Result<(), FeatureError> {
    require(support(probe), probe.feature())
}

// The probes' kernel calls pass the BPF token a loader uses (or the automatic one), so that a
// process in a user namespace probes what its token allows. Their maps and programs are
// charged to RLIMIT_MEMLOCK before 5.11 like any other, hence the same EPERM retry.

fn map_create(attr: &MapCreateAttr<'_>) -> sys::SysResult<std::os::fd::OwnedFd> {
    let token = crate::token::probe_token();
    let attr = MapCreateAttr {
        token_fd: token.as_deref().map(|t| t.as_fd()),
        ..attr.clone()
    };
    retry_after_memlock(sys::SyscallError::errno, || sys::map_create(&attr))
}

fn prog_load(
    attr: &ProgLoadAttr<'_>,
) -> Result<(std::os::fd::OwnedFd, String), sys::ProgLoadError> {
    let token = crate::token::probe_token();
    let attr = ProgLoadAttr {
        token_fd: token.as_deref().map(|t| t.as_fd()),
        ..attr.clone()
    };
    retry_after_memlock(
        |e: &sys::ProgLoadError| e.source.errno(),
        || sys::prog_load(&attr),
    )
}

fn btf_load(data: &[u8]) -> Result<std::os::fd::OwnedFd, sys::ProgLoadError> {
    let token = crate::token::probe_token();
    sys::btf_load_with_token(data, token.as_deref().map(|t| t.as_fd()))
}

/// The parameters with which a map type can be created at all, for probing.
fn probe_map_attr(map_type: MapType) -> MapCreateAttr<'static> {
    use MapType::*;
    let mut a = MapCreateAttr {
        map_type: map_type.number(),
        key_size: 4,
        value_size: 4,
        max_entries: 1,
        name: "",
        ..Default::default()
    };
    match map_type {
        LpmTrie => {
            a.key_size = 8;
            a.map_flags = uapi::BPF_F_NO_PREALLOC;
        }
        Queue | Stack | BloomFilter => a.key_size = 0,
        Ringbuf | UserRingbuf => {
            a.key_size = 0;
            a.value_size = 0;
            a.max_entries = 4096;
        }
        StackTrace => a.value_size = 8,
        CgroupStorage | PercpuCgroupStorage => {
            a.key_size = size_of::<uapi::bpf_cgroup_storage_key>() as u32;
            a.max_entries = 0;
        }
        SkStorage | InodeStorage | TaskStorage | CgrpStorage => {
            // The value needs BTF: `probe_map_type` adds a tiny BTF object.
            a.map_flags = uapi::BPF_F_NO_PREALLOC;
            a.max_entries = 0;
        }
        Arena => {
            a.key_size = 0;
            a.value_size = 0;
            a.max_entries = 1;
            a.map_flags = uapi::BPF_F_MMAPABLE;
        }
        _ => {}
    }
    a
}

/// The answer of one probe call that succeeds when the feature is there.
fn outcome<T>(result: Result<T, sys::SyscallError>) -> Support {
    match result {
        Ok(_) => Support::Supported,
        Err(e) => failed(&e),
    }
}

fn probe_map_type(map_type: MapType) -> Support {
    use MapType::*;
    let attr = probe_map_attr(map_type);
    match map_type {
        ArrayOfMaps | HashOfMaps => {
            let inner = match map_create(&probe_map_attr(Array)) {
                Ok(inner) => inner,
                Err(e) => return failed(&e),
            };
            let attr = MapCreateAttr {
                inner_map_fd: Some(inner.as_fd()),
                ..attr
            };
            outcome(map_create(&attr))
        }
        SkStorage | InodeStorage | TaskStorage | CgrpStorage => {
            // Local storage needs BTF: an `int` key and value described by a tiny BTF object.
            let btf = match btf_load(&btf_probe_blob(Probe::Btf)) {
                Ok(btf) => btf,
                Err(e) => return failed(&e.source),
            };
            let attr = MapCreateAttr {
                btf_fd: Some(btf.as_fd()),
                btf_key_type_id: 1,
                btf_value_type_id: 1,
                ..attr
            };
            outcome(map_create(&attr))
        }
        StructOps => match map_create(&attr) {
            Ok(_) => Support::Supported,
            Err(e) if matches!(failed(&e), Support::Unknown { .. }) => failed(&e),
            // struct_ops needs a vmlinux value type id, without which known and unknown
            // types both fail: the program type of the same release decides.
            Err(_) => program_type_support(ProgramType::StructOps),
        },
        _ => outcome(map_create(&attr)),
    }
}

/// `r0 = 0; exit`.
const RETURN_ZERO: [u64; 2] = [0x0000_0000_0000_00b7, 0x0000_0000_0000_0095];

fn probe_prog_type(prog_type: ProgramType) -> Support {
    // Types that need an attach target get BTF id 1 of vmlinux (never a valid target): a
    // kernel that knows the type rejects it in the verifier, with a log; one that does not
    // rejects the type number up front, with no log.
    let needs_target = prog_type.needs_attach_target();
    let attr = ProgLoadAttr {
        prog_type: prog_type.number(),
        insns: &RETURN_ZERO,
        license: c"GPL",
        expected_attach_type: crate::programs::probe_attach_type(prog_type),
        attach_btf_id: u32::from(needs_target),
        // Syscall programs must be sleepable.
        prog_flags: if prog_type == ProgramType::Syscall {
            uapi::BPF_F_SLEEPABLE
        } else {
            0
        },
        ..Default::default()
    };
    match prog_load(&attr) {
        Ok(_) => Support::Supported,
        Err(e) if matches!(failed(&e.source), Support::Unknown { .. }) => failed(&e.source),
        Err(e) => Support::from_bool(needs_target && !e.verifier_log.is_empty()),
    }
}

fn probe_helper(prog_type: ProgramType, helper: u32) -> Support {
    // call helper; r0 = 0; exit
    let call = 0x85u64 | ((helper as u64) << 32);
    let insns = [call, RETURN_ZERO[0], RETURN_ZERO[1]];
    let attr = ProgLoadAttr {
        prog_type: prog_type.number(),
        insns: &insns,
        license: c"GPL",
        expected_attach_type: crate::programs::probe_attach_type(prog_type),
        log_level: 1,
        ..Default::default()
    };
    match prog_load(&attr) {
        Ok(_) => Support::Supported,
        Err(e) if matches!(failed(&e.source), Support::Unknown { .. }) => failed(&e.source),
        Err(e) => {
            let log = &e.verifier_log;
            Support::from_bool(
                !(log.contains("invalid func") || log.contains("unknown func") || log.is_empty()),
            )
        }
    }
}

fn run_probe(probe: Probe) -> Support {
    match probe {
        Probe::MmapableMaps => outcome(map_create(&MapCreateAttr {
            map_type: uapi::BPF_MAP_TYPE_ARRAY,
            key_size: 4,
            value_size: 4,
            max_entries: 1,
            map_flags: uapi::BPF_F_MMAPABLE,
            ..Default::default()
        })),
        Probe::MapFreeze => match map_create(&probe_map_attr(MapType::Array)) {
            Ok(fd) => outcome(sys::map_freeze(fd.as_fd())),
            Err(e) => failed(&e),
        },
        Probe::BatchOps => match map_create(&probe_map_attr(MapType::Hash)) {
            Err(e) => failed(&e),
            Ok(fd) => {
                let mut keys = [0u8; 4];
                let mut values = [0u8; 4];
                let mut out = [0u8; 4];
                // SAFETY: the probe map has 4-byte keys and values (`probe_map_attr`, not
                // per-CPU) and a 4-byte batch token; the buffers hold one element each.
                outcome(unsafe {
                    sys::map_lookup_batch(
                        fd.as_fd(),
                        sys::BatchBuffers {
                            in_batch: None,
                            out_batch: Some(&mut out),
                            keys: &mut keys,
                            values: Some(&mut values),
                            count: 1,
                            elem_flags: 0,
                        },
                    )
                })
            }
        },
        Probe::GlobalData => {
            let map = match map_create(&probe_map_attr(MapType::Array)) {
                Ok(map) => map,
                Err(e) => return failed(&e),
            };
            use std::os::fd::AsRawFd;
            // r1 = map_value(map, 0) (ld_imm64 with BPF_PSEUDO_MAP_VALUE); *(u64 *)(r1 + 0) = 42
            let fd = map.as_raw_fd() as u32 as u64;
            let insns = [
                0x18 | (1 << 8) | ((uapi::BPF_PSEUDO_MAP_VALUE as u64) << 12) | (fd << 32),
                0,
                0x0000_002a_0000_0172, // *(u32 *)(r1 + 0) = 42 (st_mem w)
                RETURN_ZERO[0],
                RETURN_ZERO[1],
            ];
            let loaded = prog_load(&ProgLoadAttr {
                prog_type: uapi::BPF_PROG_TYPE_SOCKET_FILTER,
                insns: &insns,
                license: c"GPL",
                ..Default::default()
            })
            .map_err(|e| e.source);
            outcome(loaded)
        }
        Probe::Btf
        | Probe::BtfFunc
        | Probe::BtfDatasec
        | Probe::BtfFloat
        | Probe::BtfDeclTag
        | Probe::BtfTypeTag
        | Probe::BtfEnum64 => outcome(btf_load(&btf_probe_blob(probe)).map_err(|e| e.source)),
        Probe::BpfCookie => helper_support(ProgramType::Kprobe, uapi::BPF_FUNC_get_attach_cookie),
        Probe::BpfLink => {
            // No program fd: a kernel with the command answers EBADF, one without EINVAL.
            let mut link: uapi::bpf_attr__link_create = sys::zeroed();
            link.prog_fd = u32::MAX;
            // SAFETY: no pointers in this attr.
            ebadf_means_supported(unsafe { sys::link_create(link) })
        }
        // A program of the right type and a target that cannot exist: a kernel that knows
        // the link kind looks the target up and fails (EBADF/ENODEV); one that does not
        // rejects the attach type (EINVAL).
        Probe::PerfEventLink => {
            link_kind_probe(ProgramType::Tracepoint, uapi::BPF_PERF_EVENT, u32::MAX)
        }
        Probe::TcxLink => link_kind_probe(ProgramType::SchedCls, uapi::BPF_TCX_INGRESS, 0),
        Probe::NetkitLink => link_kind_probe(ProgramType::SchedCls, uapi::BPF_NETKIT_PRIMARY, 0),
        Probe::Token => {
            // No bpffs fd: a kernel with the command answers EBADF, one without EINVAL.
            let mut attr: uapi::bpf_attr__token_create = sys::zeroed();
            attr.bpffs_fd = u32::MAX;
            // SAFETY: no pointers in this attr.
            let created = unsafe { sys::bpf(sys::Command::TokenCreate, &mut attr) };
            // A token of no bpffs cannot exist; were one returned, it is closed here.
            let created = created.map(|fd| {
                // SAFETY: a successful BPF_TOKEN_CREATE returns a new fd nothing else owns.
                drop(unsafe { sys::fdtrace::own(fd as i32, "bpf token") })
            });
            ebadf_means_supported(created)
        }
    }
}

/// A command given a bad fd on purpose: EBADF means the kernel has the command (it got as
/// far as the fd), EPERM and the like leave it open, anything else means no.
fn ebadf_means_supported<T>(result: Result<T, sys::SyscallError>) -> Support {
    match result {
        Err(e) if e.errno() == Some(libc::EBADF) => Support::Supported,
        Err(e) => failed(&e),
        Ok(_) => Support::Supported,
    }
}

/// See [`Probe::PerfEventLink`]: load `r0 = 0; exit` of `prog_type`, create a link of
/// `attach_type` to a target that does not exist, and read the errno.
fn link_kind_probe(prog_type: ProgramType, attach_type: u32, target: u32) -> Support {
    let prog = match prog_load(&ProgLoadAttr {
        prog_type: prog_type.number(),
        insns: &RETURN_ZERO,
        license: c"GPL",
        ..Default::default()
    }) {
        Ok((prog, _)) => prog,
        Err(e) => return failed(&e.source),
    };
    let link = sys::link_create_attr(prog.as_fd(), target, attach_type, 0);
    // SAFETY: no pointers in this attr.
    match unsafe { sys::link_create(link) } {
        Ok(_) => Support::Supported,
        // E2BIG: the kernel's `bpf_attr` ends before the fields this link kind uses.
        Err(e)
            if matches!(
                e.errno(),
                Some(libc::EINVAL | libc::EOPNOTSUPP | libc::E2BIG)
            ) =>
        {
            Support::Unsupported
        }
        Err(e) if matches!(failed(&e), Support::Unknown { .. }) => failed(&e),
        Err(_) => Support::Supported,
    }
}

/// A minimal BTF blob exercising one kind (types after an `int`).
fn btf_probe_blob(probe: Probe) -> Vec<u8> {
    const INT: u32 = 1;
    const PTR: u32 = 2;
    const FUNC: u32 = 12;
    const FUNC_PROTO: u32 = 13;
    const VAR: u32 = 14;
    const DATASEC: u32 = 15;
    const FLOAT: u32 = 16;
    const DECL_TAG: u32 = 17;
    const TYPE_TAG: u32 = 18;
    const ENUM64: u32 = 19;
    fn info(kind: u32, vlen: u32) -> u32 {
        (kind << 24) | vlen
    }
    // strings: "\0int\0f\0v\0.data\0tag\0"
    let strings = b"\0int\0f\0v\0.data\0tag\0e\0".to_vec();
    let (s_int, s_f, s_v, s_data, s_tag, s_e) = (1u32, 5u32, 7u32, 9u32, 15u32, 19u32);
    let mut types: Vec<u32> = vec![s_int, info(INT, 0), 4, 32]; // [1] int
    match probe {
        Probe::Btf => {}
        Probe::BtfFunc => {
            types.extend([0, info(FUNC_PROTO, 0), 1]); // [2] int (void)
            types.extend([s_f, info(FUNC, 0), 2]); // [3] f
        }
        Probe::BtfDatasec => {
            types.extend([s_v, info(VAR, 0), 1, 1]); // [2] var v: int, global
            types.extend([s_data, info(DATASEC, 1), 4, 2, 0, 4]); // [3] .data
        }
        Probe::BtfFloat => types.extend([s_f, info(FLOAT, 0), 4]),
        Probe::BtfDeclTag => {
            types.extend([s_v, info(VAR, 0), 1, 1]); // [2] var
            types.extend([s_tag, info(DECL_TAG, 0), 2, u32::MAX]); // [3] tag on var
        }
        Probe::BtfTypeTag => {
            types.extend([s_tag, info(TYPE_TAG, 0), 1]); // [2] tag int
            types.extend([0, info(PTR, 0), 2]); // [3] ptr to tagged int
        }
        Probe::BtfEnum64 => {
            types.extend([s_e, info(ENUM64, 1), 8, s_e, 1, 0]); // [2] enum64 { e = 1 }
        }
        _ => {}
    }
    let type_bytes: Vec<u8> = types.iter().flat_map(|w| w.to_le_bytes()).collect();
    let mut out = Vec::new();
    out.extend(0xeb9fu16.to_le_bytes()); // magic
    out.push(1); // version
    out.push(0); // flags
    out.extend(24u32.to_le_bytes()); // hdr_len
    out.extend(0u32.to_le_bytes()); // type_off
    out.extend((type_bytes.len() as u32).to_le_bytes()); // type_len
    out.extend((type_bytes.len() as u32).to_le_bytes()); // str_off
    out.extend((strings.len() as u32).to_le_bytes()); // str_len
    out.extend(type_bytes);
    out.extend(strings);
    out
}

/// Why an EPERM may have come from `RLIMIT_MEMLOCK`, for the error to say so: `Some` when
/// the limit is finite, [`raise_memlock_after_eperm`] could not raise it, and this kernel
/// may charge BPF memory to it (the helper `bpf_ktime_get_coarse_ns`, which came with memcg
/// accounting in 5.11, is not known to be there).
pub fn memlock_hint() -> Option<String> {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit writes one `rlimit` into `limit`, which is valid and exclusive.
    if unsafe { libc::getrlimit(libc::RLIMIT_MEMLOCK, &mut limit) } != 0
        || limit.rlim_cur == libc::RLIM_INFINITY
        || raise_memlock_after_eperm()
    {
        return None;
    }
    let memcg = helper_support(
        ProgramType::SocketFilter,
        uapi::BPF_FUNC_ktime_get_coarse_ns,
    );
    if memcg == Support::Supported {
        return None;
    }
    Some(format!(
        "RLIMIT_MEMLOCK is {} bytes and could not be raised (that needs CAP_SYS_RESOURCE): \
         this kernel may charge BPF memory to it (no memory-cgroup accounting, which came in \
         5.11); raise it before starting (`ulimit -l unlimited`)",
        limit.rlim_cur
    ))
}

/// Run `create` (a map creation or program load) and, if it fails with EPERM and
/// [`raise_memlock_after_eperm`] raised the limit, once more: kernels before 5.11 charge maps
/// and programs to `RLIMIT_MEMLOCK`, so the EPERM may only have meant the limit was used up.
/// The one place this retry is made, for maps, programs and the probes' own objects.
pub(crate) fn retry_after_memlock<T, E>(
    errno: impl Fn(&E) -> Option<i32>,
    create: impl Fn() -> Result<T, E>,
) -> Result<T, E> {
    match create() {
        Err(e) if errno(&e) == Some(libc::EPERM) && raise_memlock_after_eperm() => create(),
        other => other,
    }
}

/// Raise `RLIMIT_MEMLOCK` to infinity, for kernels before 5.11 that charge BPF memory to it.
///
/// Called only after a map or program creation failed with EPERM; returns whether the limit
/// was raised (it cannot be without `CAP_SYS_RESOURCE`, which is not an error here).
pub fn raise_memlock_after_eperm() -> bool {
    static RAISED: OnceLock<bool> = OnceLock::new();
    *RAISED.get_or_init(|| {
        let limit = libc::rlimit {
            rlim_cur: libc::RLIM_INFINITY,
            rlim_max: libc::RLIM_INFINITY,
        };
        // SAFETY: setrlimit reads a valid, initialised `rlimit`.
        let ok = unsafe { libc::setrlimit(libc::RLIMIT_MEMLOCK, &limit) } == 0;
        if !ok {
            log::debug!(
                "RLIMIT_MEMLOCK could not be raised: {}",
                std::io::Error::last_os_error()
            );
        }
        ok
    })
}
