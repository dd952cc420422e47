//! Attachments made with `BPF_PROG_ATTACH` instead of a link (cgroups, sockmap/sockhash,
//! the flow dissector of a network namespace): detached with `BPF_PROG_DETACH` on drop.

use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::sync::Mutex;

use crate::links::{Attachment, Link, LinkError};
use crate::loader::Program;
use crate::sys::{self, uapi};

use super::AttachError;

/// `BPF_PROG_ATTACH` of `program` to `target` (a duplicate of both fds is kept to detach).
pub(crate) fn attach(
    program: &Program,
    target: BorrowedFd<'_>,
    attach_type: u32,
    flags: u32,
    replace: Option<BorrowedFd<'_>>,
    what: &str,
) -> Result<Link, AttachError> {
    let name = program.name();
    let dup = |fd: BorrowedFd<'_>| {
        crate::sys::fdtrace::dup(fd).map_err(|e| AttachError::io(name, "duplicate fd", e))
    };
    let target = dup(target)?;
    let prog = dup(program.fd())?;
    sys::prog_attach(target.as_fd(), prog.as_fd(), attach_type, flags, replace).map_err(
        |source| {
            let hint = match source.errno() {
                Some(libc::EPERM) if flags & uapi::BPF_F_ALLOW_MULTI == 0 => Some(
                    "a program attached without BPF_F_ALLOW_OVERRIDE is in the way, or a link or \
                     multi-program attach holds the hook: attach with multi",
                ),
                Some(libc::EEXIST) => Some("the program is already attached here"),
                _ => None,
            };
            AttachError::Syscall {
                requires: None,
                program: name.to_owned(),
                operation: format!("BPF_PROG_ATTACH to {what}"),
                source,
                hint,
            }
        },
    )?;
    Ok(Link::attachment(ProgAttach {
        target,
        program: Mutex::new(prog),
        attach_type,
        flags,
    }))
}

/// A program attached with `BPF_PROG_ATTACH`.
#[derive(Debug)]
struct ProgAttach {
    target: OwnedFd,
    /// The program now attached (changes with `update_program`).
    program: Mutex<OwnedFd>,
    attach_type: u32,
    flags: u32,
}

impl Attachment for ProgAttach {
    fn kind(&self) -> &'static str {
        "prog_attach"
    }

    /// With `BPF_F_ALLOW_MULTI`, `BPF_F_REPLACE` of the expected (or current) program;
    /// otherwise attaching again replaces the hook's single program.
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
        let result = if self.flags & uapi::BPF_F_ALLOW_MULTI != 0 {
            let old = expected_old.unwrap_or(current.as_fd());
            sys::prog_attach(
                self.target.as_fd(),
                new.as_fd(),
                self.attach_type,
                self.flags | uapi::BPF_F_REPLACE,
                Some(old),
            )
        } else {
            sys::prog_attach(
                self.target.as_fd(),
                new.as_fd(),
                self.attach_type,
                self.flags,
                None,
            )
        };
        result.map_err(|source| LinkError::Syscall {
            operation: "update program",
            source,
        })?;
        *current = new;
        Ok(())
    }
}

impl Drop for ProgAttach {
    fn drop(&mut self) {
        let program = self.program.lock().unwrap_or_else(|e| e.into_inner());
        if let Err(e) =
            sys::prog_detach(self.target.as_fd(), Some(program.as_fd()), self.attach_type)
        {
            log::debug!("BPF_PROG_DETACH (attach type {}): {e}", self.attach_type);
        }
    }
}
