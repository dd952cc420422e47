//! BPF iterators (`SEC("iter/<target>")`, e.g. `iter/task`): an iterator link, from which each
//! [`open`] makes a readable fd that runs the program over the kernel objects.

use std::io::Read;

use crate::links::Link;
use crate::loader::Program;
use crate::sys::{self, uapi};

use super::perf_attach::expect_type;
use super::{AttachError, ProgramType};

/// Attach an iterator program (its target was resolved at load time) as a
/// `BPF_LINK_TYPE_ITER` link.
#[doc(alias = "BPF_TRACE_ITER")]
pub fn attach(program: &Program) -> Result<Link, AttachError> {
    expect_type(
        program,
        &[ProgramType::Tracing],
        "a TRACING iterator program",
    )?;
    let attr = sys::link_create_attr(program.fd(), 0, uapi::BPF_TRACE_ITER, 0);
    // SAFETY: no iter_info pointer is set.
    unsafe { sys::link_create(attr) }
        .map(Link::bpf)
        .map_err(|e| AttachError::syscall(program.name(), "BPF_LINK_CREATE iter", e))
}

/// A new iterator fd of an iterator `link` (`BPF_ITER_CREATE`): reading it runs the program.
pub fn open(link: &Link) -> Result<std::fs::File, AttachError> {
    let fd = link.fd().ok_or_else(|| {
        AttachError::unsupported(
            "?",
            format!("a {} link is not an iterator link", link.kind()),
        )
    })?;
    sys::attach::iter_create(fd)
        .map(std::fs::File::from)
        .map_err(|e| AttachError::syscall("?", "BPF_ITER_CREATE", e))
}

/// Run the iterator once and return everything it printed.
pub fn read_all(link: &Link) -> Result<Vec<u8>, AttachError> {
    let mut out = Vec::new();
    open(link)?
        .read_to_end(&mut out)
        .map_err(|e| AttachError::io("?", "read iterator", e))?;
    Ok(out)
}
