//! The object's BTF made loadable: DATASEC fix-up from the ELF, sanitizing for this kernel,
//! `BPF_BTF_LOAD`; and the kernel's own BTF for CO-RE and attach targets.

use std::os::fd::OwnedFd;

use bpfkit_obj::btf::{
    fixup_datasecs, sanitize, Btf, BtfFeatures, BtfMut, DatasecLayout, Kind, RawData, VarSymbol,
};
use object::{Object, ObjectSection, ObjectSymbol, SymbolFlags};

use crate::features::{self, Probe};
use crate::sys;

/// DATASEC sizes and variable offsets as the ELF's sections and symbols give them.
pub(crate) struct ElfLayout<'a> {
    file: object::File<'a>,
}

impl<'a> ElfLayout<'a> {
    pub(crate) fn parse(bytes: &'a [u8]) -> Option<Self> {
        object::File::parse(bytes).ok().map(|file| Self { file })
    }
}

impl DatasecLayout for ElfLayout<'_> {
    fn section_size(&self, section: &str) -> Option<u32> {
        let s = self.file.section_by_name(section)?;
        u32::try_from(s.size()).ok().filter(|&n| n > 0)
    }

    fn variable(&self, section: &str, var: &str) -> Option<VarSymbol> {
        let index = self.file.section_by_name(section)?.index();
        self.file
            .symbols()
            .find(|s| s.section_index() == Some(index) && s.name() == Ok(var))
            .map(|s| {
                let hidden = match s.flags() {
                    SymbolFlags::Elf { st_other, .. } => matches!(st_other & 3, 1 | 2),
                    _ => false,
                };
                VarSymbol {
                    offset: s.address() as u32,
                    hidden,
                }
            })
    }
}

/// What this kernel's BTF loader accepts, from the cached probes.
fn kernel_btf_features() -> BtfFeatures {
    let func = features::supported(Probe::BtfFunc);
    BtfFeatures {
        has_func: func,
        has_func_global: func,
        has_datasec: features::supported(Probe::BtfDatasec),
        // `?` DATASEC names and global funcs arrived before or with these kinds: probe the
        // newest kind of the era as libbpf's probes would.
        has_qmark_datasec: features::supported(Probe::BtfEnum64),
        has_float: features::supported(Probe::BtfFloat),
        has_decl_tag: features::supported(Probe::BtfDeclTag),
        has_type_tag: features::supported(Probe::BtfTypeTag),
        has_enum64: features::supported(Probe::BtfEnum64),
    }
}

/// The object's BTF after fix-up: the bytes to load and the variables of each DATASEC.
pub(crate) struct PreparedBtf {
    /// Fixed (not sanitized) BTF, the local BTF for CO-RE and DATASEC lookups.
    pub fixed: Vec<u8>,
    /// Sanitized for this kernel.
    pub loadable: Vec<u8>,
}

/// Fix DATASECs from the ELF and sanitize for this kernel.
pub(crate) fn prepare(raw: &[u8], elf: &[u8]) -> Result<PreparedBtf, String> {
    let btf = Btf::parse(raw).map_err(|e| e.to_string())?;
    let mut m = BtfMut::from_btf(&btf).map_err(|e| e.to_string())?;
    if let Some(layout) = ElfLayout::parse(elf) {
        fixup_datasecs(&mut m, &layout).map_err(|e| e.to_string())?;
    }
    let fixed = m.to_bytes().map_err(|e| e.to_string())?;
    let feats = kernel_btf_features();
    if feats.needs_sanitization() {
        sanitize(&mut m, &feats).map_err(|e| e.to_string())?;
    }
    let loadable = m.to_bytes().map_err(|e| e.to_string())?;
    Ok(PreparedBtf { fixed, loadable })
}

/// Load BTF bytes into the kernel.
pub(crate) fn load(bytes: &[u8]) -> Result<OwnedFd, sys::ProgLoadError> {
    sys::btf_load(bytes)
}

/// `(offset, size)` of variable `var` in DATASEC `section` of `btf`.
pub(crate) fn datasec_var(btf: &[u8], section: &str, var: &str) -> Option<(u32, u32)> {
    let btf = Btf::parse(btf).ok()?;
    let m = BtfMut::from_btf(&btf).ok()?;
    let sec_id = btf.id_by_name_kind(section, Kind::Datasec)?;
    let RawData::Datasec(entries) = &m.type_by_id(sec_id)?.data else {
        return None;
    };
    entries.iter().find_map(|e| {
        let t = m.type_by_id(e.type_id)?;
        (m.string_at(t.name_off)? == var).then_some((e.offset, e.size))
    })
}

/// The running kernel's BTF bytes (`/sys/kernel/btf/vmlinux`): mapped read-only where the
/// kernel allows it (6.16+; no copy, no 4 KiB read loop), read otherwise.
pub(crate) enum KernelBtfBytes {
    /// A read-only shared mapping of the file.
    Mapped(crate::sys::MmapRegion),
    /// The file's contents.
    Read(Vec<u8>),
}

impl KernelBtfBytes {
    pub(crate) fn open(path: &std::path::Path) -> Result<Self, String> {
        use std::os::fd::AsFd;
        let file = std::fs::File::open(path).map_err(|e| format!("{}: {e}", path.display()))?;
        let len = file
            .metadata()
            .map_err(|e| format!("{}: {e}", path.display()))?
            .len() as usize;
        if len > 0 {
            if let Ok(region) = crate::sys::MmapRegion::map(file.as_fd(), len, libc::PROT_READ, 0) {
                return Ok(Self::Mapped(region));
            }
        }
        std::fs::read(path)
            .map(Self::Read)
            .map_err(|e| format!("{}: {e}", path.display()))
    }

    pub(crate) fn bytes(&self) -> &[u8] {
        match self {
            // SAFETY: a read-only mapping of kernel BTF, which nothing writes.
            Self::Mapped(region) => unsafe { region.as_slice() },
            Self::Read(bytes) => bytes,
        }
    }
}
