//! XDP redirect targets: `BPF_MAP_TYPE_DEVMAP`, `DEVMAP_HASH`, `CPUMAP` and `XSKMAP`.

use super::{map_ptr, Uint};
use crate::bindings::map_type::{
    BPF_MAP_TYPE_CPUMAP, BPF_MAP_TYPE_DEVMAP, BPF_MAP_TYPE_DEVMAP_HASH, BPF_MAP_TYPE_XSKMAP,
};
use crate::helpers::bpf_redirect_map;

macro_rules! redirect_map {
    ($(#[$doc:meta])* $name:ident, $map_type:expr) => {
        $(#[$doc])*
        #[repr(C)]
        pub struct $name<const MAX_ENTRIES: usize, const FLAGS: usize = 0> {
            r#type: Uint<{ $map_type }>,
            key: *const u32,
            value: *const u32,
            max_entries: Uint<MAX_ENTRIES>,
            map_flags: Uint<FLAGS>,
        }

        // SAFETY: type-level pointers only, never dereferenced; the map lives in the kernel.
        unsafe impl<const M: usize, const F: usize> Sync for $name<M, F> {}

        impl<const MAX_ENTRIES: usize, const FLAGS: usize> $name<MAX_ENTRIES, FLAGS> {
            /// The map definition.
            #[allow(clippy::new_without_default)]
            pub const fn new() -> Self {
                Self {
                    r#type: core::ptr::null(),
                    key: core::ptr::null(),
                    value: core::ptr::null(),
                    max_entries: core::ptr::null(),
                    map_flags: core::ptr::null(),
                }
            }

            /// `bpf_redirect_map`: the XDP action that sends the frame to entry `key`
            /// (`XDP_REDIRECT`), or the action in the low bits of `flags` when absent.
            #[inline(always)]
            pub fn redirect(&self, key: u32, flags: u64) -> u32 {
                // SAFETY: the map pointer is this map; the kernel validates the key.
                unsafe { bpf_redirect_map(map_ptr(self), key as u64, flags) as u32 }
            }
        }
    };
}

redirect_map!(
    /// `BPF_MAP_TYPE_DEVMAP`: index → network device (ifindex).
    DevMap,
    BPF_MAP_TYPE_DEVMAP
);
redirect_map!(
    /// `BPF_MAP_TYPE_DEVMAP_HASH`: ifindex key → network device.
    DevMapHash,
    BPF_MAP_TYPE_DEVMAP_HASH
);
redirect_map!(
    /// `BPF_MAP_TYPE_CPUMAP`: CPU index → queue size of that CPU's kthread.
    CpuMap,
    BPF_MAP_TYPE_CPUMAP
);
redirect_map!(
    /// `BPF_MAP_TYPE_XSKMAP`: receive queue index → AF_XDP socket.
    XskMap,
    BPF_MAP_TYPE_XSKMAP
);
