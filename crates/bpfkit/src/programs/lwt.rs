//! Light-weight tunnel programs (`SEC("lwt_in")`, `SEC("lwt_out")`, `SEC("lwt_xmit")`;
//! `BPF_PROG_TYPE_LWT_*`, `CONFIG_LWTUNNEL_BPF`): they run for packets using one IPv4
//! route, which the attach creates with a BPF encap (`ip route add PREFIX encap bpf xmit
//! ...`) by rtnetlink and deletes on drop.

use std::net::Ipv4Addr;
use std::os::fd::AsRawFd;

use crate::links::{Attachment, Link, LinkError};
use crate::loader::Program;
use crate::sys::netlink::{self, LwtRoute, RouteSocket};

use super::perf_attach::expect_type;
use super::{AttachError, Interface, ProgramType};

/// Options of [`attach`].
#[derive(Debug, Clone, Copy)]
pub struct LwtOptions {
    /// The next hop; `None` for a route to directly attached hosts.
    pub gateway: Option<Ipv4Addr>,
    /// Routing table (default main, 254).
    pub table: u32,
    /// Replace an existing route to the prefix instead of failing with EEXIST.
    pub replace: bool,
}

impl Default for LwtOptions {
    fn default() -> Self {
        Self {
            gateway: None,
            table: netlink::RT_TABLE_MAIN,
            replace: false,
        }
    }
}

/// Create the route `prefix/prefix_len` out of `interface` with `program` as its BPF encap,
/// at the hook the program type names (`lwt_in` on input, `lwt_out` on output, `lwt_xmit`
/// before transmission), in the calling thread's network namespace.
///
/// ```no_run
/// # let object = bpfkit::loader::Loader::new().load_file("lwt.bpf.o")?;
/// use bpfkit::programs::lwt::{self, LwtOptions};
/// let link = lwt::attach(object.program("count").unwrap(), "10.1.0.0".parse()?, 24, "eth0", &LwtOptions::default())?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[doc(alias = "BPF_PROG_TYPE_LWT_IN")]
#[doc(alias = "BPF_PROG_TYPE_LWT_OUT")]
#[doc(alias = "BPF_PROG_TYPE_LWT_XMIT")]
pub fn attach<'a>(
    program: &Program,
    prefix: Ipv4Addr,
    prefix_len: u8,
    interface: impl Into<Interface<'a>>,
    options: &LwtOptions,
) -> Result<Link, AttachError> {
    expect_type(
        program,
        &[
            ProgramType::LwtIn,
            ProgramType::LwtOut,
            ProgramType::LwtXmit,
        ],
        "an LWT_IN, LWT_OUT or LWT_XMIT program",
    )?;
    let name = program.name();
    let interface = interface.into();
    let ifindex = interface.resolve(name)?;
    let target = format!("{prefix}/{prefix_len} dev {interface}");
    if prefix_len > 32 {
        return Err(AttachError::target(
            name,
            &target,
            "an IPv4 prefix length is 0..=32",
        ));
    }
    let hook = match program.section().program_type as u32 {
        t if t == ProgramType::LwtIn as u32 => 1,
        t if t == ProgramType::LwtOut as u32 => 2,
        _ => 3,
    };
    let route = LwtRoute {
        dst: u32::from(prefix),
        prefix_len,
        ifindex,
        gateway: options.gateway.map_or(0, u32::from),
        table: options.table,
    };
    // The request, errno and the kernel's extended-ack message stay in the error's source.
    let fail = |operation: &'static str, source: netlink::NetlinkError| AttachError::Netlink {
        program: name.to_owned(),
        target: target.clone(),
        operation,
        source,
    };
    let socket = RouteSocket::open().map_err(|e| fail("open a netlink socket", e))?;
    socket
        .lwt_route_create(
            &route,
            hook,
            program.fd().as_raw_fd(),
            name,
            options.replace,
        )
        .map_err(|e| fail("add BPF-encap route", e))?;
    Ok(Link::attachment(LwtAttachment {
        socket,
        route,
        hook,
        name: name.to_owned(),
    }))
}

/// A route with a BPF encap; deleted on drop.
#[derive(Debug)]
struct LwtAttachment {
    /// Opened in the route's network namespace.
    socket: RouteSocket,
    route: LwtRoute,
    hook: u16,
    name: String,
}

impl Attachment for LwtAttachment {
    fn kind(&self) -> &'static str {
        "lwt_route"
    }

    /// Replaces the route with one running `new_program` (`expected_old` is not checked:
    /// routes do not report their program).
    fn update_program(
        &self,
        new_program: std::os::fd::BorrowedFd<'_>,
        _expected_old: Option<std::os::fd::BorrowedFd<'_>>,
    ) -> Result<(), LinkError> {
        self.socket
            .lwt_route_create(
                &self.route,
                self.hook,
                new_program.as_raw_fd(),
                &self.name,
                true,
            )
            .map_err(|source| LinkError::Netlink {
                operation: "update program",
                source,
            })
    }
}

impl Drop for LwtAttachment {
    fn drop(&mut self) {
        if let Err(e) = self.socket.route_destroy(&self.route) {
            log::warn!("deleting the route of LWT program '{}': {e}", self.name);
        }
    }
}
