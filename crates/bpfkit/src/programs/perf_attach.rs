//! Attaching a program to an open perf event: a bpf perf link where the kernel has one
//! (Linux 5.15), else `PERF_EVENT_IOC_SET_BPF`; then the event is enabled.

use std::os::fd::{AsFd, OwnedFd};

use crate::links::{DynamicEvent, Link};
use crate::loader::Program;
use crate::programs::ProgramTypeExt;
use crate::sys::{self, perf_event, uapi};

use super::AttachError;

/// Attach `program` to `event`, with a BPF cookie when given (needs a perf link, Linux 5.15).
pub(crate) fn attach_perf_event(
    program: &Program,
    event: OwnedFd,
    cookie: Option<u64>,
    dynamic: Option<DynamicEvent>,
    what: &str,
) -> Result<Link, AttachError> {
    attach_perf_event_fd(program.fd(), program.name(), event, cookie, dynamic, what)
}

/// [`attach_perf_event`] for a program known only by its fd and a name for errors.
pub(crate) fn attach_perf_event_fd(
    program: std::os::fd::BorrowedFd<'_>,
    name: &str,
    event: OwnedFd,
    cookie: Option<u64>,
    dynamic: Option<DynamicEvent>,
    what: &str,
) -> Result<Link, AttachError> {
    let mut attr = sys::link_create_attr(
        program,
        event.as_fd().as_raw_fd_u32(),
        uapi::BPF_PERF_EVENT,
        0,
    );
    attr.anon_1.perf_event.bpf_cookie = cookie.unwrap_or(0);
    // SAFETY: the perf_event arm carries no pointers.
    let link = match unsafe { sys::link_create(attr) } {
        Ok(fd) => Some(fd),
        Err(e)
            if cookie.is_none() && matches!(e.errno(), Some(libc::EINVAL | libc::EOPNOTSUPP)) =>
        {
            log::debug!("program '{name}': no bpf perf link ({e}), using PERF_EVENT_IOC_SET_BPF");
            None
        }
        Err(source) => {
            return Err(AttachError::Syscall {
                requires: (cookie.is_some() && source.errno() == Some(libc::EINVAL)).then_some(
                    crate::features::Feature::new("BPF cookies on perf events", "5.15"),
                ),
                program: name.to_owned(),
                operation: format!("BPF_LINK_CREATE perf_event for {what}"),
                hint: None,
                source,
            })
        }
    };
    if link.is_none() {
        perf_event::perf_event_set_bpf(event.as_fd(), program)
            .map_err(|e| AttachError::syscall(name, format!("attach to {what}"), e))?;
    }
    perf_event::perf_event_enable(event.as_fd())
        .map_err(|e| AttachError::syscall(name, format!("enable {what}"), e))?;
    Ok(match link {
        Some(fd) => Link::perf_link(fd, event, dynamic),
        None => Link::perf_ioctl(event, dynamic),
    })
}

trait RawFdU32 {
    fn as_raw_fd_u32(&self) -> u32;
}

impl RawFdU32 for std::os::fd::BorrowedFd<'_> {
    fn as_raw_fd_u32(&self) -> u32 {
        use std::os::fd::AsRawFd;
        self.as_raw_fd() as u32
    }
}

/// Check that `program` has one of `types`, else a [`AttachError::WrongProgramType`].
pub(crate) fn expect_type(
    program: &Program,
    types: &[super::ProgramType],
    expected: &'static str,
) -> Result<(), AttachError> {
    let actual = program.section().program_type as u32;
    if types.iter().any(|t| t.number() == actual) {
        return Ok(());
    }
    Err(AttachError::WrongProgramType {
        program: program.name().to_owned(),
        section: program.section().name.clone(),
        actual: super::ProgramType::from_number(actual)
            .map_or_else(|| format!("type {actual}"), |t| t.kernel_name().to_owned()),
        expected,
    })
}
