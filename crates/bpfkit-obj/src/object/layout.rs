//! DATASEC fix-up: the ELF's answers (section sizes, variable symbols) to the btf
//! module's [`fixup_datasecs`], giving the BTF a loader hands to the kernel.

use object::elf;

use crate::btf::{fixup_datasecs, Btf, BtfMut, DatasecLayout, VarSymbol};

use super::elf::Elf;
use super::error::ObjectError;

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

/// `btf` with every DATASEC fixed up from `elf`, serialized.
pub(crate) fn fixed_btf(elf: &Elf<'_>, btf: &Btf<'_>) -> Result<Vec<u8>, ObjectError> {
    let fail = |reason: String| ObjectError::Btf {
        section: ".BTF",
        reason,
    };
    let mut m = BtfMut::from_btf(btf).map_err(|e| fail(e.to_string()))?;
    fixup_datasecs(&mut m, elf).map_err(|e| fail(format!("DATASEC fix-up: {e}")))?;
    m.to_bytes().map_err(|e| fail(e.to_string()))
}
