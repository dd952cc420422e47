//! cgroup programs on a cgroup v2 directory: `cgroup_skb/ingress|egress`, `cgroup/sock_create`
//! and the other socket hooks, `cgroup/connect4` and every sock_addr hook, `cgroup/getsockopt`
//! and `setsockopt`, `cgroup/sysctl`, `cgroup/dev`, `sockops`. A cgroup link
//! (`BPF_LINK_CREATE`, Linux 5.7) by default, or `BPF_PROG_ATTACH` with the multi/override
//! flags; both detach on drop, links can be pinned.
//!
//! The attach type is the one the section names (`cgroup/connect4` is
//! `BPF_CGROUP_INET4_CONNECT`); sections that name none (`cgroup/skb`) take it from
//! [`CgroupOptions::attach_type`].

use std::os::fd::{AsFd, AsRawFd, BorrowedFd};
use std::path::Path;

use bpfkit_obj::object::AttachType;

use crate::links::Link;
use crate::loader::Program;
use crate::sys::{self, net as sysnet, uapi};

use super::perf_attach::expect_type;
use super::{prog_attach, AttachError, ProgramType, ProgramTypeExt};

pub use crate::sys::net::HookQuery;

/// How the program is attached.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum CgroupAttachMethod {
    /// A cgroup bpf link (Linux 5.7): runs with other programs of the hook as with
    /// `BPF_F_ALLOW_MULTI`; can be pinned.
    #[default]
    Link,
    /// `BPF_PROG_ATTACH` with [`CgroupOptions::flags`].
    ProgAttach,
}

/// `BPF_PROG_ATTACH` flags of a cgroup attach.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum CgroupAttachFlags {
    /// None: the only program of this hook in the cgroup; descendants cannot attach their
    /// own.
    #[default]
    Exclusive,
    /// `BPF_F_ALLOW_OVERRIDE`: a descendant's program replaces this one for its subtree.
    AllowOverride,
    /// `BPF_F_ALLOW_MULTI`: several programs per cgroup, all of them and the ancestors' run.
    AllowMulti,
}

impl CgroupAttachFlags {
    /// The `BPF_F_*` bits.
    pub fn bits(self) -> u32 {
        match self {
            Self::Exclusive => 0,
            Self::AllowOverride => uapi::BPF_F_ALLOW_OVERRIDE,
            Self::AllowMulti => uapi::BPF_F_ALLOW_MULTI,
        }
    }
}

/// Options of [`attach`].
#[derive(Debug, Clone, Copy, Default)]
pub struct CgroupOptions {
    /// Link or `BPF_PROG_ATTACH`.
    pub method: CgroupAttachMethod,
    /// `BPF_PROG_ATTACH` only: exclusive, override or multi.
    pub flags: CgroupAttachFlags,
    /// The hook, where the section does not name it (`cgroup/skb`) or to override it.
    pub attach_type: Option<AttachType>,
}

/// The program types a cgroup attach takes.
const CGROUP_TYPES: &[ProgramType] = &[
    ProgramType::CgroupSkb,
    ProgramType::CgroupSock,
    ProgramType::CgroupSockAddr,
    ProgramType::CgroupSockopt,
    ProgramType::CgroupSysctl,
    ProgramType::CgroupDevice,
    ProgramType::SockOps,
];

/// Whether `program` is an `lsm_cgroup/<hook>` program (`BPF_PROG_TYPE_LSM` loaded with
/// `BPF_LSM_CGROUP`).
pub(crate) fn is_lsm_cgroup(program: &Program) -> bool {
    program.section().program_type as u32 == ProgramType::Lsm.number()
        && program.section().expected_attach_type == Some(AttachType::LsmCgroup)
}

