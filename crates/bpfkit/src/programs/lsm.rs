//! BPF LSM programs (`SEC("lsm/<hook>")`, `BPF_PROG_TYPE_LSM`): attached to the hook resolved
//! to `attach_btf_id` (`bpf_lsm_<hook>`) at load time, through a trampoline.
//!
//! `SEC("lsm_cgroup/<hook>")` programs (`BPF_LSM_CGROUP`, Linux 6.0) run the same hook only
//! for tasks of a cgroup (and its descendants): [`attach_cgroup`] links them to a cgroup v2
//! directory. For them a return of 0 denies (the hook fails with `EPERM`, or the value the
//! program set with `bpf_set_retval`), 1 allows.
//!
//! The kernel needs `CONFIG_BPF_LSM` and `bpf` in its active LSM list (`lsm=` boot parameter or
//! `CONFIG_LSM`); without them the attach fails and the error says which is missing.

use std::os::fd::AsFd;
use std::path::Path;

use crate::links::Link;
use crate::loader::Program;

use super::cgroup::{self, CgroupOptions};

use super::perf_attach::expect_type;
use super::tracing::attach_btf_program;
use super::{AttachError, ProgramType};

/// Attach an LSM program to its hook.
#[doc(alias = "BPF_PROG_TYPE_LSM")]
pub fn attach(program: &Program) -> Result<Link, AttachError> {
    expect_type(program, &[ProgramType::Lsm], "an LSM program")?;
    if cgroup::is_lsm_cgroup(program) {
        return Err(AttachError::unsupported(
            program.name(),
            "an lsm_cgroup program runs for one cgroup: attach it with lsm::attach_cgroup",
        ));
    }
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
    crate::sys::fdtrace::read_to_string("/sys/kernel/security/lsm", "securityfs file")
        .is_ok_and(|list| list.trim().split(',').any(|l| l == "bpf"))
}

/// Attach an `lsm_cgroup/<hook>` program to the cgroup open as `cgroup` (a cgroup v2
/// directory): a cgroup link by default, or `BPF_PROG_ATTACH` with the flags of `options`
/// (its `attach_type` is ignored: the hook is the one the program was loaded for). The link
/// detaches on drop.
///
/// ```no_run
/// # let object = bpfkit::loader::Loader::new().load_file("lsm_cgroup.bpf.o")?;
/// use bpfkit::programs::{cgroup::CgroupOptions, lsm};
/// let dir = std::fs::File::open("/sys/fs/cgroup/app")?;
/// let program = object.program("deny_socket").unwrap();
/// let link = lsm::attach_cgroup(program, &dir, &CgroupOptions::default())?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[doc(alias = "BPF_LSM_CGROUP")]
pub fn attach_cgroup(
    program: &Program,
    cgroup: impl AsFd,
    options: &CgroupOptions,
) -> Result<Link, AttachError> {
    attach_cgroup_checked(program, options, |options| {
        cgroup::attach_fd(program, cgroup.as_fd(), options, "cgroup")
    })
}

/// [`attach_cgroup`] to the cgroup directory at `path`.
pub fn attach_cgroup_path(
    program: &Program,
    path: impl AsRef<Path>,
    options: &CgroupOptions,
) -> Result<Link, AttachError> {
    attach_cgroup_checked(program, options, |options| {
        cgroup::attach_path(program, path.as_ref(), options)
    })
}

fn attach_cgroup_checked(
    program: &Program,
    options: &CgroupOptions,
    attach: impl FnOnce(&CgroupOptions) -> Result<Link, AttachError>,
) -> Result<Link, AttachError> {
    expect_type(program, &[ProgramType::Lsm], "an lsm_cgroup program")?;
    if !cgroup::is_lsm_cgroup(program) {
        return Err(AttachError::unsupported(
            program.name(),
            format!(
                "section '{}' is not lsm_cgroup/<hook>: attach it with lsm::attach",
                program.section().name
            ),
        ));
    }
    let options = CgroupOptions {
        attach_type: Some(bpfkit_obj::object::AttachType::LsmCgroup),
        ..*options
    };
    match attach(&options) {
        Err(e) if !bpf_lsm_active() => Err(AttachError::unsupported(
            program.name(),
            format!(
                "the BPF LSM is not active: 'bpf' is not in /sys/kernel/security/lsm \
                 (needs CONFIG_BPF_LSM and lsm=...,bpf): {e}"
            ),
        )),
        result => result,
    }
}
