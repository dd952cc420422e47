//! tc programs (`SEC("tc")`, `SEC("tcx/ingress")`, `SEC("classifier")`,
//! `BPF_PROG_TYPE_SCHED_CLS`) on an interface's ingress or egress: a tcx link (Linux 6.6,
//! `BPF_TCX_INGRESS`/`EGRESS`) placed before or after other programs, or, where tcx is
//! missing (or [`TcAttachMethod::Netlink`] asks), a `cls_bpf` filter in direct-action mode
//! on a `clsact` qdisc made by rtnetlink, with a priority and handle.
//!
//! Both detach on drop (the netlink way also removes the `clsact` qdisc if it made it and no
//! filter is left); tcx links can be pinned. [`query`] lists what is attached either way.

use std::os::fd::{AsFd, AsRawFd, BorrowedFd};

use bpfkit_obj::object::AttachType;

use crate::features::{self, Probe};
use crate::info::ProgramInfo;
use crate::links::{Attachment, Link, LinkError};
use crate::loader::Program;
use crate::sys::net::{self as sysnet, HookQuery};
use crate::sys::netlink::{self, RouteSocket, TcFilter, TcFilterId};
use crate::sys::uapi;

use super::perf_attach::expect_type;
use super::{AttachError, Interface, ProgramType, QueryError};

/// Ingress or egress of an interface.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TcHook {
    /// Packets the interface receives.
    Ingress,
    /// Packets the interface sends.
    Egress,
}

impl TcHook {
    /// `BPF_TCX_INGRESS` or `BPF_TCX_EGRESS`.
    pub fn tcx_attach_type(self) -> AttachType {
        match self {
            Self::Ingress => AttachType::TcxIngress,
            Self::Egress => AttachType::TcxEgress,
        }
    }

    /// The clsact parent (`ffff:fff2` ingress, `ffff:fff3` egress).
    pub fn clsact_parent(self) -> u32 {
        match self {
            Self::Ingress => netlink::TC_PARENT_INGRESS,
            Self::Egress => netlink::TC_PARENT_EGRESS,
        }
    }

    fn name(self) -> &'static str {
        match self {
            Self::Ingress => "ingress",
            Self::Egress => "egress",
        }
    }
}

/// How the program is attached.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum TcAttachMethod {
    /// tcx; a netlink `cls_bpf` filter if the kernel has no tcx (EINVAL, before 6.6).
    #[default]
    Auto,
    /// tcx only.
    Tcx,
    /// A netlink `cls_bpf` filter only, as `tc filter add ... bpf da` makes.
    Netlink,
}

/// A program or link other tcx attachments are placed relative to.
#[derive(Debug, Clone, Copy)]
pub enum TcAnchor<'a> {
    /// A program, by fd.
    Program(BorrowedFd<'a>),
    /// A program, by id.
    ProgramId(u32),
    /// A link, by fd.
    Link(BorrowedFd<'a>),
    /// A link, by id.
    LinkId(u32),
}

/// Where in a tcx hook's list the program goes.
#[derive(Debug, Clone, Copy, Default)]
pub enum TcOrder<'a> {
    /// After every program attached (the kernel's default).
    #[default]
    Last,
    /// Before every program attached (`BPF_F_BEFORE` with no anchor).
    First,
    /// Right before the anchor (`BPF_F_BEFORE`).
    Before(TcAnchor<'a>),
    /// Right after the anchor (`BPF_F_AFTER`).
    After(TcAnchor<'a>),
}

impl TcOrder<'_> {
    /// `BPF_F_BEFORE`/`AFTER`/`ID`/`LINK` flags and the relative fd or id.
    pub(crate) fn flags_and_relative(&self) -> (u32, u32) {
        let anchor = |a: &TcAnchor<'_>| match *a {
            TcAnchor::Program(fd) => (0, fd.as_raw_fd() as u32),
            TcAnchor::ProgramId(id) => (uapi::BPF_F_ID, id),
            TcAnchor::Link(fd) => (uapi::BPF_F_LINK, fd.as_raw_fd() as u32),
            TcAnchor::LinkId(id) => (uapi::BPF_F_LINK | uapi::BPF_F_ID, id),
        };
        match self {
            Self::Last => (0, 0),
            Self::First => (uapi::BPF_F_BEFORE, 0),
            Self::Before(a) => {
                let (f, r) = anchor(a);
                (uapi::BPF_F_BEFORE | f, r)
            }
            Self::After(a) => {
                let (f, r) = anchor(a);
                (uapi::BPF_F_AFTER | f, r)
            }
        }
    }
}

