//! DATASEC fix-up: the ELF's answers (section sizes, variable symbols) to the btf
//! module's [`fixup_datasecs`], giving the BTF a loader hands to the kernel.

use object::elf;

use crate::btf::{finalize_extern_datasecs, fixup_datasecs, Btf, BtfMut, DatasecLayout, VarSymbol};

use super::elf::Elf;
use super::error::ObjectError;
use super::externs::{ExternKind, ExternSpec};

impl DatasecLayout for Elf<'_> {
    fn section_size(&self, section: &str) -> Option<u32> {
        let s = self.section_by_name(section)?;
        u32::try_from(s.size).ok().filter(|&n| n > 0)
    }

    fn variable(&self, section: &str, var: &str) -> Option<VarSymbol> {
        let index = self.section_by_name(section)?.index;
        let sym = self
            .symbols
            .iter()
            .find(|s| s.section() == Some(index) && s.name == var && s.kind != elf::STT_SECTION)?;
        Some(VarSymbol {
            offset: u32::try_from(sym.value).ok()?,
            hidden: matches!(sym.visibility, elf::STV_HIDDEN | elf::STV_INTERNAL),
        })
    }
}

/// `btf` made loadable as libbpf makes it at open, serialized: `.kconfig` and `.ksyms`
/// externs turned into allocated variables (kconfig ones at the offsets of the `.kconfig`
/// map in `externs`), then every DATASEC fixed up from `elf`.
pub(crate) fn fixed_btf(
    elf: &Elf<'_>,
    btf: &Btf<'_>,
    externs: &[ExternSpec],
) -> Result<Vec<u8>, ObjectError> {
    let fail = |reason: String| ObjectError::Btf {
        section: ".BTF",
        reason,
    };
    let mut m = BtfMut::from_btf(btf).map_err(|e| fail(e.to_string()))?;
    let kconfig_offset = |name: &str| {
        externs.iter().find_map(|e| match e.kind {
            ExternKind::Kconfig { offset, .. } if e.name == name => Some(offset),
            _ => None,
        })
    };
    finalize_extern_datasecs(&mut m, kconfig_offset)
        .map_err(|e| fail(format!("extern DATASECs: {e}")))?;
    fixup_datasecs(&mut m, elf).map_err(|e| fail(format!("DATASEC fix-up: {e}")))?;
    m.to_bytes().map_err(|e| fail(e.to_string()))
}
