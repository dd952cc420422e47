//! `Object`: the maps and programs the kernel accepted for one ELF object.

use std::os::fd::{AsFd, BorrowedFd, OwnedFd};

use bpfkit_obj::object::ProgramSection;

use crate::info::ProgramInfo;
use crate::maps::MapData;
use crate::sys::SysResult;

/// A loaded program: its name, section and fd.
#[derive(Debug)]
pub struct Program {
    name: String,
    section: ProgramSection,
    fd: OwnedFd,
}

impl Program {
    pub(crate) fn new(name: String, section: ProgramSection, fd: OwnedFd) -> Self {
        Self { name, section, fd }
    }

    /// The function name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// What its section said (type, attach type, target).
    pub fn section(&self) -> &ProgramSection {
        &self.section
    }

    /// The program fd.
    pub fn fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }

    /// The kernel's info (id, tag, ...).
    pub fn info(&self) -> SysResult<ProgramInfo> {
        ProgramInfo::from_fd(self.fd.as_fd())
    }

    /// The kernel id.
    pub fn id(&self) -> SysResult<u32> {
        self.info().map(|i| i.id)
    }

    /// Pin the program at `path` on a bpffs; it then outlives this process until unpinned
    /// ([`crate::pin::unpin`]).
    pub fn pin(&self, path: impl AsRef<std::path::Path>) -> Result<(), crate::pin::PinError> {
        crate::pin::pin_fd(self.fd.as_fd(), path.as_ref())
    }
}

/// Everything one object loaded: maps and programs by name. Dropping it closes them all.
#[derive(Debug)]
pub struct Object {
    name: String,
    maps: Vec<(String, MapData)>,
    programs: Vec<Program>,
    btf: Option<OwnedFd>,
}

impl Object {
    pub(crate) fn new(
        name: String,
        maps: Vec<(String, MapData)>,
        programs: Vec<Program>,
        btf: Option<OwnedFd>,
    ) -> Self {
        Self {
            name,
            maps,
            programs,
            btf,
        }
    }

    /// The object name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The map named `name` in the object (global data maps have libbpf's names, e.g.
    /// `execsnoo.rodata`).
    pub fn map(&self, name: &str) -> Option<&MapData> {
        self.maps.iter().find(|(n, _)| n == name).map(|(_, m)| m)
    }

    /// Take the map named `name` out of the object (for an owned typed map).
    pub fn take_map(&mut self, name: &str) -> Option<MapData> {
        let i = self.maps.iter().position(|(n, _)| n == name)?;
        Some(self.maps.remove(i).1)
    }

    /// Every map, with the object's names, in the object's order.
    pub fn maps(&self) -> impl Iterator<Item = (&str, &MapData)> {
        self.maps.iter().map(|(n, m)| (n.as_str(), m))
    }

    /// The program named `name`.
    pub fn program(&self, name: &str) -> Option<&Program> {
        self.programs.iter().find(|p| p.name == name)
    }

    /// Every loaded program.
    pub fn programs(&self) -> impl Iterator<Item = &Program> {
        self.programs.iter()
    }

    /// The object's BTF fd, if the kernel accepted its BTF.
    pub fn btf_fd(&self) -> Option<BorrowedFd<'_>> {
        self.btf.as_ref().map(|f| f.as_fd())
    }
}
