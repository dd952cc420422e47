//! Raw tracepoints (`SEC("raw_tp/<name>")`, `raw_tp.w`): `BPF_RAW_TRACEPOINT_OPEN` by name.

use std::ffi::CString;

use crate::links::Link;
use crate::loader::Program;
use crate::sys;

use super::perf_attach::expect_type;
use super::{AttachError, ProgramType};

/// Attach a `BPF_PROG_TYPE_RAW_TRACEPOINT` (or `_WRITABLE`) program to the raw tracepoint
/// `name` (e.g. `sys_enter`); the link is a `BPF_LINK_TYPE_RAW_TRACEPOINT`.
#[doc(alias = "BPF_PROG_TYPE_RAW_TRACEPOINT")]
#[doc(alias = "BPF_PROG_TYPE_RAW_TRACEPOINT_WRITABLE")]
pub fn attach(program: &Program, name: &str) -> Result<Link, AttachError> {
    expect_type(
        program,
        &[
            ProgramType::RawTracepoint,
            ProgramType::RawTracepointWritable,
        ],
        "a RAW_TRACEPOINT program",
    )?;
    let c_name = CString::new(name)
        .map_err(|_| AttachError::target(program.name(), name, "contains a NUL byte"))?;
    let fd = sys::raw_tracepoint_open(Some(&c_name), program.fd()).map_err(|e| {
        let hint = (e.errno() == Some(libc::ENOENT)).then_some("no raw tracepoint of that name");
        AttachError::Syscall {
            requires: None,
            program: program.name().to_owned(),
            operation: format!("BPF_RAW_TRACEPOINT_OPEN {name}"),
            source: e,
            hint,
        }
    })?;
    Ok(Link::bpf(fd))
}
