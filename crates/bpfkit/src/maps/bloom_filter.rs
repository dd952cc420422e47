//! Bloom filters (`BPF_MAP_TYPE_BLOOM_FILTER`): push values, ask whether one may be present.

use std::borrow::Borrow;
use std::marker::PhantomData;
use std::os::fd::AsFd;

use super::{MapData, MapError, MapType, Pod};
use crate::sys;

/// A bloom filter of `V` (key size 0; `map_extra` holds the number of hash functions).
#[doc(alias = "BPF_MAP_TYPE_BLOOM_FILTER")]
#[derive(Debug)]
pub struct BloomFilter<T, V> {
    map: T,
    _v: PhantomData<V>,
}

impl<T: Borrow<MapData>, V: Pod> BloomFilter<T, V> {
    /// A typed view; checks the type and value size.
    pub fn new(map: T) -> Result<Self, MapError> {
        let m = map.borrow();
        m.check_type(&[MapType::BloomFilter], "BLOOM_FILTER")?;
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

    /// Add `value`.
    pub fn insert(&self, value: &V) -> Result<(), MapError> {
        let m = self.map();
        sys::map_update_elem(m.as_fd(), &[], value.as_bytes(), 0).map_err(|s| m.syscall(s))
    }

    /// `false` if `value` was certainly never added; `true` if it may have been.
    pub fn contains(&self, value: &V) -> Result<bool, MapError> {
        let m = self.map();
        // The kernel reads the value to test through the lookup's value pointer.
        let mut probe = value.as_bytes().to_vec();
        // SAFETY: `new` checked that `V` has the map's value size, so `probe` is exactly the
        // value size the kernel reads (bloom filters never write it back).
        unsafe { sys::map_lookup_elem(m.as_fd(), &[], &mut probe, 0) }.map_err(|s| m.syscall(s))
    }
}
