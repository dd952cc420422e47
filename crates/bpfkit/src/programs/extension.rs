//! Extension programs (`SEC("freplace/<function>")`, `BPF_PROG_TYPE_EXT`): replace a global
//! function of another loaded BPF program. The target program and the BTF id of its function
//! are given at load time ([`Loader::extension_target`](crate::loader::Loader::extension_target),
//! with the id from [`target_btf_id`]); attaching makes a tracing link that swaps the function
//! in until the link is dropped.

use std::os::fd::BorrowedFd;

use bpfkit_obj::btf::{Btf, Kind};

use crate::info::ProgramInfo;
use crate::links::Link;
use crate::loader::Program;
use crate::sys;

use super::perf_attach::expect_type;
use super::{AttachError, ProgramType};

/// The BTF id of global function `function` in the BTF of the loaded program `target`.
pub fn target_btf_id(target: BorrowedFd<'_>, function: &str) -> Result<u32, AttachError> {
    let what = "freplace target";
    let info = ProgramInfo::from_fd(target)
        .map_err(|e| AttachError::syscall(what, "target program info", e))?;
    if info.btf_id == 0 {
        return Err(AttachError::target(
            what,
            function,
            "the target program has no BTF",
        ));
    }
    let btf_fd = sys::get_fd_by_id(sys::ObjectKind::Btf, info.btf_id)
        .map_err(|e| AttachError::syscall(what, "BPF_BTF_GET_FD_BY_ID", e))?;
    let bytes = sys::attach::btf_bytes(std::os::fd::AsFd::as_fd(&btf_fd))
        .map_err(|e| AttachError::syscall(what, "read the target's BTF", e))?;
    let btf = Btf::parse(&bytes)
        .map_err(|e| AttachError::target(what, function, format!("target BTF: {e}")))?;
    btf.id_by_name_kind(function, Kind::Func).ok_or_else(|| {
        AttachError::target(
            what,
            function,
            format!("no function '{function}' in program '{}'", info.name),
        )
    })
}

/// Attach an extension program to the function it was loaded for.
#[doc(alias = "BPF_PROG_TYPE_EXT")]
#[doc(alias = "freplace")]
pub fn attach(program: &Program) -> Result<Link, AttachError> {
    expect_type(program, &[ProgramType::Ext], "an EXT (freplace) program")?;
    // target_fd 0 and target_btf_id 0: the target given at load time.
    let attr = sys::link_create_attr(program.fd(), 0, 0, 0);
    // SAFETY: no pointers in the attr.
    unsafe { sys::link_create(attr) }
        .map(Link::bpf)
        .map_err(|e| AttachError::syscall(program.name(), "BPF_LINK_CREATE freplace", e))
}
