//! Local storage (`SK_STORAGE`, `INODE_STORAGE`, `TASK_STORAGE`, `CGRP_STORAGE`): a value per
//! kernel object, addressed from user space by an fd of that object.

use std::borrow::Borrow;
use std::marker::PhantomData;
use std::os::fd::{AsRawFd, BorrowedFd};

use super::hash::pod_bytes_mut;
use super::{MapData, MapError, MapType, Pod};

/// Values of `V` attached to sockets, inodes, tasks or cgroups. The key is an fd: a socket,
/// an open file, a pidfd or a cgroup directory. The map needs BTF for its value.
#[doc(alias = "BPF_MAP_TYPE_SK_STORAGE")]
#[doc(alias = "BPF_MAP_TYPE_INODE_STORAGE")]
#[doc(alias = "BPF_MAP_TYPE_TASK_STORAGE")]
#[doc(alias = "BPF_MAP_TYPE_CGRP_STORAGE")]
#[derive(Debug)]
pub struct LocalStorage<T, V> {
    map: T,
    _v: PhantomData<V>,
}

impl<T: Borrow<MapData>, V: Pod> LocalStorage<T, V> {
    /// A typed view; checks the type and value size.
    pub fn new(map: T) -> Result<Self, MapError> {
        let m = map.borrow();
        m.check_type(
            &[
                MapType::SkStorage,
                MapType::InodeStorage,
                MapType::TaskStorage,
                MapType::CgrpStorage,
            ],
            "SK_STORAGE, INODE_STORAGE, TASK_STORAGE or CGRP_STORAGE",
        )?;
        m.check_key(4)?;
        m.check_value(size_of::<V>())?;
        Ok(Self {
            map,
            _v: PhantomData,
        })
    }

    /// The underlying map.
    pub fn map(&self) -> &MapData {
        self.map.borrow()
    }

    /// The value stored for the object behind `owner`.
    pub fn get(&self, owner: BorrowedFd<'_>) -> Result<Option<V>, MapError> {
        let mut v = V::zeroed();
        let key = (owner.as_raw_fd() as u32).to_ne_bytes();
        let found = self.map().lookup_bytes(&key, pod_bytes_mut(&mut v), 0)?;
        Ok(found.then_some(v))
    }

    /// Store `value` for the object behind `owner`.
    pub fn insert(&self, owner: BorrowedFd<'_>, value: &V, flags: u64) -> Result<(), MapError> {
        let key = (owner.as_raw_fd() as u32).to_ne_bytes();
        self.map().update_bytes(&key, value.as_bytes(), flags)
    }

    /// Remove the value of the object behind `owner`.
    pub fn remove(&self, owner: BorrowedFd<'_>) -> Result<bool, MapError> {
        let key = (owner.as_raw_fd() as u32).to_ne_bytes();
        self.map().delete_bytes(&key)
    }
}
