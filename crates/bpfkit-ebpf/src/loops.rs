//! `bpf_loop`: run a closure up to N times, compiled to a BPF callback (a generic
//! `extern "C"` trampoline plus a pointer to the closure), so the verifier checks the body
//! once instead of unrolling it.

use core::ffi::c_void;

use crate::helpers::{bpf_loop, check};

/// What a loop body tells the loop to do next.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(i64)]
pub enum LoopControl {
    /// Run the next iteration.
    Continue = 0,
    /// Stop now.
    Break = 1,
}

#[inline(never)]
extern "C" fn loop_trampoline<F: FnMut(u32) -> LoopControl>(index: u64, ctx: *mut c_void) -> i64 {
    // SAFETY: `ctx` is the `&mut F` that `for_each` handed to `bpf_loop`, alive for the call.
    let f = unsafe { &mut *ctx.cast::<F>() };
    f(index as u32) as i64
}

/// Calls `body(i)` for `i` in `0..iterations` (at most 1 << 23) until it returns
/// [`LoopControl::Break`]; returns the number of iterations run.
///
/// ```ignore
/// let mut sum = 0u64;
/// bpfkit_ebpf::loops::for_each(100, |i| { sum += i as u64; LoopControl::Continue });
/// ```
#[inline(always)]
pub fn for_each<F: FnMut(u32) -> LoopControl>(iterations: u32, mut body: F) -> Result<u32, i64> {
    let callback = loop_trampoline::<F> as *const () as *mut c_void;
    // SAFETY: the callback has the `long (*)(u64 index, void *ctx)` shape bpf_loop calls, and
    // `ctx` points to `body`, alive until bpf_loop returns.
    let ret = unsafe { bpf_loop(iterations, callback, (&mut body as *mut F).cast(), 0) };
    check(ret).map(|n| n as u32)
}
