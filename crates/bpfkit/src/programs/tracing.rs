//! BTF-typed tracing programs (`BPF_PROG_TYPE_TRACING`): `tp_btf`, `fentry`, `fexit`,
//! `fmod_ret`. The target was resolved to `attach_btf_id` at load time; attach makes a
//! `BPF_LINK_TYPE_TRACING` link (`BPF_LINK_CREATE`, Linux 5.19 for cookies; else
//! `BPF_RAW_TRACEPOINT_OPEN` with no name).
//!
//! fentry/fexit/fmod_ret go through a BPF trampoline: kernels without
//! `CONFIG_DYNAMIC_FTRACE_WITH_DIRECT_CALLS`, or with ftrace locked down, refuse with EPERM or
//! EOPNOTSUPP, and the error says so.

use crate::links::Link;
use crate::loader::Program;
use crate::sys;

use super::perf_attach::expect_type;
use super::{AttachError, ProgramType};

/// Attach a tracing program to the target it was loaded for (`tp_btf/<tracepoint>`,
/// `fentry/<function>`, ...).
#[doc(alias = "BPF_PROG_TYPE_TRACING")]
#[doc(alias = "fentry")]
#[doc(alias = "fexit")]
#[doc(alias = "fmod_ret")]
#[doc(alias = "tp_btf")]
pub fn attach(program: &Program) -> Result<Link, AttachError> {
    attach_with_cookie(program, None)
}

/// [`attach`] with a BPF cookie (`bpf_get_attach_cookie`, Linux 5.19 for tracing links).
pub fn attach_with_cookie(program: &Program, cookie: Option<u64>) -> Result<Link, AttachError> {
    expect_type(program, &[ProgramType::Tracing], "a TRACING program")?;
    attach_btf_program(program, cookie)
}

/// Attach a program whose target is its `attach_btf_id` (tracing, LSM).
pub(crate) fn attach_btf_program(
    program: &Program,
    cookie: Option<u64>,
) -> Result<Link, AttachError> {
    let name = program.name();
    let section = program.section();
    let attach_type = section.expected_attach_type.map_or(0, |a| a as u32);
    let mut attr = sys::link_create_attr(program.fd(), 0, attach_type, 0);
    attr.anon_1.tracing.cookie = cookie.unwrap_or(0);
    // SAFETY: the tracing arm carries no pointers.
    let result = match unsafe { sys::link_create(attr) } {
        Ok(fd) => Ok(fd),
        // Before Linux 5.19 tracing/LSM links come from RAW_TRACEPOINT_OPEN only.
        Err(e) if cookie.is_none() && e.errno() == Some(libc::EINVAL) => {
            sys::raw_tracepoint_open(None, program.fd())
        }
        Err(e) => Err(e),
    };
    let target = section.attach_target.as_deref().unwrap_or_default();
    result.map(Link::bpf).map_err(|source| {
        let trampoline = !matches!(section.kind, Some("tp_btf"));
        let hint = match source.errno() {
            Some(libc::EPERM) if trampoline => Some(
                "the kernel refused the BPF trampoline: ftrace is locked down (lockdown, or \
                 available_filter_functions is not readable) or the process lacks CAP_BPF+CAP_PERFMON",
            ),
            Some(libc::EOPNOTSUPP | ENOTSUPP) if trampoline => Some(
                "the kernel has no BPF trampoline here: CONFIG_DYNAMIC_FTRACE_WITH_DIRECT_CALLS is \
                 off, or the function cannot be traced",
            ),
            _ => None,
        };
        AttachError::Syscall {
 requires: None,
            program: name.to_owned(),
            operation: format!("attach {} to '{target}'", section.name),
            source,
            hint,
        }
    })
}

/// `ENOTSUPP` (524), the kernel-internal errno that leaks from trampoline setup.
const ENOTSUPP: i32 = 524;
