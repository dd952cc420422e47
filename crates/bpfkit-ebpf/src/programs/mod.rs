//! Program contexts: one type per program type, wrapping the pointer the kernel passes in R1
//! with accessors for the fields the verifier lets that program type read or write.
//!
//! The attribute macros (`#[xdp]`, `#[tracepoint]`, …) build these; programs never construct
//! them from arbitrary pointers.

mod args;
mod cgroup;
mod flow_dissector;
mod perf_event;
mod probe;
mod sk_buff;
mod sk_lookup;
mod sk_msg;
mod sock_ops;
mod tracepoint;
mod xdp;

use core::ffi::c_void;

pub use args::{
    BtfTracePointContext, FEntryContext, FExitContext, FModRetContext, FromRegister, IterContext,
    LsmContext, RawTracePointContext,
};
pub use cgroup::{
    CgroupDeviceContext, CgroupSockAddrContext, CgroupSockContext, CgroupSockoptContext,
    CgroupSysctlContext,
};
pub use flow_dissector::FlowDissectorContext;
pub use perf_event::PerfEventContext;
pub use probe::ProbeContext;
pub use sk_buff::{CgroupSkbContext, SkBuffContext, SkSkbContext, SocketFilterContext, TcContext};
pub use sk_lookup::SkLookupContext;
pub use sk_msg::SkMsgContext;
pub use sock_ops::SockOpsContext;
pub use tracepoint::TracePointContext;
pub use xdp::{XdpContext, XDP_ABORTED, XDP_DROP, XDP_PASS, XDP_REDIRECT, XDP_TX};

/// A program context: the raw pointer helpers such as `bpf_perf_event_output` take.
pub trait EbpfContext {
    /// The context pointer the kernel passed to the program.
    fn as_ptr(&self) -> *mut c_void;
}

/// Implements `new` and [`EbpfContext`] for a context wrapping `$field: *mut $ty`.
macro_rules! context {
    ($name:ident, $field:ident : $ty:ty) => {
        impl $name {
            /// Wraps the context pointer the kernel passed to the program.
            ///
            /// # Safety
            /// `ctx` must be the R1 argument of a program of this context's program type.
            #[inline(always)]
            pub unsafe fn new(ctx: *mut core::ffi::c_void) -> Self {
                Self {
                    $field: ctx.cast::<$ty>(),
                }
            }
        }

        impl $crate::programs::EbpfContext for $name {
            #[inline(always)]
            fn as_ptr(&self) -> *mut core::ffi::c_void {
                self.$field.cast()
            }
        }
    };
}
pub(crate) use context;

/// Getters (and optional setters) for context fields, read with a plain load the verifier
/// rewrites into the kernel's field access.
macro_rules! fields {
    ($ptr:ident; $($(#[$doc:meta])* $get:ident $(/ $set:ident)? => $field:ident : $ty:ty),* $(,)?) => {$(
        $(#[$doc])*
        #[inline(always)]
        pub fn $get(&self) -> $ty {
            // SAFETY: the pointer is the program's context (see `new`); the verifier allows
            // reading this field for this program type.
            unsafe { core::ptr::addr_of!((*self.$ptr).$field).read_volatile() }
        }
        $(
            #[doc = concat!("Sets `", stringify!($field), "`.")]
            #[inline(always)]
            pub fn $set(&mut self, value: $ty) {
                // SAFETY: as for the getter; the verifier allows writing this field.
                unsafe { core::ptr::addr_of_mut!((*self.$ptr).$field).write_volatile(value) }
            }
        )?
    )*};
}
pub(crate) use fields;
