//! Netfilter programs (`SEC("netfilter")`, `BPF_PROG_TYPE_NETFILTER`, Linux 6.4 with
//! `CONFIG_NETFILTER_BPF_LINK`): a netfilter link on one hook of one protocol family in the
//! calling thread's network namespace, at a priority, optionally with IP defragmentation
//! first (Linux 6.6). The program returns `NF_ACCEPT` or `NF_DROP`. The link detaches on
//! drop and can be pinned.

use crate::links::Link;
use crate::loader::Program;
use crate::sys::net as sysnet;
use crate::sys::uapi;

use super::perf_attach::expect_type;
use super::{AttachError, ProgramType};

/// The protocol family (`NFPROTO_*`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum NetfilterFamily {
    /// `NFPROTO_IPV4`.
    #[default]
    Ipv4,
    /// `NFPROTO_IPV6`.
    Ipv6,
}

impl NetfilterFamily {
    /// The `NFPROTO_*` number.
    pub fn number(self) -> u32 {
        match self {
            Self::Ipv4 => 2,
            Self::Ipv6 => 10,
        }
    }
}

/// The hook (`enum nf_inet_hooks`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum NetfilterHook {
    /// `NF_INET_PRE_ROUTING`: every packet received, before routing.
    PreRouting,
    /// `NF_INET_LOCAL_IN`: packets for this host.
    #[default]
    LocalIn,
    /// `NF_INET_FORWARD`: packets routed through.
    Forward,
    /// `NF_INET_LOCAL_OUT`: packets this host sends.
    LocalOut,
    /// `NF_INET_POST_ROUTING`: every packet sent, after routing.
    PostRouting,
}

impl NetfilterHook {
    /// The `NF_INET_*` number.
    pub fn number(self) -> u32 {
        self as u32
    }
}

/// Options of [`attach`].
#[derive(Debug, Clone, Copy, Default)]
pub struct NetfilterOptions {
    /// IPv4 or IPv6.
    pub family: NetfilterFamily,
    /// Where in the packet path.
    pub hook: NetfilterHook,
    /// Order among the hook's functions (lower runs first; conntrack is -200). The kernel
    /// refuses `i32::MIN` and `i32::MAX` (reserved), and with `defrag`, priorities at or
    /// below defragmentation's (-400).
    pub priority: i32,
    /// `BPF_F_NETFILTER_IP_DEFRAG` (Linux 6.6): reassemble fragments before the program.
    pub defrag: bool,
}

/// Attach a netfilter program in the calling thread's network namespace.
///
/// ```no_run
/// # let object = bpfkit::loader::Loader::new().load_file("nf.bpf.o")?;
/// use bpfkit::programs::netfilter::{self, NetfilterHook, NetfilterOptions};
/// let options = NetfilterOptions { hook: NetfilterHook::LocalIn, priority: -100, ..Default::default() };
/// let link = netfilter::attach(object.program("count").unwrap(), &options)?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[doc(alias = "BPF_PROG_TYPE_NETFILTER")]
#[doc(alias = "BPF_NETFILTER")]
pub fn attach(program: &Program, options: &NetfilterOptions) -> Result<Link, AttachError> {
    expect_type(program, &[ProgramType::Netfilter], "a NETFILTER program")?;
    let flags = if options.defrag {
        uapi::BPF_F_NETFILTER_IP_DEFRAG
    } else {
        0
    };
    sysnet::link_create_netfilter(
        program.fd(),
        options.family.number(),
        options.hook.number(),
        options.priority,
        flags,
    )
    .map(Link::bpf)
    .map_err(|source| AttachError::Syscall {
        program: program.name().to_owned(),
        operation: format!(
            "BPF_LINK_CREATE netfilter {:?} {:?} priority {}{}",
            options.family,
            options.hook,
            options.priority,
            if options.defrag { " defrag" } else { "" }
        ),
        requires: match source.errno() {
            Some(libc::EOPNOTSUPP) if options.defrag => Some(crate::features::Feature::new(
                "netfilter links with defragmentation",
                "6.6",
            )),
            Some(libc::EOPNOTSUPP) => Some(crate::features::Feature::new(
                "netfilter links (CONFIG_NETFILTER_BPF_LINK)",
                "6.4",
            )),
            _ => None,
        },
        hint: match source.errno() {
            Some(libc::EOPNOTSUPP) => Some("or CONFIG_NETFILTER_BPF_LINK is off"),
            Some(libc::ERANGE) => Some("the priority is reserved or not above defragmentation's"),
            Some(libc::EINVAL) => Some("bad family, hook or priority"),
            _ => None,
        },
        source,
    })
}
