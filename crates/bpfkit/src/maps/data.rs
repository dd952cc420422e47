//! `MapData`: an owned map fd with its name, type and sizes; untyped byte-level operations.

use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::path::Path;

use super::per_cpu::possible_cpus;
use super::{MapError, MapType};
use crate::caps::{self, Capability};
use crate::features;
use crate::maps::MapTypeExt;
use crate::sys::{self, BatchBuffers, MapCreateAttr, SyscallError};

/// How to create a map without an ELF object.
///
/// ```no_run
/// use bpfkit::maps::{MapData, MapParams, MapType};
/// let map = MapData::create(&MapParams::new("counts", MapType::Hash, 4, 8, 1024))?;
/// # Ok::<(), bpfkit::maps::MapError>(())
/// ```
#[derive(Debug, Clone)]
pub struct MapParams<'a> {
    /// Name (the kernel keeps 15 bytes).
    pub name: &'a str,
    /// Type.
    pub map_type: MapType,
    /// Key size in bytes.
    pub key_size: u32,
    /// Value size in bytes (per CPU for per-CPU maps).
    pub value_size: u32,
    /// Capacity.
    pub max_entries: u32,
    /// `BPF_F_*` flags.
    pub map_flags: u32,
    /// Per-type extra: bloom filter hash count, arena start address.
    pub map_extra: u64,
    /// Inner map template for array/hash of maps.
    pub inner_map: Option<&'a MapData>,
    /// BTF object describing key and value, with their type ids.
    pub btf: Option<(BorrowedFd<'a>, u32, u32)>,
    /// BPF token (Linux 6.9) to create the map through ([`crate::token`]).
    pub token: Option<BorrowedFd<'a>>,
}

impl<'a> MapParams<'a> {
    /// Parameters with no flags, no extra, no inner map and no BTF.
    pub fn new(
        name: &'a str,
        map_type: MapType,
        key_size: u32,
        value_size: u32,
        max_entries: u32,
    ) -> Self {
        Self {
            name,
            map_type,
            key_size,
            value_size,
            max_entries,
            map_flags: 0,
            map_extra: 0,
            inner_map: None,
            btf: None,
            token: None,
        }
    }
}

/// A map the kernel holds: owned fd, name, type and sizes. Dropping it closes the fd.
#[derive(Debug)]
pub struct MapData {
    fd: OwnedFd,
    name: String,
    map_type: MapType,
    key_size: u32,
    value_size: u32,
    max_entries: u32,
    map_flags: u32,
}

impl AsFd for MapData {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }
}

/// A `MapData` can replace an object's map before load
/// ([`MapSpec::replace_with`](bpfkit_obj::object::MapSpec::replace_with)).
impl bpfkit_obj::object::KernelMap for MapData {
    fn kernel_name(&self) -> &str {
        &self.name
    }
    fn type_number(&self) -> u32 {
        self.map_type.number()
    }
    fn key_size(&self) -> u32 {
        self.key_size
    }
    fn value_size(&self) -> u32 {
        self.value_size
    }
    fn max_entries(&self) -> u32 {
        self.max_entries
    }
    fn map_flags(&self) -> u32 {
        self.map_flags
    }
}

