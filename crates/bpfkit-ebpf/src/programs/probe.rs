//! kprobe/kretprobe/uprobe/uretprobe/ksyscall/USDT (`BPF_PROG_TYPE_KPROBE`) context: the
//! registers saved at the probe.

use super::args::FromRegister;
use super::context;
use crate::bindings::pt_regs;
use crate::helpers::probe_read_kernel;

/// Context of a probe program: the probed function's saved registers (`struct pt_regs` of the
/// architecture chosen at build time, see the crate's build script).
pub struct ProbeContext {
    regs: *mut pt_regs,
}

context!(ProbeContext, regs: pt_regs);

impl ProbeContext {
    /// Saved registers, read field by field with `read_volatile` by the accessors below.
    #[inline(always)]
    fn reg(&self, index: usize) -> Option<u64> {
        register(self.regs, index)
    }

    /// Argument `n` (0-based) of the probed function under the C calling convention, `None`
    /// beyond the register arguments (6 on x86_64, 8 on aarch64).
    #[inline(always)]
    pub fn arg<T: FromRegister>(&self, n: usize) -> Option<T> {
        self.reg(n).map(T::from_register)
    }

    /// Return value of the probed function (meaningful in kretprobes and uretprobes).
    #[inline(always)]
    pub fn ret<T: FromRegister>(&self) -> T {
        T::from_register(return_register(self.regs))
    }

    /// Argument `n` of a system call, for `ksyscall/` programs on kernels whose syscall
    /// wrappers receive the user registers through a `struct pt_regs *` (x86_64, aarch64).
    #[inline(always)]
    pub fn syscall_arg<T: FromRegister>(&self, n: usize) -> Option<T> {
        let inner = self.arg::<*const pt_regs>(0)?;
        let value = read_syscall_register(inner, n)?;
        Some(T::from_register(value))
    }
}

#[cfg(bpf_target_arch = "x86_64")]
#[inline(always)]
fn register(regs: *mut pt_regs, index: usize) -> Option<u64> {
    // SAFETY: `regs` is the probe's context; the verifier allows reading saved registers.
    unsafe {
        let regs = &*regs;
        Some(match index {
            0 => core::ptr::addr_of!(regs.rdi).read_volatile(),
            1 => core::ptr::addr_of!(regs.rsi).read_volatile(),
            2 => core::ptr::addr_of!(regs.rdx).read_volatile(),
            3 => core::ptr::addr_of!(regs.rcx).read_volatile(),
            4 => core::ptr::addr_of!(regs.r8).read_volatile(),
            5 => core::ptr::addr_of!(regs.r9).read_volatile(),
            _ => return None,
        })
    }
}

#[cfg(bpf_target_arch = "x86_64")]
#[inline(always)]
fn return_register(regs: *mut pt_regs) -> u64 {
    // SAFETY: as in `register`.
    unsafe { core::ptr::addr_of!((*regs).rax).read_volatile() }
}

#[cfg(bpf_target_arch = "x86_64")]
#[inline(always)]
fn read_syscall_register(inner: *const pt_regs, n: usize) -> Option<u64> {
    // SAFETY: only the field address is computed; the kernel memory is read by the helper.
    let field = unsafe {
        match n {
            0 => core::ptr::addr_of!((*inner).rdi),
            1 => core::ptr::addr_of!((*inner).rsi),
            2 => core::ptr::addr_of!((*inner).rdx),
            3 => core::ptr::addr_of!((*inner).r10),
            4 => core::ptr::addr_of!((*inner).r8),
            5 => core::ptr::addr_of!((*inner).r9),
            _ => return None,
        }
    };
    probe_read_kernel(field).ok()
}

#[cfg(bpf_target_arch = "aarch64")]
#[inline(always)]
fn register(regs: *mut pt_regs, index: usize) -> Option<u64> {
    if index >= 8 {
        return None;
    }
    // SAFETY: `regs` is the probe's context; `index < 8 < 31`.
    Some(unsafe { core::ptr::addr_of!((*regs).regs[index]).read_volatile() })
}

#[cfg(bpf_target_arch = "aarch64")]
#[inline(always)]
fn return_register(regs: *mut pt_regs) -> u64 {
    // SAFETY: as in `register`.
    unsafe { core::ptr::addr_of!((*regs).regs[0]).read_volatile() }
}

#[cfg(bpf_target_arch = "aarch64")]
#[inline(always)]
fn read_syscall_register(inner: *const pt_regs, n: usize) -> Option<u64> {
    if n >= 6 {
        return None;
    }
    // SAFETY: only the field address is computed; the kernel memory is read by the helper.
    let field = unsafe { core::ptr::addr_of!((*inner).regs[n]) };
    probe_read_kernel(field).ok()
}
