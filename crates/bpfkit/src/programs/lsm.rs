//! BPF LSM programs (`SEC("lsm/<hook>")`, `BPF_PROG_TYPE_LSM`): attached to the hook resolved
//! to `attach_btf_id` (`bpf_lsm_<hook>`) at load time, through a trampoline.
//!
//! The kernel needs `CONFIG_BPF_LSM` and `bpf` in its active LSM list (`lsm=` boot parameter or
//! `CONFIG_LSM`); without them the attach fails and the error says which is missing.

use crate::links::Link;
use crate::loader::Program;

use super::perf_attach::expect_type;
use super::tracing::attach_btf_program;
use super::{AttachError, ProgramType};

/// Attach an LSM program to its hook.
#[doc(alias = "BPF_PROG_TYPE_LSM")]
pub fn attach(program: &Program) -> Result<Link, AttachError> {
    expect_type(program, &[ProgramType::Lsm], "an LSM program")?;
    match attach_btf_program(program, None) {
        Err(e) => {
            if !bpf_lsm_active() {
                return Err(AttachError::unsupported(
                    program.name(),
                    format!(
                        "the BPF LSM is not active: 'bpf' is not in /sys/kernel/security/lsm \
                         (needs CONFIG_BPF_LSM and lsm=...,bpf): {e}"
                    ),
                ));
            }
            Err(e)
        }
        ok => ok,
    }
}

/// Whether `bpf` is in the active LSM list (`/sys/kernel/security/lsm`, mounting securityfs
/// is left to the system; an unreadable list counts as inactive).
pub fn bpf_lsm_active() -> bool {
    std::fs::read_to_string("/sys/kernel/security/lsm")
        .is_ok_and(|list| list.trim().split(',').any(|l| l == "bpf"))
}