impl MapData {
    /// Create a map. Unsupported types are reported with the first kernel that has them; an
    /// EPERM leads to one attempt at raising `RLIMIT_MEMLOCK` (kernels before 5.11) and a retry.
    pub fn create(p: &MapParams<'_>) -> Result<Self, MapError> {
        let attr = MapCreateAttr {
            map_type: p.map_type.number(),
            key_size: p.key_size,
            value_size: p.value_size,
            max_entries: p.max_entries,
            map_flags: p.map_flags,
            name: p.name,
            inner_map_fd: p.inner_map.map(|m| m.as_fd()),
            btf_fd: p.btf.map(|b| b.0),
            btf_key_type_id: p.btf.map_or(0, |b| b.1),
            btf_value_type_id: p.btf.map_or(0, |b| b.2),
            map_extra: p.map_extra,
            token_fd: p.token,
            ..Default::default()
        };
        let result =
            features::retry_after_memlock(sys::SyscallError::errno, || sys::map_create(&attr));
        let fd = match result {
            Ok(fd) => fd,
            Err(source) => {
                if matches!(source.errno(), Some(libc::EINVAL) | Some(libc::E2BIG))
                    && features::map_type_support(p.map_type) == features::Support::Unsupported
                {
                    return Err(MapError::Unsupported {
                        name: p.name.to_owned(),
                        source: p.map_type.feature().into(),
                    });
                }
                if source.errno() == Some(libc::EPERM) {
                    let hint = if p.token.is_some() {
                        Some(
                            "the BPF token's bpffs does not delegate this map type \
                             (delegate_cmds=map_create, delegate_maps)"
                                .to_owned(),
                        )
                    } else {
                        caps::missing_hint(&[Capability::Bpf]).or_else(features::memlock_hint)
                    };
                    if let Some(missing) = hint {
                        return Err(MapError::NotPermitted {
                            name: p.name.to_owned(),
                            missing: missing.into(),
                            source,
                        });
                    }
                }
                return Err(MapError::Syscall {
                    name: p.name.to_owned(),
                    source,
                });
            }
        };
        Ok(Self {
            fd,
            name: p.name.chars().take(15).collect(),
            map_type: p.map_type,
            key_size: p.key_size,
            value_size: p.value_size,
            max_entries: p.max_entries,
            map_flags: p.map_flags,
        })
    }

    /// Take ownership of a map fd, learning its shape from the kernel.
    pub fn from_fd(fd: OwnedFd) -> Result<Self, MapError> {
        let info = crate::info::map_info(fd.as_fd()).map_err(|source| MapError::Syscall {
            name: String::new(),
            source,
        })?;
        let map_type = MapType::from_number(info.type_).ok_or_else(|| MapError::UnknownType {
            name: crate::info::c_name(&info.name),
            number: info.type_,
        })?;
        Ok(Self {
            fd,
            name: crate::info::c_name(&info.name),
            map_type,
            key_size: info.key_size,
            value_size: info.value_size,
            max_entries: info.max_entries,
            map_flags: info.map_flags,
        })
    }

    /// Open the map with kernel id `id`.
    pub fn from_id(id: u32) -> Result<Self, MapError> {
        let fd =
            sys::get_fd_by_id(sys::ObjectKind::Map, id).map_err(|source| MapError::Syscall {
                name: format!("id {id}"),
                source,
            })?;
        Self::from_fd(fd)
    }

    /// Open the map pinned at `path` on a bpffs.
    pub fn from_pin(path: impl AsRef<Path>) -> Result<Self, crate::pin::PinError> {
        let fd = crate::pin::open_pinned_kind(path.as_ref(), sys::ObjectKind::Map)?;
        Self::from_fd(fd).map_err(|source| crate::pin::PinError::Map {
            path: path.as_ref().to_owned(),
            source: Box::new(source),
        })
    }

    /// Pin the map at `path` (a new name on a mounted bpffs).
    pub fn pin(&self, path: impl AsRef<Path>) -> Result<(), crate::pin::PinError> {
        crate::pin::pin_fd(self.fd.as_fd(), path.as_ref())
    }

    /// The kernel id of this map.
    pub fn id(&self) -> Result<u32, MapError> {
        crate::info::map_info(self.fd.as_fd())
            .map(|i| i.id)
            .map_err(|source| self.syscall(source))
    }

    /// Name (as the kernel keeps it: at most 15 bytes).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Type.
    pub fn map_type(&self) -> MapType {
        self.map_type
    }

    /// Key size in bytes.
    pub fn key_size(&self) -> u32 {
        self.key_size
    }

    /// Value size in bytes (per CPU for per-CPU maps).
    pub fn value_size(&self) -> u32 {
        self.value_size
    }

    /// Capacity.
    pub fn max_entries(&self) -> u32 {
        self.max_entries
    }

    /// `BPF_F_*` creation flags.
    pub fn map_flags(&self) -> u32 {
        self.map_flags
    }

