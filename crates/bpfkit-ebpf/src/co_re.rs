//! CO-RE field access: read kernel struct fields at the offsets of the *running* kernel.
//!
//! Declare a `#[repr(C)]` stand-in for the kernel struct with the kernel's name and the
//! members you use (their order and offsets do not matter), then read through the macros.
//! They call `bpfcore$…` marker functions that bpfkit-link turns into CO-RE relocations, which
//! the loader (bpfkit or libbpf) resolves against the kernel's BTF:
//!
//! ```ignore
//! #[allow(non_camel_case_types)]
//! #[repr(C)]
//! pub struct task_struct { pub tgid: i32, pub real_parent: *const task_struct }
//!
//! let task = helpers::current_task().cast::<task_struct>();
//! let parent = bpfkit_ebpf::core_read!(task, task_struct, real_parent)?;
//! let ppid = bpfkit_ebpf::core_read!(parent, task_struct, tgid)?;
//! ```
//!
//! Only programs built with bpfkit-link can use these (another linker leaves the markers
//! undefined).

/// Gives the marker's untyped result the field's type (inferred from the accessor closure,
/// which is never called).
#[doc(hidden)]
#[inline(always)]
pub fn __typed<S, F>(field: *const u8, _accessor: impl Fn(&S) -> &F) -> *const F {
    field.cast()
}

/// The running kernel's address of `(*ptr).field`, for a `#[repr(C)]` stand-in struct
/// named like the kernel's: `core_field!(ptr, task_struct, tgid)` is a `*const i32` to read
/// with `probe_read_kernel`. Nested embedded members: `core_field!(p, sk_buff, head.next)`
/// is not supported; chain reads instead.
#[macro_export]
macro_rules! core_field {
    ($ptr:expr, $struct:ident, $field:ident) => {{
        unsafe extern "C" {
            #[link_name = ::core::concat!("bpfcore$field$", ::core::stringify!($struct), "$", ::core::stringify!($field))]
            fn __bpfkit_core_field(base: *const $struct) -> *const u8;
        }
        let base: *const $struct = $ptr;
        // SAFETY: bpfkit-link replaces the marker with a CO-RE relocated address computation;
        // nothing is dereferenced.
        let field = unsafe { __bpfkit_core_field(base) };
        $crate::co_re::__typed(field, |s: &$struct| &s.$field)
    }};
}

/// Reads `(*ptr).field` from kernel memory at the running kernel's offset
/// (`bpf_probe_read_kernel`): `Result<FieldType, i64>`.
#[macro_export]
macro_rules! core_read {
    ($ptr:expr, $struct:ident, $field:ident) => {
        $crate::helpers::probe_read_kernel($crate::core_field!($ptr, $struct, $field))
    };
}

/// Whether the running kernel's `struct $struct` has `$field` (`bool`).
#[macro_export]
macro_rules! core_exists {
    ($ptr:expr, $struct:ident, $field:ident) => {{
        unsafe extern "C" {
            #[link_name = ::core::concat!("bpfcore$exists$", ::core::stringify!($struct), "$", ::core::stringify!($field))]
            fn __bpfkit_core_exists(base: *const $struct) -> u32;
        }
        let _ = |s: &$struct| { let _ = &s.$field; };
        // SAFETY: replaced by bpfkit-link with a constant the loader fills in.
        unsafe { __bpfkit_core_exists($ptr) != 0 }
    }};
}

/// Byte size of `$field` in the running kernel (`u32`).
#[macro_export]
macro_rules! core_size {
    ($ptr:expr, $struct:ident, $field:ident) => {{
        unsafe extern "C" {
            #[link_name = ::core::concat!("bpfcore$size$", ::core::stringify!($struct), "$", ::core::stringify!($field))]
            fn __bpfkit_core_size(base: *const $struct) -> u32;
        }
        let _ = |s: &$struct| { let _ = &s.$field; };
        // SAFETY: replaced by bpfkit-link with a constant the loader fills in.
        unsafe { __bpfkit_core_size($ptr) }
    }};
}

/// Byte offset of `$field` in the running kernel's `struct $struct` (`u32`).
#[macro_export]
macro_rules! core_offset {
    ($ptr:expr, $struct:ident, $field:ident) => {{
        unsafe extern "C" {
            #[link_name = ::core::concat!("bpfcore$offset$", ::core::stringify!($struct), "$", ::core::stringify!($field))]
            fn __bpfkit_core_offset(base: *const $struct) -> u32;
        }
        let _ = |s: &$struct| { let _ = &s.$field; };
        // SAFETY: replaced by bpfkit-link with a constant the loader fills in.
        unsafe { __bpfkit_core_offset($ptr) }
    }};
}
