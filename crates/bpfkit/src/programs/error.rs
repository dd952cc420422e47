//! `AttachError`: why a program could not be attached, naming the program and target.

use crate::features::Feature;
use crate::sys::SyscallError;

/// Errors of attaching a program. Each names the program; kernel limits carry a hint.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AttachError {
    /// A system call failed.
    #[error("program '{program}': {operation}{}", suffix(.hint, .requires))]
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
        /// The kernel feature this errno usually means is missing, with the first release
        /// that has it ([`missing_feature`](AttachError::missing_feature) returns it).
        requires: Option<Feature>,
    },
    /// An rtnetlink request failed (XDP, tc's clsact qdisc and `cls_bpf` filter by netlink,
    /// LWT's BPF-encap route); the errno and the kernel's extended-ack message are in `source`.
    #[error("program '{program}': {operation} on {target}")]
    Netlink {
        /// The program.
        program: String,
        /// The interface as given (LWT: the route, `PREFIX/LEN dev INTERFACE`).
        target: String,
        /// What was being done (`attach by netlink`, `add cls_bpf filter`, `add BPF-encap
        /// route`).
        operation: &'static str,
        /// The request, errno and extended-ack message.
        #[source]
        source: crate::sys::netlink::NetlinkError,
    },
    /// The running kernel cannot do this attach at all.
    #[error("program '{program}': {reason}{}", suffix(&None, .feature))]
    Unsupported {
        /// The program.
        program: String,
        /// What is missing (config option, LSM, tracefs control).
        reason: String,
        /// The missing kernel feature and its first release, when a release adds it.
        feature: Option<Feature>,
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

fn suffix(hint: &Option<&'static str>, requires: &Option<Feature>) -> String {
    match (hint, requires) {
        (None, None) => String::new(),
        (Some(h), None) => format!(" (hint: {h})"),
        (None, Some(f)) => format!(" ({} requires Linux {})", f.name, f.since),
        (Some(h), Some(f)) => format!(" (hint: {h}; {} requires Linux {})", f.name, f.since),
    }
}

impl AttachError {
    pub(crate) fn syscall(
        program: &str,
        operation: impl Into<String>,
        source: SyscallError,
    ) -> Self {
        Self::Syscall {
            requires: None,
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
            feature: None,
        }
    }

    /// The kernel feature that is missing, with its first release: from an
    /// [`Unsupported`](Self::Unsupported) error, or a syscall errno that means it.
    pub fn missing_feature(&self) -> Option<&Feature> {
        match self {
            Self::Syscall { requires, .. } => requires.as_ref(),
            Self::Unsupported { feature, .. } => feature.as_ref(),
            _ => None,
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
            Self::Netlink { source, .. } => source.errno(),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::AttachError;
    use crate::features::Feature;
    use crate::sys::SyscallError;

    #[test]
    fn a_syscall_errno_that_means_a_missing_feature_is_machine_readable() {
        let err = AttachError::Syscall {
            program: "p".into(),
            operation: "BPF_LINK_CREATE uprobe_multi".into(),
            source: SyscallError {
                call: "BPF_LINK_CREATE",
                io_error: std::io::Error::from_raw_os_error(libc::EINVAL),
            },
            hint: Some("or the program was not loaded for it"),
            requires: Some(Feature::new("uprobe_multi links", "6.6")),
        };
        let feature = err.missing_feature().expect("feature");
        assert_eq!(feature.name, "uprobe_multi links");
        assert_eq!(feature.min_kernel(), Some((6, 6)));
        assert_eq!(err.errno(), Some(libc::EINVAL));
        assert_eq!(
            err.to_string(),
            "program 'p': BPF_LINK_CREATE uprobe_multi (hint: or the program was not loaded \
             for it; uprobe_multi links requires Linux 6.6)"
        );
        assert!(AttachError::unsupported("p", "no kprobes")
            .missing_feature()
            .is_none());
    }
}
