//! Local storages: per-socket, per-inode, per-task and per-cgroup values owned by the kernel
//! object they hang off (`BPF_MAP_TYPE_{SK,INODE,TASK,CGRP}_STORAGE`), and the legacy
//! attach-time `BPF_MAP_TYPE_CGROUP_STORAGE`.

use core::ffi::c_void;
use core::ptr::NonNull;

use super::{map_ptr, Uint};
use crate::bindings::flags::BPF_F_NO_PREALLOC;
use crate::bindings::map_type::{
    BPF_MAP_TYPE_CGROUP_STORAGE, BPF_MAP_TYPE_CGRP_STORAGE, BPF_MAP_TYPE_INODE_STORAGE,
    BPF_MAP_TYPE_SK_STORAGE, BPF_MAP_TYPE_TASK_STORAGE,
};
use crate::bindings::{bpf_cgroup_storage_key, cgroup, task_struct};
use crate::helpers::{
    bpf_cgrp_storage_delete, bpf_cgrp_storage_get, bpf_get_local_storage, bpf_inode_storage_delete,
    bpf_inode_storage_get, bpf_sk_storage_delete, bpf_sk_storage_get, bpf_task_storage_delete,
    bpf_task_storage_get, check,
};

macro_rules! local_storage {
    ($(#[$doc:meta])* $name:ident, $map_type:expr, $owner:ty, $get:ident, $delete:ident) => {
        $(#[$doc])*
        #[repr(C)]
        pub struct $name<V> {
            r#type: Uint<{ $map_type }>,
            map_flags: Uint<BPF_F_NO_PREALLOC>,
            key: *const i32,
            value: *const V,
        }

        // SAFETY: type-level pointers only, never dereferenced; the map lives in the kernel.
        unsafe impl<V> Sync for $name<V> {}

        impl<V> $name<V> {
            /// The map definition.
            #[allow(clippy::new_without_default)]
            pub const fn new() -> Self {
                Self {
                    r#type: core::ptr::null(),
                    map_flags: core::ptr::null(),
                    key: core::ptr::null(),
                    value: core::ptr::null(),
                }
            }

            /// The owner's value; with `BPF_LOCAL_STORAGE_GET_F_CREATE` in `flags` it is created
            /// (from `init`, or zeroed) when absent.
            ///
            /// # Safety
            /// `owner` must be a pointer the verifier accepts for this storage (a BTF pointer
            /// from the program's context or a helper).
            #[inline(always)]
            pub unsafe fn get_ptr_mut(&self, owner: *mut $owner, init: Option<&mut V>, flags: u64) -> Option<NonNull<V>> {
                let init = init.map_or(core::ptr::null_mut(), |v| (v as *mut V).cast::<c_void>());
                // SAFETY: the caller vouches for `owner`; `init` is null or a live `V`.
                let ptr = unsafe { $get(map_ptr(self), owner.cast(), init, flags) };
                NonNull::new(ptr.cast())
            }

            /// Deletes the owner's value.
            ///
            /// # Safety
            /// As for [`Self::get_ptr_mut`].
            #[inline(always)]
            pub unsafe fn delete(&self, owner: *mut $owner) -> Result<(), i64> {
                // SAFETY: the caller vouches for `owner`.
                let ret = unsafe { $delete(map_ptr(self), owner.cast()) };
                check(ret as i64).map(|_| ())
            }
        }
    };
}

local_storage!(
    /// `BPF_MAP_TYPE_SK_STORAGE`: a `V` per socket.
    SkStorage,
    BPF_MAP_TYPE_SK_STORAGE,
    c_void,
    bpf_sk_storage_get,
    bpf_sk_storage_delete
);
local_storage!(
    /// `BPF_MAP_TYPE_INODE_STORAGE`: a `V` per inode (LSM programs).
    InodeStorage,
    BPF_MAP_TYPE_INODE_STORAGE,
    c_void,
    bpf_inode_storage_get,
    bpf_inode_storage_delete
);
local_storage!(
    /// `BPF_MAP_TYPE_TASK_STORAGE`: a `V` per task.
    TaskStorage,
    BPF_MAP_TYPE_TASK_STORAGE,
    task_struct,
    bpf_task_storage_get,
    bpf_task_storage_delete
);
local_storage!(
    /// `BPF_MAP_TYPE_CGRP_STORAGE`: a `V` per cgroup.
    CgrpStorage,
    BPF_MAP_TYPE_CGRP_STORAGE,
    cgroup,
    bpf_cgrp_storage_get,
    bpf_cgrp_storage_delete
);

/// `BPF_MAP_TYPE_CGROUP_STORAGE`: a `V` per (cgroup, attach type) the program is attached to.
#[repr(C)]
pub struct CgroupStorage<V> {
    r#type: Uint<BPF_MAP_TYPE_CGROUP_STORAGE>,
    key: *const bpf_cgroup_storage_key,
    value: *const V,
}

// SAFETY: type-level pointers only, never dereferenced; the map lives in the kernel.
unsafe impl<V> Sync for CgroupStorage<V> {}

impl<V> CgroupStorage<V> {
    /// The map definition.
    #[allow(clippy::new_without_default)]
    pub const fn new() -> Self {
        Self {
            r#type: core::ptr::null(),
            key: core::ptr::null(),
            value: core::ptr::null(),
        }
    }

    /// The storage of the cgroup the program runs for (never null for an attached program).
    #[inline(always)]
    pub fn get_ptr_mut(&self) -> Option<NonNull<V>> {
        // SAFETY: the map pointer is this storage; flags must be 0.
        let ptr = unsafe { bpf_get_local_storage(map_ptr(self), 0) };
        NonNull::new(ptr.cast())
    }
}