    /// `BPF_MAP_FREEZE`: make the map read-only from user space (programs can still write
    /// unless the map is also `BPF_F_RDONLY_PROG`).
    pub fn freeze(&self) -> Result<(), MapError> {
        sys::map_freeze(self.fd.as_fd()).map_err(|s| self.syscall(s))
    }

    /// The map's fd for the typed views' hot paths (sizes already checked at construction).
    #[inline]
    pub(crate) fn fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }

    #[cold]
    pub(crate) fn syscall(&self, source: SyscallError) -> MapError {
        MapError::Syscall {
            name: self.name.clone(),
            source,
        }
    }

    /// Check that this map is one of `accepted` (for typed views).
    pub(crate) fn check_type(
        &self,
        accepted: &[MapType],
        expected: &'static str,
    ) -> Result<(), MapError> {
        if accepted.contains(&self.map_type) {
            Ok(())
        } else {
            Err(MapError::WrongType {
                name: self.name.clone(),
                actual: self.map_type,
                expected,
            })
        }
    }

    pub(crate) fn check_key(&self, len: usize) -> Result<(), MapError> {
        if len == self.key_size as usize {
            Ok(())
        } else {
            Err(MapError::KeySize {
                name: self.name.clone(),
                expected: self.key_size,
                actual: len,
            })
        }
    }

    pub(crate) fn check_value(&self, len: usize) -> Result<(), MapError> {
        if len == self.value_size as usize {
            Ok(())
        } else {
            Err(MapError::ValueSize {
                name: self.name.clone(),
                expected: self.value_size,
                actual: len,
            })
        }
    }

    /// Bytes of one element's value as the syscalls transfer it: the value size, or for
    /// per-CPU maps the 8-byte-rounded value size times the possible CPUs.
    pub fn value_buffer_size(&self) -> Result<usize, MapError> {
        if self.map_type.is_per_cpu() {
            Ok(round8(self.value_size as usize) * possible_cpus()?)
        } else {
            Ok(self.value_size as usize)
        }
    }

    fn check_value_buffer(&self, len: usize) -> Result<(), MapError> {
        let expected = self.value_buffer_size()?;
        if len == expected {
            Ok(())
        } else {
            Err(MapError::ValueSize {
                name: self.name.clone(),
                expected: expected as u32,
                actual: len,
            })
        }
    }

    /// Look up `key`, copying the value (all CPUs' values for per-CPU maps) into `value`.
    /// `Ok(false)` if the key is absent. Sizes are checked before the syscall.
    #[inline]
    pub fn lookup_bytes(&self, key: &[u8], value: &mut [u8], flags: u64) -> Result<bool, MapError> {
        self.check_key(key.len())?;
        self.check_value_buffer(value.len())?;
        // SAFETY: the key and value buffer sizes were just checked against the map's.
        unsafe { sys::map_lookup_elem(self.fd.as_fd(), key, value, flags) }
            .map_err(|s| self.syscall(s))
    }

    /// Set `key` to `value` (`BPF_ANY`, `BPF_NOEXIST`, `BPF_EXIST`). Sizes are checked
    /// before the syscall.
    #[inline]
    pub fn update_bytes(&self, key: &[u8], value: &[u8], flags: u64) -> Result<(), MapError> {
        self.check_key(key.len())?;
        self.check_value_buffer(value.len())?;
        sys::map_update_elem(self.fd.as_fd(), key, value, flags).map_err(|s| self.syscall(s))
    }

    /// Delete `key`; `Ok(false)` if it was absent.
    #[inline]
    pub fn delete_bytes(&self, key: &[u8]) -> Result<bool, MapError> {
        self.check_key(key.len())?;
        sys::map_delete_elem(self.fd.as_fd(), key).map_err(|s| self.syscall(s))
    }

    /// The key after `key` (the first with `None`); `Ok(None)` at the end.
    pub fn next_key_bytes(&self, key: Option<&[u8]>) -> Result<Option<Vec<u8>>, MapError> {
        if let Some(k) = key {
            self.check_key(k.len())?;
        }
        let mut next = vec![0u8; self.key_size as usize];
        // SAFETY: `key` (checked above) and `next` have the map's key size.
        let found = unsafe { sys::map_get_next_key(self.fd.as_fd(), key, &mut next) }
            .map_err(|s| self.syscall(s))?;
        Ok(found.then_some(next))
    }

    /// Every key, in the kernel's iteration order, via `BPF_MAP_GET_NEXT_KEY`.
    pub fn keys_bytes(&self) -> KeysBytes<'_> {
        KeysBytes {
            map: self,
            prev: None,
            done: false,
        }
    }

    /// Look up (and with `delete`, remove) every element with the batch commands, `chunk`
    /// elements per syscall. Returns the keys and values laid end to end and their count.
    pub fn lookup_batch_bytes(
        &self,
        delete: bool,
        chunk: u32,
    ) -> Result<(Vec<u8>, Vec<u8>, usize), MapError> {
        let key_size = self.key_size as usize;
        let value_size = self.value_buffer_size()?;
        let token_size = key_size.max(4);
        let mut chunk = chunk.max(1);
        // The kernel writes each chunk straight into the tail of the output vectors (no
        // per-chunk buffers, no copies); the tail is cut back to what it returned.
        let mut keys_out: Vec<u8> = Vec::new();
        let mut values_out: Vec<u8> = Vec::new();
        let mut total = 0usize;
        let mut in_token: Option<Vec<u8>> = None;
        let mut out_token = vec![0u8; token_size];
        loop {
            let (k0, v0) = (keys_out.len(), values_out.len());
            keys_out.resize(k0 + key_size * chunk as usize, 0);
            values_out.resize(v0 + value_size * chunk as usize, 0);
            let buffers = BatchBuffers {
                in_batch: in_token.as_deref(),
                out_batch: Some(&mut out_token),
                keys: &mut keys_out[k0..],
                values: Some(&mut values_out[v0..]),
                count: chunk,
                elem_flags: 0,
            };
            // SAFETY: `keys`/`values` tails were just resized to `chunk` elements of the key
            // and value buffer sizes; both tokens have the batch token size.
            let outcome = unsafe {
                if delete {
                    sys::map_lookup_and_delete_batch(self.fd.as_fd(), buffers)
                } else {
                    sys::map_lookup_batch(self.fd.as_fd(), buffers)
                }
            };
            let outcome = match outcome {
                Ok(o) => o,
                // A hash bucket holds more elements than the chunk (nothing was copied):
                // retry with a larger one.
                Err(e) if e.errno() == Some(libc::ENOSPC) && chunk < self.max_entries.max(1) => {
                    keys_out.truncate(k0);
                    values_out.truncate(v0);
                    chunk = (chunk * 2).min(self.max_entries.max(1));
                    continue;
                }
                Err(e) => return Err(self.syscall(e)),
            };
            let n = outcome.count as usize;
            keys_out.truncate(k0 + n * key_size);
            values_out.truncate(v0 + n * value_size);
            total += n;
            if outcome.done {
                return Ok((keys_out, values_out, total));
            }
            in_token
                .get_or_insert_with(|| vec![0u8; token_size])
                .copy_from_slice(&out_token);
        }
    }

    /// Update `count` elements given as keys and values laid end to end.
    pub fn update_batch_bytes(
        &self,
        keys: &[u8],
        values: &[u8],
        count: usize,
        elem_flags: u64,
    ) -> Result<usize, MapError> {
        let value_size = self.value_buffer_size()?;
        if keys.len() != count.saturating_mul(self.key_size as usize) {
            return Err(MapError::KeySize {
                name: self.name.clone(),
                expected: self.key_size,
                actual: keys.len() / count.max(1),
            });
        }
        if values.len() != count.saturating_mul(value_size) {
            return Err(MapError::ValueSize {
                name: self.name.clone(),
                expected: value_size as u32,
                actual: values.len() / count.max(1),
            });
        }
        let outcome =
            sys::map_update_batch_from(self.fd.as_fd(), keys, values, count as u32, elem_flags)
                .map_err(|s| self.syscall(s))?;
        Ok(outcome.count as usize)
    }

    /// Delete `count` keys laid end to end.
    pub fn delete_batch_bytes(&self, keys: &[u8], count: usize) -> Result<usize, MapError> {
        if keys.len() != count.saturating_mul(self.key_size as usize) {
            return Err(MapError::KeySize {
                name: self.name.clone(),
                expected: self.key_size,
                actual: keys.len() / count.max(1),
            });
        }
        let outcome = sys::map_delete_batch_from(self.fd.as_fd(), keys, count as u32)
            .map_err(|s| self.syscall(s))?;
        Ok(outcome.count as usize)
    }

    /// One `BPF_MAP_LOOKUP_BATCH` (with `delete`, `BPF_MAP_LOOKUP_AND_DELETE_BATCH`) into
    /// the caller's buffers, resuming where `cursor` left off: up to `count` elements'
    /// keys and values (laid end to end) go to the front of `keys` and `values`. Returns how
    /// many were written; `cursor.is_done()` once the walk reached the end.
    ///
    /// A hash bucket holding more than `count` elements fails with `ENOSPC` (nothing copied,
    /// the cursor unchanged): retry with a larger `count`.
    pub fn lookup_batch_into_bytes(
        &self,
        cursor: &mut BatchCursor,
        delete: bool,
        keys: &mut [u8],
        values: &mut [u8],
        count: u32,
    ) -> Result<usize, MapError> {
        if cursor.done || count == 0 {
            return Ok(0);
        }
        let value_size = self.value_buffer_size()?;
        let n = count as usize;
        if keys.len() < n.saturating_mul(self.key_size as usize) {
            return Err(MapError::KeySize {
                name: self.name.clone(),
                expected: self.key_size,
                actual: keys.len() / n,
            });
        }
        if values.len() < n.saturating_mul(value_size) {
            return Err(MapError::ValueSize {
                name: self.name.clone(),
                expected: value_size as u32,
                actual: values.len() / n,
            });
        }
        let token_size = (self.key_size as usize).max(4);
        if cursor.token.len() < token_size {
            cursor.token.resize(token_size, 0);
        }
        // SAFETY: `keys`/`values` hold `count` elements of the key and value buffer sizes
        // and the token the batch token size (all checked above).
        let outcome = unsafe {
            sys::map_lookup_batch_resume(
                self.fd.as_fd(),
                delete,
                &mut cursor.token,
                cursor.started,
                keys,
                values,
                count,
            )
        }
        .map_err(|s| self.syscall(s))?;
        cursor.started = true;
        cursor.done = outcome.done;
        Ok(outcome.count as usize)
    }
}

