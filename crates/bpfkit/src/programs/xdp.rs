//! XDP programs (`SEC("xdp")`, `BPF_PROG_TYPE_XDP`) on a network interface: a bpf link
//! (`BPF_LINK_CREATE` with `BPF_XDP`, Linux 5.9), or the older rtnetlink attachment
//! (`IFLA_XDP`), which [`XdpOptions::method`] can force and which [`XdpAttachMethod::Auto`]
//! falls back to when the kernel has no XDP links.
//!
//! Both detach on drop; a bpf link can be pinned. [`Link::update_program`] swaps the program
//! in place (`BPF_LINK_UPDATE`, or `XDP_FLAGS_REPLACE` for netlink). Programs for devmap and
//! cpumap entries (`SEC("xdp/devmap")`, `SEC("xdp/cpumap")`) are not attached to an
//! interface: store their fd in the map entry's `bpf_prog.fd`.

use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};
use std::sync::Mutex;

use bpfkit_obj::object::AttachType;

use crate::links::{Attachment, Link, LinkError};
use crate::loader::Program;
use crate::sys::{self, netlink};

use super::perf_attach::expect_type;
use super::{AttachError, Interface, ProgramType, QueryError};

pub use crate::sys::netlink::XdpQuery;

/// Where in the receive path the program runs.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum XdpMode {
    /// The kernel's choice: the driver if it supports XDP, else generic.
    #[default]
    Auto,
    /// Generic XDP (`XDP_FLAGS_SKB_MODE`), after the skb is built: any device, slower.
    Generic,
    /// Native XDP in the driver (`XDP_FLAGS_DRV_MODE`); EOPNOTSUPP if the driver lacks it.
    Driver,
    /// Offloaded to the NIC (`XDP_FLAGS_HW_MODE`); the program must be loaded for that
    /// device.
    Offload,
}

impl XdpMode {
    /// The `XDP_FLAGS_*` mode bit.
    pub fn flags(self) -> u32 {
        match self {
            Self::Auto => 0,
            Self::Generic => netlink::XDP_FLAGS_SKB_MODE,
            Self::Driver => netlink::XDP_FLAGS_DRV_MODE,
            Self::Offload => netlink::XDP_FLAGS_HW_MODE,
        }
    }
}

/// How the program is attached.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum XdpAttachMethod {
    /// A bpf link; rtnetlink if the kernel refuses XDP links with EINVAL (before 5.9).
    #[default]
    Auto,
    /// A bpf link only.
    Link,
    /// rtnetlink only (`IFLA_XDP`), as `ip link set dev IF xdp` does.
    Netlink,
}

/// Options of [`attach`].
#[derive(Debug, Clone, Default)]
pub struct XdpOptions {
    /// Driver, generic or offload.
    pub mode: XdpMode,
    /// bpf link or rtnetlink.
    pub method: XdpAttachMethod,
    /// rtnetlink only: replace a program already attached in this mode instead of failing
    /// with EBUSY (no `XDP_FLAGS_UPDATE_IF_NOEXIST`). A bpf link never replaces one.
    pub replace_existing: bool,
}

/// Attach an XDP program to `interface` (index or name).
///
/// ```no_run
/// # let object = bpfkit::loader::Loader::new().load_file("xdp.bpf.o")?;
/// use bpfkit::programs::xdp::{self, XdpMode, XdpOptions};
/// let options = XdpOptions { mode: XdpMode::Generic, ..Default::default() };
/// let link = xdp::attach(object.program("count").unwrap(), "eth0", &options)?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[doc(alias = "BPF_PROG_TYPE_XDP")]
#[doc(alias = "BPF_XDP")]
pub fn attach<'a>(
    program: &Program,
    interface: impl Into<Interface<'a>>,
    options: &XdpOptions,
) -> Result<Link, AttachError> {
    expect_type(program, &[ProgramType::Xdp], "an XDP program")?;
    let interface = interface.into();
    let name = program.name();
    let ifindex = interface.resolve(name)?;
    let mode = options.mode.flags();
    if options.method != XdpAttachMethod::Netlink {
        let attr = sys::link_create_attr(program.fd(), ifindex, AttachType::Xdp as u32, mode);
        // SAFETY: no pointers in an XDP link_create.
        match unsafe { sys::link_create(attr) } {
            Ok(fd) => return Ok(Link::bpf(fd)),
            Err(e)
                if options.method == XdpAttachMethod::Auto && e.errno() == Some(libc::EINVAL) =>
            {
                log::debug!("program '{name}': no XDP link on {interface} ({e}); trying netlink");
                // The link's EINVAL is reported (the kernel may have XDP links and have
                // refused this request); what netlink said is logged, not lost.
                return attach_netlink(program, &interface, ifindex, options).map_err(|netlink| {
                    log::debug!(
                        "program '{name}': netlink fallback on {interface}: {}",
                        crate::Report(&netlink)
                    );
                    link_error(name, &interface, e)
                });
            }
            Err(e) => return Err(link_error(name, &interface, e)),
        }
    }
    attach_netlink(program, &interface, ifindex, options)
}

