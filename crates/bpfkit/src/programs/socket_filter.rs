//! Socket filters (`SEC("socket")`, `BPF_PROG_TYPE_SOCKET_FILTER`): run on every packet a
//! socket receives (`SO_ATTACH_BPF`); the link detaches with `SO_DETACH_BPF` on drop.

use std::os::fd::AsFd;

use crate::links::Link;
use crate::loader::Program;
use crate::sys;

use super::perf_attach::expect_type;
use super::{AttachError, ProgramType};

/// Attach a socket filter to `socket`. The link keeps a duplicate of the socket fd so it
/// can detach the filter when dropped.
#[doc(alias = "BPF_PROG_TYPE_SOCKET_FILTER")]
pub fn attach(program: &Program, socket: impl AsFd) -> Result<Link, AttachError> {
    expect_type(
        program,
        &[ProgramType::SocketFilter],
        "a SOCKET_FILTER program",
    )?;
    let socket = crate::sys::fdtrace::dup(socket.as_fd())
        .map_err(|e| AttachError::io(program.name(), "duplicate socket fd", e))?;
    sys::attach::socket_attach_bpf(socket.as_fd(), program.fd())
        .map_err(|e| AttachError::syscall(program.name(), "SO_ATTACH_BPF", e))?;
    Ok(Link::socket_filter(socket))
}
