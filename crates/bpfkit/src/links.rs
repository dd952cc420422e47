//! Links: an attached program. Dropping a [`Link`] detaches it unless it was pinned.
//!
//! A link is one of: a kernel bpf link (`BPF_LINK_CREATE`, `BPF_RAW_TRACEPOINT_OPEN`, a perf
//! link over a perf event), a perf event with a program set by ioctl (kernels before bpf perf
//! links), a socket filter, a group of links attached together (per-CPU perf events, USDT
//! call sites), or an attachment made without a bpf link (rtnetlink XDP/tc/LWT routes,
//! `BPF_PROG_ATTACH` to a cgroup or socket map, a reuseport program), which its `Drop`
//! undoes. Dynamic tracefs events made for the link are removed after its fds close.

use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::path::Path;

use crate::info::LinkInfo;
use crate::pin::{self, PinError};
use crate::sys::{self, SyscallError};

/// Errors of link operations. Each names the operation.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LinkError {
    /// The kernel refused.
    #[error("link {operation}")]
    Syscall {
        /// What was being done (`update program`, `info`, ...).
        operation: &'static str,
        /// The call and errno.
        #[source]
        source: SyscallError,
    },
    /// Pinning or opening a pin failed.
    #[error(transparent)]
    Pin(#[from] PinError),
    /// Reading from a link's fd (an iterator) failed.
    #[error("link {operation}")]
    Read {
        /// The operation.
        operation: &'static str,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// Duplicating a program fd to keep with an attachment failed.
    #[error("link {operation}: duplicating a program fd")]
    DuplicateFd {
        /// The operation.
        operation: &'static str,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// An rtnetlink request of a netlink XDP/tc attachment failed.
    #[error("link {operation}")]
    Netlink {
        /// The operation.
        operation: &'static str,
        /// The request, errno and the kernel's message.
        #[source]
        source: crate::sys::netlink::NetlinkError,
    },
    /// The link has no kernel bpf link fd to do this with.
    #[error("link {operation}: a {kind} link has no bpf link fd (only bpf links can do this)")]
    NotABpfLink {
        /// The operation.
        operation: &'static str,
        /// What the link is instead.
        kind: &'static str,
    },
}

/// A dynamic kprobe/uprobe event made in tracefs for a legacy attach; removed on drop.
#[derive(Debug)]
pub(crate) struct DynamicEvent {
    /// `kprobe_events` or `uprobe_events`.
    pub(crate) control: &'static str,
    /// `group/name`.
    pub(crate) name: String,
}

impl Drop for DynamicEvent {
    fn drop(&mut self) {
        if let Err(e) = sys::tracefs::write_control(self.control, &format!("-:{}\n", self.name)) {
            log::warn!("removing tracefs event {}: {e}", self.name);
        }
    }
}

#[derive(Debug)]
enum Inner {
    /// A kernel bpf link; `event` is the perf event it is attached to, if any.
    Bpf {
        fd: OwnedFd,
        event: Option<OwnedFd>,
        #[allow(dead_code)] // held for its Drop
        dynamic: Option<DynamicEvent>,
    },
    /// A perf event with the program set by `PERF_EVENT_IOC_SET_BPF`.
    PerfEvent {
        event: OwnedFd,
        #[allow(dead_code)] // held for its Drop
        dynamic: Option<DynamicEvent>,
    },
    /// A socket filter on (a duplicate of) the socket.
    SocketFilter { socket: OwnedFd },
    /// Several links made by one attach.
    Group(Vec<Link>),
    /// An attachment that is not a bpf link (netlink XDP/tc, `BPF_PROG_ATTACH`); it
    /// detaches itself when dropped.
    Attachment(Box<dyn Attachment>),
}

/// An attachment other than a kernel bpf link: its `Drop` detaches it.
pub(crate) trait Attachment: std::fmt::Debug + Send + Sync {
    /// What it is (`xdp_netlink`, `tc_netlink`, `prog_attach`).
    fn kind(&self) -> &'static str;

    /// Run `new_program` in its place (only while it runs `expected_old`, when given).
    fn update_program(
        &self,
        new_program: BorrowedFd<'_>,
        expected_old: Option<BorrowedFd<'_>>,
    ) -> Result<(), LinkError>;
}

/// An attached program. Dropping it detaches the program (a pinned bpf link stays attached
/// until its pin is removed).
///
/// ```no_run
/// # let object = bpfkit::loader::Loader::new().load_file("opensnoop.bpf.o")?;
/// let program = object.program("tracepoint__syscalls__sys_enter_openat").unwrap();
/// let link = bpfkit::programs::tracepoint::attach(program, "syscalls", "sys_enter_openat")?;
/// println!("link id {}", link.info()?.id);
/// drop(link); // detached
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug)]
pub struct Link {
    inner: Inner,
}

impl Link {
    pub(crate) fn bpf(fd: OwnedFd) -> Self {
        Self {
            inner: Inner::Bpf {
                fd,
                event: None,
                dynamic: None,
            },
        }
    }

    pub(crate) fn perf_link(fd: OwnedFd, event: OwnedFd, dynamic: Option<DynamicEvent>) -> Self {
        Self {
            inner: Inner::Bpf {
                fd,
                event: Some(event),
                dynamic,
            },
        }
    }

    pub(crate) fn perf_ioctl(event: OwnedFd, dynamic: Option<DynamicEvent>) -> Self {
        Self {
            inner: Inner::PerfEvent { event, dynamic },
        }
    }

