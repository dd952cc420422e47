//! Contexts whose R1 is an array of 64-bit arguments: raw tracepoints, BTF tracepoints,
//! fentry/fexit/fmod_ret, LSM hooks and iterators.

use core::ffi::c_void;

use super::EbpfContext;
use crate::helpers::{bpf_get_func_ret, check};

/// A value that arrives in a 64-bit argument slot or register.
pub trait FromRegister: Sized {
    /// Converts the slot's bits to `Self` (truncating integers, reinterpreting pointers).
    fn from_register(value: u64) -> Self;
}

macro_rules! from_register_int {
    ($($ty:ty),*) => {$(
        impl FromRegister for $ty {
            #[inline(always)]
            fn from_register(value: u64) -> Self {
                value as $ty
            }
        }
    )*};
}
from_register_int!(u8, u16, u32, u64, usize, i8, i16, i32, i64, isize);

impl<T> FromRegister for *const T {
    #[inline(always)]
    fn from_register(value: u64) -> Self {
        value as usize as *const T
    }
}

impl<T> FromRegister for *mut T {
    #[inline(always)]
    fn from_register(value: u64) -> Self {
        value as usize as *mut T
    }
}

macro_rules! args_context {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        pub struct $name {
            args: *mut u64,
        }

        impl $name {
            /// Wraps the context pointer the kernel passed to the program.
            ///
            /// # Safety
            /// `ctx` must be the R1 argument of a program of this context's program type.
            #[inline(always)]
            pub unsafe fn new(ctx: *mut c_void) -> Self {
                Self { args: ctx.cast() }
            }

            /// Argument `n` (0-based) of the traced function or event.
            ///
            /// # Safety
            /// `n` must be below the traced function's argument count and `T` its type; the
            /// verifier rejects reads past the arguments.
            #[inline(always)]
            pub unsafe fn arg<T: FromRegister>(&self, n: usize) -> T {
                // SAFETY: the caller guarantees `n` is in range; slots are 8-byte aligned.
                T::from_register(unsafe { self.args.add(n).read() })
            }
        }

        impl EbpfContext for $name {
            #[inline(always)]
            fn as_ptr(&self) -> *mut c_void {
                self.args.cast()
            }
        }
    };
}

args_context!(
    /// Context of a `raw_tracepoint/<name>` program: the tracepoint's raw arguments.
    RawTracePointContext
);
args_context!(
    /// Context of a `tp_btf/<name>` program: typed tracepoint arguments.
    BtfTracePointContext
);
args_context!(
    /// Context of an `fentry/<function>` program: the function's arguments.
    FEntryContext
);
args_context!(
    /// Context of an `fexit/<function>` program: the function's arguments, then its return value.
    FExitContext
);
args_context!(
    /// Context of an `fmod_ret/<function>` program: the arguments, then the return value so far.
    FModRetContext
);
args_context!(
    /// Context of an `lsm/<hook>` program: the hook's arguments, then the previous verdict.
    LsmContext
);
args_context!(
    /// Context of an `iter/<target>` program: `arg(0)` is `struct bpf_iter_meta *`, `arg(1)`
    /// the object visited (`NULL` once at the end).
    IterContext
);

impl FExitContext {
    /// The traced function's return value (`bpf_get_func_ret`).
    #[inline(always)]
    pub fn ret(&self) -> Result<u64, i64> {
        let mut value = 0u64;
        // SAFETY: the context is an fexit context; the helper writes one u64.
        check(unsafe { bpf_get_func_ret(self.as_ptr(), &mut value) })?;
        Ok(value)
    }
}