fn link_error(program: &str, interface: &Interface<'_>, source: sys::SyscallError) -> AttachError {
    let hint = match source.errno() {
        Some(libc::EBUSY) | Some(libc::EEXIST) => {
            Some("an XDP program is already attached to the interface in this mode")
        }
        Some(libc::EOPNOTSUPP) => Some("the driver has no native XDP: use XdpMode::Generic"),
        _ => None,
    };
    AttachError::Syscall {
        requires: None,
        program: program.to_owned(),
        operation: format!("BPF_LINK_CREATE xdp on {interface}"),
        source,
        hint,
    }
}

fn attach_netlink(
    program: &Program,
    interface: &Interface<'_>,
    ifindex: u32,
    options: &XdpOptions,
) -> Result<Link, AttachError> {
    let name = program.name();
    let mode = options.mode.flags();
    let flags = if options.replace_existing {
        mode
    } else {
        mode | netlink::XDP_FLAGS_UPDATE_IF_NOEXIST
    };
    let prog = crate::sys::fdtrace::dup(program.fd())
        .map_err(|e| AttachError::io(name, "duplicate program fd", e))?;
    let netlink_error = |source| AttachError::Netlink {
        program: name.to_owned(),
        target: interface.to_string(),
        operation: "attach by netlink",
        source,
    };
    let socket = netlink::RouteSocket::open().map_err(netlink_error)?;
    socket
        .xdp_set(ifindex, prog.as_raw_fd(), flags, None)
        .map_err(netlink_error)?;
    Ok(Link::attachment(XdpNetlink {
        socket,
        ifindex,
        mode,
        program: Mutex::new(prog),
    }))
}

/// The XDP programs attached to an interface (`RTM_GETLINK`): ids per mode.
pub fn query<'a>(interface: impl Into<Interface<'a>>) -> Result<XdpQuery, QueryError> {
    let interface = interface.into();
    let ifindex = interface.resolve_for_query()?;
    netlink::RouteSocket::open()
        .and_then(|socket| socket.xdp_query(ifindex))
        .map_err(|source| QueryError::Netlink {
            interface: interface.to_string(),
            source,
        })
}

/// An XDP program attached by rtnetlink; detached on drop if it is still the one attached.
#[derive(Debug)]
struct XdpNetlink {
    /// Opened in the interface's network namespace.
    socket: netlink::RouteSocket,
    ifindex: u32,
    mode: u32,
    /// The program now attached (a duplicate fd), the expected one when detaching.
    program: Mutex<OwnedFd>,
}

impl Attachment for XdpNetlink {
    fn kind(&self) -> &'static str {
        "xdp_netlink"
    }

    fn update_program(
        &self,
        new_program: BorrowedFd<'_>,
        expected_old: Option<BorrowedFd<'_>>,
    ) -> Result<(), LinkError> {
        let mut current = self.program.lock().unwrap_or_else(|e| e.into_inner());
        let new =
            crate::sys::fdtrace::dup(new_program).map_err(|source| LinkError::DuplicateFd {
                operation: "update program",
                source,
            })?;
        let expected = expected_old.unwrap_or(current.as_fd()).as_raw_fd();
        self.socket
            .xdp_set(self.ifindex, new.as_raw_fd(), self.mode, Some(expected))
            .map_err(|source| LinkError::Netlink {
                operation: "update program",
                source,
            })?;
        *current = new;
        Ok(())
    }
}

impl Drop for XdpNetlink {
    fn drop(&mut self) {
        let current = self.program.lock().unwrap_or_else(|e| e.into_inner());
        // Only detach our program: another one may have replaced it since.
        let result = self
            .socket
            .xdp_set(self.ifindex, -1, self.mode, Some(current.as_raw_fd()));
        match result {
            Ok(()) => {}
            // Kernels before 5.7 have no XDP_FLAGS_REPLACE: detach unconditionally.
            Err(e) if e.errno() == Some(libc::EINVAL) => {
                if let Err(e) = self.socket.xdp_set(self.ifindex, -1, self.mode, None) {
                    log::warn!("detaching XDP from ifindex {}: {e}", self.ifindex);
                }
            }
            Err(e) => log::debug!("detaching XDP from ifindex {}: {e}", self.ifindex),
        }
    }
}