    pub(crate) fn socket_filter(socket: OwnedFd) -> Self {
        Self {
            inner: Inner::SocketFilter { socket },
        }
    }

    pub(crate) fn attachment(attachment: impl Attachment + 'static) -> Self {
        Self {
            inner: Inner::Attachment(Box::new(attachment)),
        }
    }

    pub(crate) fn group(links: Vec<Link>) -> Self {
        Self {
            inner: Inner::Group(links),
        }
    }

    /// What kind of link this is: `bpf`, `perf_event` (ioctl), `socket_filter`, `group`, or
    /// an attachment without a bpf link: `xdp_netlink`, `tc_netlink`, `prog_attach`.
    pub fn kind(&self) -> &'static str {
        match &self.inner {
            Inner::Bpf { .. } => "bpf",
            Inner::PerfEvent { .. } => "perf_event",
            Inner::SocketFilter { .. } => "socket_filter",
            Inner::Group(_) => "group",
            Inner::Attachment(a) => a.kind(),
        }
    }

    /// The kernel bpf link fd, if this is a bpf link.
    pub fn fd(&self) -> Option<BorrowedFd<'_>> {
        match &self.inner {
            Inner::Bpf { fd, .. } => Some(fd.as_fd()),
            _ => None,
        }
    }

    /// The perf event fd the program is attached to, if any.
    pub fn perf_event_fd(&self) -> Option<BorrowedFd<'_>> {
        match &self.inner {
            Inner::Bpf { event, .. } => event.as_ref().map(|e| e.as_fd()),
            Inner::PerfEvent { event, .. } => Some(event.as_fd()),
            _ => None,
        }
    }

    /// The links of a group (per-CPU perf events, USDT call sites); empty for other kinds.
    pub fn members(&self) -> &[Link] {
        match &self.inner {
            Inner::Group(links) => links,
            _ => &[],
        }
    }

    fn bpf_fd(&self, operation: &'static str) -> Result<BorrowedFd<'_>, LinkError> {
        self.fd().ok_or(LinkError::NotABpfLink {
            operation,
            kind: self.kind(),
        })
    }

    /// The kernel's info: id, `enum bpf_link_type`, program id.
    pub fn info(&self) -> Result<LinkInfo, LinkError> {
        let fd = self.bpf_fd("info")?;
        LinkInfo::from_fd(fd).map_err(|source| LinkError::Syscall {
            operation: "info",
            source,
        })
    }

    /// Pin the link at `path` on a bpffs: it stays attached after this `Link` is dropped,
    /// until the pin is removed.
    pub fn pin(&self, path: impl AsRef<Path>) -> Result<(), LinkError> {
        let fd = self.bpf_fd("pin")?;
        pin::pin_fd(fd, path.as_ref())?;
        Ok(())
    }

    /// Open a pinned link. Dropping the result closes the fd; the pin keeps the link attached.
    pub fn from_pin(path: impl AsRef<Path>) -> Result<Self, LinkError> {
        Ok(Self::bpf(pin::open_pinned_kind(
            path.as_ref(),
            crate::sys::ObjectKind::Link,
        )?))
    }

    /// Replace the link's program (`BPF_LINK_UPDATE`); with `expected_old`, only if the link
    /// still runs that program. Netlink XDP/tc and `BPF_PROG_ATTACH` attachments replace
    /// their program the way their interface does (`XDP_FLAGS_REPLACE`, `NLM_F_REPLACE`,
    /// `BPF_F_REPLACE`).
    pub fn update_program(
        &self,
        new_program: BorrowedFd<'_>,
        expected_old: Option<BorrowedFd<'_>>,
    ) -> Result<(), LinkError> {
        if let Inner::Attachment(a) = &self.inner {
            return a.update_program(new_program, expected_old);
        }
        let fd = self.bpf_fd("update program")?;
        sys::link_update(fd, new_program, expected_old).map_err(|source| LinkError::Syscall {
            operation: "update program",
            source,
        })
    }

    /// Detach now. A bpf link is detached with `BPF_LINK_DETACH` (which also detaches a
    /// pinned link); other kinds are detached by dropping them.
    pub fn detach(self) -> Result<(), LinkError> {
        if let Inner::Bpf { fd, .. } = &self.inner {
            match sys::link_detach(fd.as_fd()) {
                Ok(()) => {}
                // Links of kinds that cannot be detached early (older kernels, perf links
                // before 5.18): closing the last fd detaches them.
                Err(e)
                    if e.errno() == Some(libc::EOPNOTSUPP) || e.errno() == Some(libc::EINVAL) => {}
                Err(source) => {
                    return Err(LinkError::Syscall {
                        operation: "detach",
                        source,
                    })
                }
            }
        }
        drop(self);
        Ok(())
    }
}

impl Drop for Inner {
    fn drop(&mut self) {
        match self {
            // Fields drop after this body in declaration order: the link fd, then the perf
            // event, then the tracefs event, which can only be removed once nothing uses it.
            Inner::Bpf { .. } | Inner::Group(_) | Inner::Attachment(_) => {}
            Inner::PerfEvent { event, .. } => {
                if let Err(e) = sys::perf_event::perf_event_disable(event.as_fd()) {
                    log::debug!("disabling perf event: {e}");
                }
            }
            Inner::SocketFilter { socket } => {
                if let Err(e) = sys::attach::socket_detach_bpf(socket.as_fd()) {
                    log::debug!("detaching socket filter: {e}");
                }
            }
        }
    }
}
