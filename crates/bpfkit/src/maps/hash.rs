//! Hash maps: `BPF_MAP_TYPE_HASH` and `BPF_MAP_TYPE_LRU_HASH` with typed keys and values.

use std::borrow::Borrow;
use std::marker::PhantomData;

use super::{BatchCursor, MapData, MapError, MapType, Pod};
use crate::sys;

/// A hash or LRU hash map with keys `K` and values `V`.
///
/// ```no_run
/// use bpfkit::maps::{HashMap, MapData, MapParams, MapType, BPF_ANY};
/// let data = MapData::create(&MapParams::new("counts", MapType::Hash, 4, 8, 64))?;
/// let map: HashMap<_, u32, u64> = HashMap::new(&data)?;
/// map.insert(&7, &42, BPF_ANY.into())?;
/// assert_eq!(map.get(&7)?, Some(42));
/// # Ok::<(), bpfkit::maps::MapError>(())
/// ```
#[doc(alias = "BPF_MAP_TYPE_HASH")]
#[doc(alias = "BPF_MAP_TYPE_LRU_HASH")]
#[derive(Debug)]
pub struct HashMap<T, K, V> {
    map: T,
    _kv: PhantomData<(K, V)>,
}

impl<T: Borrow<MapData>, K: Pod, V: Pod> HashMap<T, K, V> {
    /// A typed view; checks the type and that `K` and `V` match the map's sizes.
    pub fn new(map: T) -> Result<Self, MapError> {
        let m = map.borrow();
        m.check_type(&[MapType::Hash, MapType::LruHash], "HASH or LRU_HASH")?;
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

    /// Give back the underlying map.
    pub fn into_inner(self) -> T {
        self.map
    }

    /// The value of `key`, if present.
    #[inline]
    pub fn get(&self, key: &K) -> Result<Option<V>, MapError> {
        let mut value = V::zeroed();
        let m = self.map();
        // SAFETY: `new` checked that `K` and `V` have the map's key and value sizes (and
        // that the map is not per-CPU), so the kernel writes exactly `size_of::<V>()` bytes.
        let found =
            unsafe { sys::map_lookup_elem(m.fd(), key.as_bytes(), pod_bytes_mut(&mut value), 0) }
                .map_err(|s| m.syscall(s))?;
        Ok(found.then_some(value))
    }

    /// Set `key` to `value` with `flags` (`BPF_ANY`, `BPF_NOEXIST`, `BPF_EXIST`).
    #[inline]
    pub fn insert(&self, key: &K, value: &V, flags: u64) -> Result<(), MapError> {
        let m = self.map();
        sys::map_update_elem(m.fd(), key.as_bytes(), value.as_bytes(), flags)
            .map_err(|s| m.syscall(s))
    }

    /// Remove `key`; `Ok(false)` if it was absent.
    #[inline]
    pub fn remove(&self, key: &K) -> Result<bool, MapError> {
        let m = self.map();
        sys::map_delete_elem(m.fd(), key.as_bytes()).map_err(|s| m.syscall(s))
    }

    /// Every key.
    pub fn keys(&self) -> impl Iterator<Item = Result<K, MapError>> + '_ {
        self.map().keys_bytes().map(|k| k.map(|k| pod_from(&k)))
    }

