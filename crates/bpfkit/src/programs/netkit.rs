//! Programs on a netkit device (`SEC("netkit/primary")`, `SEC("netkit/peer")`,
//! `BPF_PROG_TYPE_SCHED_CLS`; Linux 6.7 with `CONFIG_NETKIT`): a netkit link on the
//! primary device, running for traffic the primary (`NetkitSide::Primary`) or the peer
//! (`NetkitSide::Peer`) transmits, ordered like tcx (each device runs its own list in its
//! transmit path; `vm_netkit` checks both directions on Linux 6.12). The program returns `NETKIT_NEXT` (-1),
//! `NETKIT_PASS` (0), `NETKIT_DROP` (2) or `NETKIT_REDIRECT` (7). The link detaches on drop
//! and can be pinned.

use bpfkit_obj::object::AttachType;

use crate::links::Link;
use crate::loader::Program;
use crate::sys::net::{self as sysnet, HookQuery};

use super::perf_attach::expect_type;
use super::tc::TcOrder;
use super::{AttachError, Interface, ProgramType, QueryError};

/// Which of the pair's hooks, both attached through the primary device.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NetkitSide {
    /// `BPF_NETKIT_PRIMARY`: traffic the primary transmits (towards the peer).
    Primary,
    /// `BPF_NETKIT_PEER`: traffic the peer transmits (the container's egress).
    Peer,
}

impl NetkitSide {
    /// The attach type.
    pub fn attach_type(self) -> AttachType {
        match self {
            Self::Primary => AttachType::NetkitPrimary,
            Self::Peer => AttachType::NetkitPeer,
        }
    }
}

/// Options of [`attach`].
#[derive(Debug, Clone, Copy, Default)]
pub struct NetkitOptions<'a> {
    /// The place in the hook's program list, as for tcx.
    pub order: TcOrder<'a>,
    /// Attach only if the hook's revision is this one (ESTALE otherwise); 0 for any.
    pub expected_revision: u64,
}

/// Attach a program to the netkit pair whose primary device is `primary`.
#[doc(alias = "BPF_NETKIT_PRIMARY")]
#[doc(alias = "BPF_NETKIT_PEER")]
pub fn attach<'a>(
    program: &Program,
    primary: impl Into<Interface<'a>>,
    side: NetkitSide,
    options: &NetkitOptions<'_>,
) -> Result<Link, AttachError> {
    expect_type(program, &[ProgramType::SchedCls], "a SCHED_CLS program")?;
    let name = program.name();
    let primary = primary.into();
    let ifindex = primary.resolve(name)?;
    let (flags, relative) = options.order.flags_and_relative();
    sysnet::link_create_relative(
        program.fd(),
        ifindex,
        side.attach_type() as u32,
        flags,
        relative,
        options.expected_revision,
    )
    .map(Link::bpf)
    .map_err(|source| AttachError::Syscall {
        requires: (source.errno() == Some(libc::EINVAL))
            .then_some(crate::features::Feature::new("netkit links", "6.7")),
        program: name.to_owned(),
        operation: format!(
            "BPF_LINK_CREATE {} on {primary}",
            side.attach_type().kernel_name()
        ),
        hint: match source.errno() {
            Some(libc::EINVAL) => Some("or the device is no netkit primary"),
            Some(libc::ESTALE) => Some("the hook's revision is not the expected one"),
            _ => None,
        },
        source,
    })
}

/// The programs on one netkit hook, in run order, with their links and the revision.
pub fn query<'a>(
    primary: impl Into<Interface<'a>>,
    side: NetkitSide,
) -> Result<HookQuery, QueryError> {
    let primary = primary.into();
    let ifindex = primary.resolve_for_query()?;
    sysnet::prog_query_hook(ifindex, side.attach_type() as u32, 0).map_err(|source| {
        QueryError::Syscall {
            interface: primary.to_string(),
            source,
        }
    })
}
