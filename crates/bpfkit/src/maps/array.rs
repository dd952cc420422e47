//! Arrays: `BPF_MAP_TYPE_ARRAY` (typed values by index, mmap when `BPF_F_MMAPABLE`) and
//! `BPF_MAP_TYPE_PROG_ARRAY` (tail-call targets).

use std::borrow::Borrow;
use std::marker::PhantomData;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd};

use super::hash::{pod_bytes_mut, pod_from, pod_slice_bytes};
use super::{MapData, MapError, MapType, Pod};
use crate::cpus::page_size;
use crate::sys::MmapRegion;

/// An array of `V` indexed by `u32`.
#[doc(alias = "BPF_MAP_TYPE_ARRAY")]
#[derive(Debug)]
pub struct Array<T, V> {
    map: T,
    _v: PhantomData<V>,
}

impl<T: Borrow<MapData>, V: Pod> Array<T, V> {
    /// A typed view; checks the type and that `V` matches the value size.
    pub fn new(map: T) -> Result<Self, MapError> {
        let m = map.borrow();
        m.check_type(&[MapType::Array], "ARRAY")?;
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

    /// Number of elements (`max_entries`).
    pub fn len(&self) -> u32 {
        self.map().max_entries()
    }

    /// `true` for a zero-capacity array.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn check_index(&self, index: u32) -> Result<(), MapError> {
        if index < self.len() {
            Ok(())
        } else {
            Err(MapError::OutOfBounds {
                name: self.map().name().to_owned(),
                index,
                max_entries: self.len(),
            })
        }
    }

    /// The value at `index`.
    pub fn get(&self, index: u32) -> Result<V, MapError> {
        self.check_index(index)?;
        let mut value = V::zeroed();
        self.map()
            .lookup_bytes(&index.to_ne_bytes(), pod_bytes_mut(&mut value), 0)?;
        Ok(value)
    }

    /// Set the value at `index`.
    pub fn set(&self, index: u32, value: &V, flags: u64) -> Result<(), MapError> {
        self.check_index(index)?;
        self.map()
            .update_bytes(&index.to_ne_bytes(), value.as_bytes(), flags)
    }

    /// Every value, in index order.
    pub fn iter(&self) -> impl Iterator<Item = Result<V, MapError>> + '_ {
        (0..self.len()).map(move |i| self.get(i))
    }

    /// All values with `BPF_MAP_LOOKUP_BATCH`, `chunk` per syscall, as `(index, value)`.
    pub fn get_batch(&self, chunk: u32) -> Result<Vec<(u32, V)>, MapError> {
        let (keys, values, n) = self.map().lookup_batch_bytes(false, chunk)?;
        Ok(super::hash::split_pairs(&keys, &values, n))
    }

    /// Set `values[i]` at `indices[i]` with one `BPF_MAP_UPDATE_BATCH`.
    pub fn set_batch(&self, indices: &[u32], values: &[V], flags: u64) -> Result<usize, MapError> {
        if indices.len() != values.len() {
            return Err(MapError::BatchLength {
                name: self.map().name().to_owned(),
                keys: indices.len(),
                values: values.len(),
            });
        }
        self.map().update_batch_bytes(
            pod_slice_bytes(indices),
            pod_slice_bytes(values),
            indices.len(),
            flags,
        )
    }

    /// Map the array's memory (the map needs `BPF_F_MMAPABLE`): `max_entries` values of
    /// `value_size` bytes, each at `index * round_up(value_size, 8)`.
    pub fn mmap(&self, writable: bool) -> Result<MmapRegion, MapError> {
        let stride = super::data::round8(self.map().value_size() as usize);
        let len = (stride * self.len() as usize).max(1);
        let page = page_size();
        let len = len.div_ceil(page) * page;
        let prot = libc::PROT_READ | if writable { libc::PROT_WRITE } else { 0 };
        MmapRegion::map(self.map().as_fd(), len, prot, 0).map_err(|s| self.map().syscall(s))
    }

    /// The value at `index` read from an [`Array::mmap`] region.
    pub fn read_mapped(&self, region: &MmapRegion, index: u32) -> Result<V, MapError> {
        self.check_index(index)?;
        let stride = super::data::round8(size_of::<V>());
        let mut bytes = vec![0u8; size_of::<V>()];
        if !region.read(index as usize * stride, &mut bytes) {
            return Err(MapError::OutOfBounds {
                name: self.map().name().to_owned(),
                index,
                max_entries: self.len(),
            });
        }
        Ok(pod_from(&bytes))
    }
}

/// Tail-call targets: program fds stored by index (`BPF_MAP_TYPE_PROG_ARRAY`).
#[doc(alias = "BPF_MAP_TYPE_PROG_ARRAY")]
#[derive(Debug)]
pub struct ProgramArray<T> {
    map: T,
}

impl<T: Borrow<MapData>> ProgramArray<T> {
    /// A typed view; checks the type.
    pub fn new(map: T) -> Result<Self, MapError> {
        map.borrow()
            .check_type(&[MapType::ProgArray], "PROG_ARRAY")?;
        Ok(Self { map })
    }

    /// The underlying map.
    pub fn map(&self) -> &MapData {
        self.map.borrow()
    }

    /// Store program `prog` at `index`.
    pub fn set(&self, index: u32, prog: BorrowedFd<'_>) -> Result<(), MapError> {
        let fd = prog.as_raw_fd() as u32;
        self.map()
            .update_bytes(&index.to_ne_bytes(), &fd.to_ne_bytes(), 0)
    }

    /// The id of the program at `index`, if any (the kernel returns ids on lookup).
    pub fn get_id(&self, index: u32) -> Result<Option<u32>, MapError> {
        let mut id = [0u8; 4];
        let found = self.map().lookup_bytes(&index.to_ne_bytes(), &mut id, 0)?;
        Ok(found.then(|| u32::from_ne_bytes(id)))
    }

    /// Clear `index`; `Ok(false)` if it was empty.
    pub fn clear(&self, index: u32) -> Result<bool, MapError> {
        self.map().delete_bytes(&index.to_ne_bytes())
    }
}