/// Options of [`attach`].
#[derive(Debug, Clone, Copy)]
pub struct TcOptions<'a> {
    /// tcx or netlink.
    pub method: TcAttachMethod,
    /// tcx: the place in the hook's program list.
    pub order: TcOrder<'a>,
    /// tcx: attach only if the hook's revision is this one (ESTALE otherwise); 0 for any.
    pub expected_revision: u64,
    /// netlink: the filter priority; 0 lets the kernel choose.
    pub priority: u16,
    /// netlink: the filter handle; 0 lets the kernel choose.
    pub handle: u32,
    /// netlink: the program's return value is the tc action (`da`); default true.
    pub direct_action: bool,
    /// netlink: replace a filter with the same priority and handle instead of EEXIST.
    pub replace: bool,
}

impl Default for TcOptions<'_> {
    fn default() -> Self {
        Self {
            method: TcAttachMethod::Auto,
            order: TcOrder::Last,
            expected_revision: 0,
            priority: 0,
            handle: 0,
            direct_action: true,
            replace: false,
        }
    }
}

/// Attach a tc program to `interface`'s `hook`.
///
/// ```no_run
/// # let object = bpfkit::loader::Loader::new().load_file("tc.bpf.o")?;
/// use bpfkit::programs::tc::{self, TcHook, TcOptions};
/// let link = tc::attach(object.program("count").unwrap(), "eth0", TcHook::Ingress, &TcOptions::default())?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[doc(alias = "BPF_PROG_TYPE_SCHED_CLS")]
#[doc(alias = "tcx")]
#[doc(alias = "cls_bpf")]
pub fn attach<'a>(
    program: &Program,
    interface: impl Into<Interface<'a>>,
    hook: TcHook,
    options: &TcOptions<'_>,
) -> Result<Link, AttachError> {
    expect_type(
        program,
        &[ProgramType::SchedCls],
        "a SCHED_CLS (tc) program",
    )?;
    let interface = interface.into();
    let name = program.name();
    let ifindex = interface.resolve(name)?;
    if options.method != TcAttachMethod::Netlink {
        let (flags, relative) = options.order.flags_and_relative();
        match sysnet::link_create_relative(
            program.fd(),
            ifindex,
            hook.tcx_attach_type() as u32,
            flags,
            relative,
            options.expected_revision,
        ) {
            Ok(fd) => return Ok(Link::bpf(fd)),
            Err(e) if options.method == TcAttachMethod::Auto && e.errno() == Some(libc::EINVAL) => {
                log::debug!("program '{name}': no tcx on {interface} ({e}); trying cls_bpf");
                // On a kernel without tcx (before 6.6) the netlink filter is the attachment:
                // its own error says what went wrong. With tcx, EINVAL was tcx's answer.
                let tcx = features::support(Probe::TcxLink);
                return attach_netlink(program, &interface, ifindex, hook, options).map_err(
                    |netlink| {
                        if tcx == features::Support::Unsupported {
                            netlink
                        } else {
                            tcx_error(name, &interface, hook, e)
                        }
                    },
                );
            }
            Err(e) => return Err(tcx_error(name, &interface, hook, e)),
        }
    }
    attach_netlink(program, &interface, ifindex, hook, options)
}

fn tcx_error(
    program: &str,
    interface: &Interface<'_>,
    hook: TcHook,
    source: crate::sys::SyscallError,
) -> AttachError {
    let hint = match source.errno() {
        Some(libc::ESTALE) => Some("the hook's revision is not the expected one"),
        Some(libc::ENOENT) => Some("the anchor program or link is not attached to this hook"),
        Some(libc::EEXIST) => Some("the program is already attached to this hook"),
        _ => None,
    };
    AttachError::Syscall {
        requires: None,
        program: program.to_owned(),
        operation: format!("BPF_LINK_CREATE tcx {} on {interface}", hook.name()),
        source,
        hint,
    }
}

fn attach_netlink(
    program: &Program,
    interface: &Interface<'_>,
    ifindex: u32,
    hook: TcHook,
    options: &TcOptions<'_>,
) -> Result<Link, AttachError> {
    let name = program.name();
    // The request, errno and the kernel's extended-ack message stay in the error's source.
    let fail = |operation: &'static str, source: netlink::NetlinkError| AttachError::Netlink {
        program: name.to_owned(),
        target: interface.to_string(),
        operation,
        source,
    };
    let socket = RouteSocket::open().map_err(|e| fail("open a netlink socket", e))?;
    let created_qdisc = socket
        .clsact_create(ifindex)
        .map_err(|e| fail("add clsact qdisc", e))?;
    let id = TcFilterId {
        ifindex,
        parent: hook.clsact_parent(),
        priority: options.priority,
        handle: options.handle,
    };
    let made = socket.tc_filter_create(
        id,
        program.fd().as_raw_fd(),
        &filter_name(program),
        options.direct_action,
        options.replace,
    );
    let id = match made {
        Ok(id) => id,
        Err(e) => {
            if created_qdisc {
                let _ = socket.clsact_destroy(ifindex);
            }
            return Err(fail("add cls_bpf filter", e));
        }
    };
    Ok(Link::attachment(TcNetlink {
        socket,
        id,
        name: filter_name(program),
        direct_action: options.direct_action,
        created_qdisc,
    }))
}

