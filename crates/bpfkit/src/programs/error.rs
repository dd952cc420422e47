//! `AttachError`: why a program could not be attached, naming the program and target.

use crate::sys::SyscallError;

/// Errors of attaching a program. Each names the program; kernel limits carry a hint.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AttachError {
    /// A system call failed.
    #[error("program '{program}': {operation}{}", hint_suffix(.hint))]
    Syscall {
        /// The program.
        program: String,
        /// What was being done, with the target (`perf_event_open kprobe do_unlinkat`).
        operation: String,
        /// The call and errno.
        #[source]
        source: SyscallError,
        /// What the errno means here, when known.
        hint: Option<&'static str>,
    },
    /// The running kernel cannot do this attach at all.
    #[error("program '{program}': {reason}")]
    Unsupported {
        /// The program.
        program: String,
        /// What is missing, in the kernel's words (config option, first kernel).
        reason: String,
    },
    /// The attach target is malformed or does not exist.
    #[error("program '{program}': target '{target}': {reason}")]
    Target {
        /// The program.
        program: String,
        /// The target as given.
        target: String,
        /// What is wrong.
        reason: String,
    },
    /// The program's type does not fit this attach.
    #[error("program '{program}' is a {actual} program (section '{section}'); {expected} needed")]
    WrongProgramType {
        /// The program.
        program: String,
        /// Its section name.
        section: String,
        /// Its program type.
        actual: String,
        /// What the attach needs.
        expected: &'static str,
    },
    /// The section names no target to attach to on its own (`SEC("socket")`, `SEC("uprobe")`
    /// without `binary:function`, tc, xdp, cgroup, ...): attach it with its module's `attach`
    /// ([`xdp::attach`](super::xdp::attach), [`tc::attach`](super::tc::attach),
    /// [`cgroup::attach`](super::cgroup::attach), ...) or give the interface or cgroup to
    /// [`auto::attach_with`](super::auto::attach_with).
    #[error("program '{program}': section '{section}' does not say where to attach; attach it explicitly")]
    NotAutoAttachable {
        /// The program.
        program: String,
        /// Its section name.
        section: String,
    },
    /// A file (tracefs, ELF, /proc) could not be read or written.
    #[error("program '{program}': {operation}")]
    Io {
        /// The program.
        program: String,
        /// What was being done, naming the file.
        operation: String,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
}

fn hint_suffix(hint: &Option<&'static str>) -> String {
    hint.map(|h| format!(" (hint: {h})")).unwrap_or_default()
}

impl AttachError {
    pub(crate) fn syscall(
        program: &str,
        operation: impl Into<String>,
        source: SyscallError,
    ) -> Self {
        Self::Syscall {
            program: program.to_owned(),
            operation: operation.into(),
            source,
            hint: None,
        }
    }

    pub(crate) fn unsupported(program: &str, reason: impl Into<String>) -> Self {
        Self::Unsupported {
            program: program.to_owned(),
            reason: reason.into(),
        }
    }

    pub(crate) fn target(program: &str, target: &str, reason: impl Into<String>) -> Self {
        Self::Target {
            program: program.to_owned(),
            target: target.to_owned(),
            reason: reason.into(),
        }
    }

    pub(crate) fn io(program: &str, operation: impl Into<String>, source: std::io::Error) -> Self {
        Self::Io {
            program: program.to_owned(),
            operation: operation.into(),
            source,
        }
    }

    /// The errno of the failed system call, if this is one.
    pub fn errno(&self) -> Option<i32> {
        match self {
            Self::Syscall { source, .. } => source.errno(),
            _ => None,
        }
    }
}