/// Attach a cgroup program to the cgroup open as `cgroup` (a directory fd of cgroup v2).
/// `lsm_cgroup/<hook>` programs attach here too: their hook is the BTF id they were loaded
/// with.
///
/// ```no_run
/// # let object = bpfkit::loader::Loader::new().load_file("cg.bpf.o")?;
/// use bpfkit::programs::cgroup::{self, CgroupOptions};
/// let dir = std::fs::File::open("/sys/fs/cgroup/app")?;
/// let link = cgroup::attach(object.program("deny_connect").unwrap(), &dir, &CgroupOptions::default())?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[doc(alias = "BPF_PROG_TYPE_CGROUP_SKB")]
#[doc(alias = "BPF_PROG_TYPE_CGROUP_SOCK")]
#[doc(alias = "BPF_PROG_TYPE_CGROUP_SOCK_ADDR")]
#[doc(alias = "BPF_PROG_TYPE_CGROUP_SOCKOPT")]
#[doc(alias = "BPF_PROG_TYPE_CGROUP_SYSCTL")]
#[doc(alias = "BPF_PROG_TYPE_CGROUP_DEVICE")]
#[doc(alias = "BPF_PROG_TYPE_SOCK_OPS")]
pub fn attach(
    program: &Program,
    cgroup: impl AsFd,
    options: &CgroupOptions,
) -> Result<Link, AttachError> {
    attach_fd(program, cgroup.as_fd(), options, "cgroup")
}

/// [`attach`] to the cgroup directory at `path` (opened for the attach and closed after).
pub fn attach_path(
    program: &Program,
    path: impl AsRef<Path>,
    options: &CgroupOptions,
) -> Result<Link, AttachError> {
    let path = path.as_ref();
    let dir = crate::sys::fdtrace::open_read(path, "cgroup directory").map_err(|e| {
        AttachError::target(
            program.name(),
            &path.display().to_string(),
            format!("open: {e}"),
        )
    })?;
    attach_fd(program, dir.as_fd(), options, &path.display().to_string())
}

pub(super) fn attach_fd(
    program: &Program,
    cgroup: BorrowedFd<'_>,
    options: &CgroupOptions,
    what: &str,
) -> Result<Link, AttachError> {
    if !is_lsm_cgroup(program) {
        expect_type(program, CGROUP_TYPES, "a cgroup program")?;
    }
    let name = program.name();
    let attach_type = options
        .attach_type
        .or(program.section().expected_attach_type)
        .ok_or_else(|| {
            AttachError::target(
                name,
                what,
                format!(
                    "section '{}' names no cgroup hook: set CgroupOptions::attach_type",
                    program.section().name
                ),
            )
        })?;
    let hook = attach_type.kernel_name();
    match options.method {
        CgroupAttachMethod::Link => {
            let attr = sys::link_create_attr(
                program.fd(),
                cgroup.as_raw_fd() as u32,
                attach_type as u32,
                0,
            );
            // SAFETY: no pointers in a cgroup link_create.
            unsafe { sys::link_create(attr) }
                .map(Link::bpf)
                .map_err(|source| AttachError::Syscall {
                    requires: None,
                    program: name.to_owned(),
                    operation: format!("BPF_LINK_CREATE {hook} on {what}"),
                    hint: match source.errno() {
                        Some(libc::EBADF) | Some(libc::ENOTDIR) => {
                            Some("the target is not a cgroup v2 directory")
                        }
                        Some(libc::EPERM) if attach_type == AttachType::LsmCgroup => Some(
                            "lsm_cgroup needs BPF trampolines (kernel 6.0+, ftrace not locked down)",
                        ),
                        Some(libc::EPERM) => {
                            Some("a program attached without BPF_F_ALLOW_MULTI holds this hook")
                        }
                        _ => None,
                    },
                    source,
                })
        }
        CgroupAttachMethod::ProgAttach => prog_attach::attach(
            program,
            cgroup,
            attach_type as u32,
            options.flags.bits(),
            None,
            &format!("{hook} of {what}"),
        ),
    }
}

/// The programs attached to `cgroup` at `attach_type` (`BPF_PROG_QUERY`); with `effective`,
/// those that run there, inherited ones included (`BPF_F_QUERY_EFFECTIVE`).
pub fn query(
    cgroup: impl AsFd,
    attach_type: AttachType,
    effective: bool,
) -> Result<HookQuery, sys::SyscallError> {
    let flags = if effective {
        uapi::BPF_F_QUERY_EFFECTIVE
    } else {
        0
    };
    sysnet::prog_query_hook(cgroup.as_fd().as_raw_fd() as u32, attach_type as u32, flags)
}
