//! Maps of maps (`ARRAY_OF_MAPS`, `HASH_OF_MAPS`): inner map fds in, inner map ids out.

use std::borrow::Borrow;
use std::marker::PhantomData;
use std::os::fd::{AsFd, AsRawFd};

use super::hash::pod_from;
use super::{MapData, MapError, MapType, Pod};

fn inner_fd(inner: &MapData) -> [u8; 4] {
    (inner.as_fd().as_raw_fd() as u32).to_ne_bytes()
}

fn id_of(m: &MapData, key: &[u8]) -> Result<Option<u32>, MapError> {
    let mut id = [0u8; 4];
    let found = m.lookup_bytes(key, &mut id, 0)?;
    Ok(found.then(|| u32::from_ne_bytes(id)))
}

/// An array whose values are maps shaped like its inner template.
#[doc(alias = "BPF_MAP_TYPE_ARRAY_OF_MAPS")]
#[derive(Debug)]
pub struct ArrayOfMaps<T> {
    map: T,
}

impl<T: Borrow<MapData>> ArrayOfMaps<T> {
    /// A typed view; checks the type.
    pub fn new(map: T) -> Result<Self, MapError> {
        map.borrow()
            .check_type(&[MapType::ArrayOfMaps], "ARRAY_OF_MAPS")?;
        Ok(Self { map })
    }

    /// The underlying map.
    pub fn map(&self) -> &MapData {
        self.map.borrow()
    }

    /// Store `inner` at `index`.
    pub fn set(&self, index: u32, inner: &MapData, flags: u64) -> Result<(), MapError> {
        self.map()
            .update_bytes(&index.to_ne_bytes(), &inner_fd(inner), flags)
    }

    /// The id of the map at `index` (open it with [`MapData::from_id`]).
    pub fn get_id(&self, index: u32) -> Result<Option<u32>, MapError> {
        id_of(self.map(), &index.to_ne_bytes())
    }

    /// Clear `index`.
    pub fn clear(&self, index: u32) -> Result<bool, MapError> {
        self.map().delete_bytes(&index.to_ne_bytes())
    }
}

/// A hash from `K` to maps shaped like its inner template.
#[doc(alias = "BPF_MAP_TYPE_HASH_OF_MAPS")]
#[derive(Debug)]
pub struct HashOfMaps<T, K> {
    map: T,
    _k: PhantomData<K>,
}

impl<T: Borrow<MapData>, K: Pod> HashOfMaps<T, K> {
    /// A typed view; checks the type and key size.
    pub fn new(map: T) -> Result<Self, MapError> {
        let m = map.borrow();
        m.check_type(&[MapType::HashOfMaps], "HASH_OF_MAPS")?;
        m.check_key(size_of::<K>())?;
        Ok(Self {
            map,
            _k: PhantomData,
        })
    }

    /// The underlying map.
    pub fn map(&self) -> &MapData {
        self.map.borrow()
    }

    /// Store `inner` under `key`.
    pub fn insert(&self, key: &K, inner: &MapData, flags: u64) -> Result<(), MapError> {
        self.map()
            .update_bytes(key.as_bytes(), &inner_fd(inner), flags)
    }

    /// The id of the map under `key`.
    pub fn get_id(&self, key: &K) -> Result<Option<u32>, MapError> {
        id_of(self.map(), key.as_bytes())
    }

    /// Remove `key`.
    pub fn remove(&self, key: &K) -> Result<bool, MapError> {
        self.map().delete_bytes(key.as_bytes())
    }

    /// Every key.
    pub fn keys(&self) -> impl Iterator<Item = Result<K, MapError>> + '_ {
        self.map().keys_bytes().map(|k| k.map(|k| pod_from(&k)))
    }
}
