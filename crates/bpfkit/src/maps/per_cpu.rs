//! Per-CPU maps: `PERCPU_HASH`, `LRU_PERCPU_HASH`, `PERCPU_ARRAY`, with one value per possible CPU.

use std::borrow::Borrow;
use std::marker::PhantomData;

use super::data::round8;
use super::hash::{pod_from, split_pairs_with};
use super::{MapData, MapError, MapType, Pod};

/// The number of possible CPUs ([`crate::cpus::possible_cpu_count`]), which is how many
/// values the kernel copies for a per-CPU map element. Read once and cached.
pub fn possible_cpus() -> Result<usize, MapError> {
    Ok(crate::cpus::possible_cpu_count()?)
}

/// One value per possible CPU, in CPU order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PerCpuValues<V>(pub Vec<V>);

impl<V: Pod> PerCpuValues<V> {
    fn from_buffer(buf: &[u8]) -> Self {
        Self(
            buf.chunks_exact(round8(size_of::<V>()).max(1))
                .map(pod_from)
                .collect(),
        )
    }

    fn to_buffer(&self, map: &MapData) -> Result<Vec<u8>, MapError> {
        let cpus = possible_cpus()?;
        if self.0.len() != cpus {
            return Err(MapError::CpuCount {
                name: map.name().to_owned(),
                expected: cpus,
                actual: self.0.len(),
            });
        }
        let stride = round8(size_of::<V>());
        let mut buf = vec![0u8; stride * cpus];
        for (chunk, v) in buf.chunks_exact_mut(stride.max(1)).zip(&self.0) {
            chunk[..size_of::<V>()].copy_from_slice(v.as_bytes());
        }
        Ok(buf)
    }
}

/// A per-CPU hash (or LRU per-CPU hash) map.
#[doc(alias = "BPF_MAP_TYPE_PERCPU_HASH")]
#[doc(alias = "BPF_MAP_TYPE_LRU_PERCPU_HASH")]
#[derive(Debug)]
pub struct PerCpuHashMap<T, K, V> {
    map: T,
    _kv: PhantomData<(K, V)>,
}

impl<T: Borrow<MapData>, K: Pod, V: Pod> PerCpuHashMap<T, K, V> {
    /// A typed view; checks the type and sizes.
    pub fn new(map: T) -> Result<Self, MapError> {
        let m = map.borrow();
        m.check_type(
            &[MapType::PercpuHash, MapType::LruPercpuHash],
            "PERCPU_HASH or LRU_PERCPU_HASH",
        )?;
        m.check_key(size_of::<K>())?;
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

    /// Every CPU's value of `key`, if present.
    pub fn get(&self, key: &K) -> Result<Option<PerCpuValues<V>>, MapError> {
        let mut buf = vec![0u8; self.map().value_buffer_size()?];
        let found = self.map().lookup_bytes(key.as_bytes(), &mut buf, 0)?;
        Ok(found.then(|| PerCpuValues::from_buffer(&buf)))
    }

    /// Set every CPU's value of `key`.
    pub fn insert(&self, key: &K, values: &PerCpuValues<V>, flags: u64) -> Result<(), MapError> {
        let buf = values.to_buffer(self.map())?;
        self.map().update_bytes(key.as_bytes(), &buf, flags)
    }

    /// Remove `key`; `Ok(false)` if it was absent.
    pub fn remove(&self, key: &K) -> Result<bool, MapError> {
        self.map().delete_bytes(key.as_bytes())
    }

    /// Every key.
    pub fn keys(&self) -> impl Iterator<Item = Result<K, MapError>> + '_ {
        self.map().keys_bytes().map(|k| k.map(|k| pod_from(&k)))
    }

    /// Every `(key, per-CPU values)` with `BPF_MAP_LOOKUP_BATCH`.
    pub fn get_batch(&self, chunk: u32) -> Result<Vec<(K, PerCpuValues<V>)>, MapError> {
        let stride = self.map().value_buffer_size()?;
        let (keys, values, n) = self.map().lookup_batch_bytes(false, chunk)?;
        Ok(split_pairs_with(
            &keys,
            &values,
            n,
            stride,
            PerCpuValues::from_buffer,
        ))
    }
}

/// A per-CPU array.
#[doc(alias = "BPF_MAP_TYPE_PERCPU_ARRAY")]
#[derive(Debug)]
pub struct PerCpuArray<T, V> {
    map: T,
    _v: PhantomData<V>,
}

impl<T: Borrow<MapData>, V: Pod> PerCpuArray<T, V> {
    /// A typed view; checks the type and sizes.
    pub fn new(map: T) -> Result<Self, MapError> {
        let m = map.borrow();
        m.check_type(&[MapType::PercpuArray], "PERCPU_ARRAY")?;
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

    fn check_index(&self, index: u32) -> Result<(), MapError> {
        let max_entries = self.map().max_entries();
        if index < max_entries {
            Ok(())
        } else {
            Err(MapError::OutOfBounds {
                name: self.map().name().to_owned(),
                index,
                max_entries,
            })
        }
    }

    /// Every CPU's value at `index`.
    pub fn get(&self, index: u32) -> Result<PerCpuValues<V>, MapError> {
        self.check_index(index)?;
        let mut buf = vec![0u8; self.map().value_buffer_size()?];
        self.map().lookup_bytes(&index.to_ne_bytes(), &mut buf, 0)?;
        Ok(PerCpuValues::from_buffer(&buf))
    }

    /// Set every CPU's value at `index`.
    pub fn set(&self, index: u32, values: &PerCpuValues<V>, flags: u64) -> Result<(), MapError> {
        self.check_index(index)?;
        let buf = values.to_buffer(self.map())?;
        self.map().update_bytes(&index.to_ne_bytes(), &buf, flags)
    }
}
