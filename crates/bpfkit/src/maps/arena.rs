//! Arenas (`BPF_MAP_TYPE_ARENA`, Linux 6.9): memory shared between programs and user space.

use std::borrow::Borrow;
use std::os::fd::AsFd;

use super::{MapData, MapError, MapParams, MapType};
use crate::cpus::page_size;
use crate::sys::{uapi, MmapRegion};

/// An arena of `max_entries` pages, mapped into user space with [`Arena::mmap`].
#[doc(alias = "BPF_MAP_TYPE_ARENA")]
#[derive(Debug)]
pub struct Arena<T> {
    map: T,
}

impl<T: Borrow<MapData>> Arena<T> {
    /// A typed view; checks the type.
    pub fn new(map: T) -> Result<Self, MapError> {
        map.borrow().check_type(&[MapType::Arena], "ARENA")?;
        Ok(Self { map })
    }

    /// The underlying map.
    pub fn map(&self) -> &MapData {
        self.map.borrow()
    }

    /// Size in bytes (`max_entries` pages).
    pub fn size(&self) -> usize {
        self.map().max_entries() as usize * page_size()
    }

    /// Map the arena read-write. Pages are allocated on first touch from user space.
    pub fn mmap(&self) -> Result<MmapRegion, MapError> {
        MmapRegion::map(
            self.map().as_fd(),
            self.size(),
            libc::PROT_READ | libc::PROT_WRITE,
            0,
        )
        .map_err(|s| self.map().syscall(s))
    }
}

impl Arena<MapData> {
    /// Create an arena of `pages` pages (`BPF_F_MMAPABLE` is required by the kernel).
    pub fn create(name: &str, pages: u32) -> Result<Self, MapError> {
        let mut p = MapParams::new(name, MapType::Arena, 0, 0, pages);
        p.map_flags = uapi::BPF_F_MMAPABLE;
        Self::new(MapData::create(&p)?)
    }
}
