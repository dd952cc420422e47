//! Syscall programs (`SEC("syscall")`, `BPF_PROG_TYPE_SYSCALL`): not attached anywhere; run on
//! demand with `BPF_PROG_TEST_RUN`, with a context the program may read and write.

use crate::loader::Program;
use crate::sys;

use super::perf_attach::expect_type;
use super::{AttachError, ProgramType};

/// Run a syscall program once with `context` as its `ctx`; the kernel writes the context back
/// into the same buffer. Returns the program's return value.
#[doc(alias = "BPF_PROG_TYPE_SYSCALL")]
pub fn run(program: &Program, context: &mut [u8]) -> Result<u32, AttachError> {
    expect_type(program, &[ProgramType::Syscall], "a SYSCALL program")?;
    sys::attach::prog_run_syscall(program.fd(), context)
        .map_err(|e| AttachError::syscall(program.name(), "BPF_PROG_TEST_RUN", e))
}
