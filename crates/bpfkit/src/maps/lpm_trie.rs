//! Longest-prefix-match tries (`BPF_MAP_TYPE_LPM_TRIE`): keys are a prefix length and data.

use std::borrow::Borrow;
use std::marker::PhantomData;

use super::hash::{pod_bytes_mut, pod_from};
use super::{MapData, MapError, MapType, Pod};

/// An LPM trie key: `prefix_len` significant bits of `data` (network byte order for IPs).
#[repr(C, packed)]
#[derive(Debug, Clone, Copy)]
pub struct LpmKey<K> {
    /// Number of significant bits of `data`.
    pub prefix_len: u32,
    /// The address or other data, most significant byte first.
    pub data: K,
}

// SAFETY: packed (no padding) pair of a u32 and a `Pod`.
unsafe impl<K: Pod> Pod for LpmKey<K> {}

/// An LPM trie from prefixes of `K` to `V`. The map needs `BPF_F_NO_PREALLOC`.
#[doc(alias = "BPF_MAP_TYPE_LPM_TRIE")]
#[derive(Debug)]
pub struct LpmTrie<T, K, V> {
    map: T,
    _kv: PhantomData<(K, V)>,
}

impl<T: Borrow<MapData>, K: Pod, V: Pod> LpmTrie<T, K, V> {
    /// A typed view; checks the type and that `LpmKey<K>` and `V` match the sizes.
    pub fn new(map: T) -> Result<Self, MapError> {
        let m = map.borrow();
        m.check_type(&[MapType::LpmTrie], "LPM_TRIE")?;
        m.check_key(size_of::<LpmKey<K>>())?;
        m.check_value(size_of::<V>())?;
        Ok(Self {
            map,
            _kv: PhantomData,
        })
    }

    /// The underlying map.
    pub fn map(&self) -> &MapData {
        self.map.borrow()
    }

    /// The value of the longest stored prefix matching `key` (use the full length to look
    /// up an address).
    pub fn get(&self, key: &LpmKey<K>) -> Result<Option<V>, MapError> {
        let mut value = V::zeroed();
        let found = self
            .map()
            .lookup_bytes(key.as_bytes(), pod_bytes_mut(&mut value), 0)?;
        Ok(found.then_some(value))
    }

    /// Store `value` for the prefix `key`.
    pub fn insert(&self, key: &LpmKey<K>, value: &V, flags: u64) -> Result<(), MapError> {
        self.map()
            .update_bytes(key.as_bytes(), value.as_bytes(), flags)
    }

    /// Remove the exact prefix `key`.
    pub fn remove(&self, key: &LpmKey<K>) -> Result<bool, MapError> {
        self.map().delete_bytes(key.as_bytes())
    }

    /// Every stored prefix.
    pub fn keys(&self) -> impl Iterator<Item = Result<LpmKey<K>, MapError>> + '_ {
        self.map().keys_bytes().map(|k| k.map(|k| pod_from(&k)))
    }
}
