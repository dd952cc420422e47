//! Types in the object's BTF that no map, global or program signature mentions.
//!
//! BTF describes the types of maps, globals and functions; a record only ever written
//! through [`RingBuf::reserve`](crate::maps::RingBuf::reserve) or a perf buffer has none of
//! those, so tools (`bpftool btf dump`, a skeleton, a generic decoder) could not find its
//! layout. [`btf_types!`](crate::btf_types) anchors such types in the object's BTF:
//!
//! ```ignore
//! #[repr(C)]
//! pub struct Event { pid: u32, comm: [u8; 16] }
//!
//! bpfkit_ebpf::btf_types!(Event);
//! ```
//!
//! Each type gets one small global, `__bpfkit_btf_<Type>`, in the section
//! `.bpfkit.btf_types`, described by a BTF `DATASEC` of that name. Loaders create no map for
//! the section (bpfkit's and libbpf's skip unknown data sections), so it costs nothing in
//! the kernel; the types reach the kernel with the object's BTF.

/// What [`btf_types!`](crate::btf_types) places in `.bpfkit.btf_types` for one type: a
/// zero-length array of `T` (so its debug info, and BTF, describes `T` in full, where a
/// pointer would leave only a forward declaration) and one byte, so the global has a size.
#[repr(C)]
pub struct BtfAnchor<T> {
    types: [T; 0],
    present: u8,
}

// SAFETY: there is no `T` in it (the array is empty) and the byte is never written.
unsafe impl<T> Sync for BtfAnchor<T> {}

impl<T> BtfAnchor<T> {
    /// The anchor.
    #[allow(clippy::new_without_default)]
    pub const fn new() -> Self {
        Self {
            types: [],
            present: 1,
        }
    }
}

/// Puts each listed type into the object's BTF (see [`btf`](crate::btf)), so a record type
/// used only through `reserve::<T>()` or `output` can be decoded by tools. Name each type
/// by a plain identifier (`use` it first): the global is `__bpfkit_btf_<name>`.
///
/// ```ignore
/// use my_common::{Call, ExecEvent};
/// bpfkit_ebpf::btf_types!(ExecEvent, Call);
/// ```
#[macro_export]
macro_rules! btf_types {
    ($($t:ident),+ $(,)?) => {
        $(
            const _: () = {
                #[unsafe(export_name = ::core::concat!("__bpfkit_btf_", ::core::stringify!($t)))]
                #[unsafe(link_section = ".bpfkit.btf_types")]
                static ANCHOR: $crate::btf::BtfAnchor<$t> = $crate::btf::BtfAnchor::new();
            };
        )+
    };
}