/// The filter name tc shows: `<program>` (libbpf and iproute2 use the object file name).
fn filter_name(program: &Program) -> String {
    program.name().to_owned()
}

/// What is attached to one hook of an interface.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TcQuery {
    /// tcx programs in run order, their links and the hook's revision (empty where the
    /// kernel has no tcx).
    pub tcx: HookQuery,
    /// Filters on the clsact qdisc (`cls_bpf` and others), run after the tcx programs.
    pub filters: Vec<TcFilter>,
}

/// The programs on `interface`'s `hook`: tcx (`BPF_PROG_QUERY`) and `cls_bpf` filters
/// (`RTM_GETTFILTER`).
pub fn query<'a>(interface: impl Into<Interface<'a>>, hook: TcHook) -> Result<TcQuery, QueryError> {
    let interface = interface.into();
    let ifindex = interface.resolve_for_query()?;
    let tcx = match sysnet::prog_query_hook(ifindex, hook.tcx_attach_type() as u32, 0) {
        Ok(q) => q,
        // No tcx in this kernel (before 6.6): nothing can be attached that way.
        Err(e) if e.errno() == Some(libc::EINVAL) => HookQuery::default(),
        Err(source) => {
            return Err(QueryError::Syscall {
                interface: interface.to_string(),
                source,
            })
        }
    };
    let filters = RouteSocket::open()
        .and_then(|s| s.tc_filter_list(ifindex, hook.clsact_parent()))
        .map_err(|source| QueryError::Netlink {
            interface: interface.to_string(),
            source,
        })?;
    Ok(TcQuery { tcx, filters })
}

/// A `cls_bpf` filter made by netlink; deleted on drop, with the qdisc if this made it and
/// nothing else is on it.
#[derive(Debug)]
struct TcNetlink {
    /// Opened in the interface's network namespace.
    socket: RouteSocket,
    id: TcFilterId,
    name: String,
    direct_action: bool,
    created_qdisc: bool,
}

impl Attachment for TcNetlink {
    fn kind(&self) -> &'static str {
        "tc_netlink"
    }

    fn update_program(
        &self,
        new_program: BorrowedFd<'_>,
        expected_old: Option<BorrowedFd<'_>>,
    ) -> Result<(), LinkError> {
        let netlink_error = |source| LinkError::Netlink {
            operation: "update program",
            source,
        };
        if let Some(expected) = expected_old {
            let expected_id = ProgramInfo::from_fd(expected)
                .map_err(|source| LinkError::Syscall {
                    operation: "update program",
                    source,
                })?
                .id;
            let filters = self
                .socket
                .tc_filter_list(self.id.ifindex, self.id.parent)
                .map_err(netlink_error)?;
            let current = filters.iter().find(|f| f.id == self.id).map(|f| f.prog_id);
            if current != Some(expected_id) {
                return Err(LinkError::Syscall {
                    operation: "update program",
                    source: crate::sys::SyscallError {
                        call: "RTM_NEWTFILTER (expected program not attached)",
                        io_error: std::io::Error::from_raw_os_error(libc::EPERM),
                    },
                });
            }
        }
        self.socket
            .tc_filter_create(
                self.id,
                new_program.as_fd().as_raw_fd(),
                &self.name,
                self.direct_action,
                true,
            )
            .map(drop)
            .map_err(netlink_error)
    }
}

impl Drop for TcNetlink {
    fn drop(&mut self) {
        if let Err(e) = self.socket.tc_filter_destroy(self.id) {
            log::warn!("deleting cls_bpf filter {:?}: {e}", self.id);
        }
        if !self.created_qdisc {
            return;
        }
        let empty = [netlink::TC_PARENT_INGRESS, netlink::TC_PARENT_EGRESS]
            .iter()
            .all(|&parent| {
                self.socket
                    .tc_filter_list(self.id.ifindex, parent)
                    .is_ok_and(|f| f.is_empty())
            });
        if empty {
            if let Err(e) = self.socket.clsact_destroy(self.id.ifindex) {
                log::debug!("deleting clsact qdisc of ifindex {}: {e}", self.id.ifindex);
            }
        }
    }
}
