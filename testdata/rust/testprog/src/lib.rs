//! What the test programs share: the libbpf layout of BTF-defined maps, raw helper calls
//! and the panic handler.
#![no_std]

use core::ffi::c_void;

/// `BPF_MAP_TYPE_HASH`.
pub const BPF_MAP_TYPE_HASH: usize = 1;
/// `BPF_MAP_TYPE_ARRAY`.
pub const BPF_MAP_TYPE_ARRAY: usize = 2;

/// A BTF-defined map as libbpf reads it: `__uint(type, T)` is a pointer to an array of
/// `T` ints, `__type(key, K)` a pointer to `K`.
#[repr(C)]
pub struct MapDef<const TYPE: usize, K, V, const MAX_ENTRIES: usize> {
    r#type: *const [i32; TYPE],
    key: *const K,
    value: *const V,
    max_entries: *const [i32; MAX_ENTRIES],
}

// SAFETY: the fields are never dereferenced; they only carry types for BTF.
unsafe impl<const TYPE: usize, K, V, const N: usize> Sync for MapDef<TYPE, K, V, N> {}

impl<const TYPE: usize, K, V, const N: usize> MapDef<TYPE, K, V, N> {
    /// The definition (all pointers null: only their types matter).
    pub const fn new() -> Self {
        Self {
            r#type: core::ptr::null(),
            key: core::ptr::null(),
            value: core::ptr::null(),
            max_entries: core::ptr::null(),
        }
    }

    /// `bpf_map_lookup_elem`.
    #[inline(always)]
    pub fn get(&self, key: &K) -> Option<&mut V> {
        // SAFETY: helper 1 is bpf_map_lookup_elem; the kernel returns null or a pointer to
        // a value of the map's value type.
        unsafe {
            let f: unsafe extern "C" fn(*const c_void, *const c_void) -> *mut c_void =
                core::mem::transmute(1usize);
            (f(
                self as *const _ as *const c_void,
                key as *const K as *const c_void,
            ) as *mut V)
                .as_mut()
        }
    }

    /// `bpf_map_update_elem` with `BPF_ANY`.
    #[inline(always)]
    pub fn insert(&self, key: &K, value: &V) -> i64 {
        // SAFETY: helper 2 is bpf_map_update_elem; key and value are valid for reads.
        unsafe {
            let f: unsafe extern "C" fn(*const c_void, *const c_void, *const c_void, u64) -> i64 =
                core::mem::transmute(2usize);
            f(
                self as *const _ as *const c_void,
                key as *const K as *const c_void,
                value as *const V as *const c_void,
                0,
            )
        }
    }
}

/// `bpf_get_current_pid_tgid() >> 32`: the process id.
#[inline(always)]
pub fn current_tgid() -> u32 {
    // SAFETY: helper 14 is bpf_get_current_pid_tgid, no arguments.
    unsafe {
        let f: unsafe extern "C" fn() -> u64 = core::mem::transmute(14usize);
        (f() >> 32) as u32
    }
}

/// `bpf_ktime_get_ns()`.
#[inline(always)]
pub fn ktime_ns() -> u64 {
    // SAFETY: helper 5 is bpf_ktime_get_ns, no arguments.
    unsafe {
        let f: unsafe extern "C" fn() -> u64 = core::mem::transmute(5usize);
        f()
    }
}

#[cfg(any(target_arch = "bpf", bpfkit_ebpf))]
#[panic_handler]
fn panic(_: &core::panic::PanicInfo) -> ! {
    loop {}
}
