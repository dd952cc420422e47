//! `SEC("sk_reuseport")` (`BPF_PROG_TYPE_SK_REUSEPORT`, Linux 4.19): picks which socket of a
//! `SO_REUSEPORT` group gets a new connection or datagram, usually from a
//! `REUSEPORT_SOCKARRAY`. Attached to one socket of the group with
//! `SO_ATTACH_REUSEPORT_EBPF`; dropping the link detaches it (`SO_DETACH_REUSEPORT_BPF`).

use std::os::fd::{AsFd, BorrowedFd, OwnedFd};

use crate::links::{Attachment, Link, LinkError};
use crate::loader::Program;
use crate::sys::net as sysnet;

use super::perf_attach::expect_type;
use super::{AttachError, ProgramType};

/// Attach a reuseport program to the group `socket` belongs to (the socket must have
/// `SO_REUSEPORT` set and be bound). The link keeps a duplicate of the socket fd.
#[doc(alias = "BPF_PROG_TYPE_SK_REUSEPORT")]
#[doc(alias = "SO_ATTACH_REUSEPORT_EBPF")]
pub fn attach(program: &Program, socket: impl AsFd) -> Result<Link, AttachError> {
    expect_type(
        program,
        &[ProgramType::SkReuseport],
        "an SK_REUSEPORT program",
    )?;
    let name = program.name();
    let socket = crate::sys::fdtrace::dup(socket.as_fd())
        .map_err(|e| AttachError::io(name, "duplicate socket fd", e))?;
    sysnet::reuseport_attach_bpf(socket.as_fd(), program.fd())
        .map_err(|e| AttachError::syscall(name, "SO_ATTACH_REUSEPORT_EBPF", e))?;
    Ok(Link::attachment(ReuseportAttachment { socket }))
}

#[derive(Debug)]
struct ReuseportAttachment {
    socket: OwnedFd,
}

impl Attachment for ReuseportAttachment {
    fn kind(&self) -> &'static str {
        "sk_reuseport"
    }

    /// Attaching again replaces the group's program.
    fn update_program(
        &self,
        new_program: BorrowedFd<'_>,
        _expected_old: Option<BorrowedFd<'_>>,
    ) -> Result<(), LinkError> {
        sysnet::reuseport_attach_bpf(self.socket.as_fd(), new_program).map_err(|source| {
            LinkError::Syscall {
                operation: "update program",
                source,
            }
        })
    }
}

impl Drop for ReuseportAttachment {
    fn drop(&mut self) {
        if let Err(e) = sysnet::reuseport_detach_bpf(self.socket.as_fd()) {
            log::debug!("SO_DETACH_REUSEPORT_BPF: {e}");
        }
    }
}
