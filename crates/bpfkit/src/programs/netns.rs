//! Programs attached to a network namespace with a netns link (`BPF_LINK_CREATE` on a netns
//! fd): `SEC("sk_lookup")` (`BPF_PROG_TYPE_SK_LOOKUP`, Linux 5.9), which picks the socket
//! for a new connection or datagram, and `SEC("flow_dissector")`
//! (`BPF_PROG_TYPE_FLOW_DISSECTOR`, netns links since 5.8), which replaces the kernel's flow
//! dissector. The link detaches on drop and can be pinned.

use std::os::fd::{AsFd, AsRawFd, BorrowedFd};

use bpfkit_obj::object::AttachType;

use crate::links::Link;
use crate::loader::Program;
use crate::sys;

use super::perf_attach::expect_type;
use super::{AttachError, ProgramType};

/// The network namespace to attach to.
#[derive(Debug, Clone, Copy, Default)]
pub enum Netns<'a> {
    /// The calling thread's (`/proc/thread-self/ns/net`).
    #[default]
    Current,
    /// A namespace open as this fd (`/run/netns/NAME`, `/proc/PID/ns/net`).
    Fd(BorrowedFd<'a>),
}

/// Attach an `sk_lookup` or `flow_dissector` program to a network namespace.
///
/// ```no_run
/// # let object = bpfkit::loader::Loader::new().load_file("lookup.bpf.o")?;
/// use bpfkit::programs::netns::{self, Netns};
/// let link = netns::attach(object.program("steer").unwrap(), Netns::Current)?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[doc(alias = "BPF_PROG_TYPE_SK_LOOKUP")]
#[doc(alias = "BPF_PROG_TYPE_FLOW_DISSECTOR")]
pub fn attach(program: &Program, netns: Netns<'_>) -> Result<Link, AttachError> {
    expect_type(
        program,
        &[ProgramType::SkLookup, ProgramType::FlowDissector],
        "an SK_LOOKUP or FLOW_DISSECTOR program",
    )?;
    let name = program.name();
    let attach_type = if program.section().program_type as u32 == ProgramType::SkLookup as u32 {
        AttachType::SkLookup
    } else {
        AttachType::FlowDissector
    };
    let opened;
    let fd = match netns {
        Netns::Fd(fd) => fd,
        Netns::Current => {
            opened = crate::sys::fdtrace::open_read("/proc/thread-self/ns/net", "netns file")
                .map_err(|e| AttachError::io(name, "open /proc/thread-self/ns/net", e))?;
            opened.as_fd()
        }
    };
    let attr = sys::link_create_attr(program.fd(), fd.as_raw_fd() as u32, attach_type as u32, 0);
    // SAFETY: no pointers in a netns link_create.
    unsafe { sys::link_create(attr) }
        .map(Link::bpf)
        .map_err(|source| AttachError::Syscall {
            requires: None,
            program: name.to_owned(),
            operation: format!("BPF_LINK_CREATE {} on a netns", attach_type.kernel_name()),
            hint: match source.errno() {
                Some(libc::EEXIST) => {
                    Some("a flow dissector is already attached to this namespace (or the root one)")
                }
                _ => None,
            },
            source,
        })
}