/// Where a chunked batch lookup resumes: the kernel's `out_batch` token of the previous
/// call. A new cursor starts at the first element; see [`MapData::lookup_batch_into_bytes`].
#[derive(Debug, Default, Clone)]
pub struct BatchCursor {
    token: Vec<u8>,
    started: bool,
    done: bool,
}

impl BatchCursor {
    /// A cursor at the map's first element.
    pub fn new() -> Self {
        Self::default()
    }

    /// `true` once a lookup reported the end of the map (`ENOENT`).
    pub fn is_done(&self) -> bool {
        self.done
    }
}

/// Values of per-CPU maps are laid out per CPU, each rounded up to 8 bytes.
pub(crate) fn round8(n: usize) -> usize {
    n.div_ceil(8) * 8
}

/// Iterator over a map's keys as bytes: see [`MapData::keys_bytes`].
#[derive(Debug)]
pub struct KeysBytes<'a> {
    map: &'a MapData,
    prev: Option<Vec<u8>>,
    done: bool,
}

impl Iterator for KeysBytes<'_> {
    type Item = Result<Vec<u8>, MapError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        match self.map.next_key_bytes(self.prev.as_deref()) {
            Ok(Some(k)) => {
                self.prev = Some(k.clone());
                Some(Ok(k))
            }
            Ok(None) => {
                self.done = true;
                None
            }
            Err(e) => {
                self.done = true;
                Some(Err(e))
            }
        }
    }
}
