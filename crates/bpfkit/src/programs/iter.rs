//! BPF iterators (`SEC("iter/<target>")`, e.g. `iter/task`): an iterator link, from which each
//! [`open`] makes a readable fd that runs the program over the kernel objects.

use std::io::Read;

use crate::links::{Link, LinkError};
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
pub fn open(link: &Link) -> Result<std::fs::File, LinkError> {
    let fd = link.fd().ok_or(LinkError::NotABpfLink {
        operation: "create iterator",
        kind: link.kind(),
    })?;
    sys::attach::iter_create(fd)
        .map(std::fs::File::from)
        .map_err(|source| LinkError::Syscall {
            operation: "create iterator",
            source,
        })
}

/// Run the iterator once and return everything it printed.
///
/// ```no_run
/// # let object = bpfkit::loader::Loader::new().load_file("tasks.bpf.o")?;
/// let link = bpfkit::programs::iter::attach(object.program("list_tasks").unwrap())?;
/// let text = String::from_utf8_lossy(&bpfkit::programs::iter::read_all(&link)?).into_owned();
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn read_all(link: &Link) -> Result<Vec<u8>, LinkError> {
    let mut out = Vec::new();
    open(link)?
        .read_to_end(&mut out)
        .map_err(|source| LinkError::Read {
            operation: "read iterator",
            source,
        })?;
    Ok(out)
}