    /// Every `(key, value)`; keys removed during the walk are skipped.
    pub fn iter(&self) -> impl Iterator<Item = Result<(K, V), MapError>> + '_ {
        self.keys().filter_map(move |k| match k {
            Ok(k) => match self.get(&k) {
                Ok(Some(v)) => Some(Ok((k, v))),
                Ok(None) => None,
                Err(e) => Some(Err(e)),
            },
            Err(e) => Some(Err(e)),
        })
    }

    /// Every `(key, value)` with `BPF_MAP_LOOKUP_BATCH`, `chunk` per syscall.
    pub fn get_batch(&self, chunk: u32) -> Result<Vec<(K, V)>, MapError> {
        let (keys, values, n) = self.map().lookup_batch_bytes(false, chunk)?;
        Ok(split_pairs(&keys, &values, n))
    }

    /// One `BPF_MAP_LOOKUP_BATCH` into the caller's buffers (no allocation): up to
    /// `keys.len().min(values.len())` elements from where `cursor` left off go to the front
    /// of `keys` and `values`; returns how many. Call until `cursor.is_done()`.
    ///
    /// ```no_run
    /// use bpfkit::maps::{BatchCursor, HashMap, MapData};
    /// # fn f(map: &HashMap<&MapData, u32, u64>) -> Result<(), bpfkit::maps::MapError> {
    /// let (mut keys, mut values) = (vec![0u32; 1024], vec![0u64; 1024]);
    /// let mut cursor = BatchCursor::new();
    /// while !cursor.is_done() {
    ///     let n = map.lookup_batch_into(&mut cursor, &mut keys, &mut values)?;
    ///     for (k, v) in keys[..n].iter().zip(&values[..n]) {
    ///         println!("{k} -> {v}");
    ///     }
    /// }
    /// # Ok(()) }
    /// ```
    ///
    /// A hash bucket with more elements than the buffers hold fails with `ENOSPC`
    /// (nothing copied, the cursor unchanged): retry with larger buffers.
    #[doc(alias = "BPF_MAP_LOOKUP_BATCH")]
    pub fn lookup_batch_into(
        &self,
        cursor: &mut BatchCursor,
        keys: &mut [K],
        values: &mut [V],
    ) -> Result<usize, MapError> {
        self.batch_into(cursor, false, keys, values)
    }

    /// As [`lookup_batch_into`](Self::lookup_batch_into), removing what it returns
    /// (`BPF_MAP_LOOKUP_AND_DELETE_BATCH`).
    #[doc(alias = "BPF_MAP_LOOKUP_AND_DELETE_BATCH")]
    pub fn take_batch_into(
        &self,
        cursor: &mut BatchCursor,
        keys: &mut [K],
        values: &mut [V],
    ) -> Result<usize, MapError> {
        self.batch_into(cursor, true, keys, values)
    }

    fn batch_into(
        &self,
        cursor: &mut BatchCursor,
        delete: bool,
        keys: &mut [K],
        values: &mut [V],
    ) -> Result<usize, MapError> {
        let count = u32::try_from(keys.len().min(values.len())).unwrap_or(u32::MAX);
        self.map().lookup_batch_into_bytes(
            cursor,
            delete,
            pod_slice_bytes_mut(keys),
            pod_slice_bytes_mut(values),
            count,
        )
    }

    /// Every `(key, value)`, removing them, with `BPF_MAP_LOOKUP_AND_DELETE_BATCH`.
    pub fn take_batch(&self, chunk: u32) -> Result<Vec<(K, V)>, MapError> {
        let (keys, values, n) = self.map().lookup_batch_bytes(true, chunk)?;
        Ok(split_pairs(&keys, &values, n))
    }

    /// Write all pairs with one `BPF_MAP_UPDATE_BATCH`; returns how many were written.
    pub fn insert_batch(
        &self,
        keys: &[K],
        values: &[V],
        elem_flags: u64,
    ) -> Result<usize, MapError> {
        if keys.len() != values.len() {
            return Err(MapError::BatchLength {
                name: self.map().name().to_owned(),
                keys: keys.len(),
                values: values.len(),
            });
        }
        self.map().update_batch_bytes(
            pod_slice_bytes(keys),
            pod_slice_bytes(values),
            keys.len(),
            elem_flags,
        )
    }

    /// Delete all `keys` with one `BPF_MAP_DELETE_BATCH`; returns how many were deleted.
    pub fn remove_batch(&self, keys: &[K]) -> Result<usize, MapError> {
        self.map()
            .delete_batch_bytes(pod_slice_bytes(keys), keys.len())
    }
}

/// A `Pod` value's bytes, writable (the kernel fills them).
pub(crate) fn pod_bytes_mut<V: Pod>(value: &mut V) -> &mut [u8] {
    // SAFETY: `V: Pod` has no padding and accepts any bit pattern, so writing arbitrary
    // bytes through this slice leaves a valid `V`.
    unsafe { std::slice::from_raw_parts_mut(value as *mut V as *mut u8, size_of::<V>()) }
}

/// `Pod` values' bytes, laid end to end as they sit in memory (no copy).
pub(crate) fn pod_slice_bytes<V: Pod>(items: &[V]) -> &[u8] {
    // SAFETY: `V: Pod` has no padding, so the slice's memory is `size_of_val` initialised
    // bytes; the result borrows `items`.
    unsafe { std::slice::from_raw_parts(items.as_ptr() as *const u8, size_of_val(items)) }
}

/// `Pod` values' bytes, writable (the kernel fills them).
pub(crate) fn pod_slice_bytes_mut<V: Pod>(items: &mut [V]) -> &mut [u8] {
    // SAFETY: `V: Pod` has no padding and accepts any bit pattern, so writing arbitrary
    // bytes through this slice leaves valid `V`s; the result borrows `items` exclusively.
    unsafe { std::slice::from_raw_parts_mut(items.as_mut_ptr() as *mut u8, size_of_val(items)) }
}

/// A `Pod` from bytes the kernel wrote for a map whose sizes were checked against `V`.
pub(crate) fn pod_from<V: Pod>(bytes: &[u8]) -> V {
    bytes
        .get(..size_of::<V>())
        .and_then(V::from_bytes)
        .unwrap_or_else(V::zeroed)
}

pub(crate) fn split_pairs<K: Pod, V: Pod>(keys: &[u8], values: &[u8], n: usize) -> Vec<(K, V)> {
    keys.chunks_exact(size_of::<K>().max(1))
        .zip(values.chunks_exact(size_of::<V>().max(1)))
        .take(n)
        .map(|(k, v)| (pod_from(k), pod_from(v)))
        .collect()
}

pub(crate) fn split_pairs_with<K: Pod, W>(
    keys: &[u8],
    values: &[u8],
    n: usize,
    value_stride: usize,
    value: impl Fn(&[u8]) -> W,
) -> Vec<(K, W)> {
    keys.chunks_exact(size_of::<K>().max(1))
        .zip(values.chunks_exact(value_stride.max(1)))
        .take(n)
        .map(|(k, v)| (pod_from(k), value(v)))
        .collect()
}
