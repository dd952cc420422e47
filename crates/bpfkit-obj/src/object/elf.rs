//! A bounds-checked, endian-aware view of a BPF ELF file: sections, symbols, relocations.
//!
//! Everything the object parser needs from the ELF is read once here, through the `object`
//! crate, and every failure becomes an [`ObjectError`] naming the section.

use object::elf;
use object::read::elf::{FileHeader, SectionHeader, Sym};
use object::Endianness;

use super::error::ObjectError;

/// One section header and its bytes (empty for `SHT_NOBITS`).
#[derive(Debug)]
pub(crate) struct Section<'a> {
    pub index: usize,
    pub name: String,
    pub sh_type: u32,
    pub flags: u64,
    pub size: u64,
    pub info: u32,
    pub entsize: u64,
    pub data: &'a [u8],
}

impl Section<'_> {
    pub fn is_exec(&self) -> bool {
        self.sh_type == elf::SHT_PROGBITS && self.flags & u64::from(elf::SHF_EXECINSTR) != 0
    }
}

/// One symbol of `.symtab`.
#[derive(Debug, Clone)]
pub(crate) struct Symbol {
    pub index: usize,
    pub name: String,
    pub value: u64,
    pub size: u64,
    pub kind: u8,
    pub bind: u8,
    pub visibility: u8,
    /// Raw `st_shndx` (0 = undefined, ≥ 0xff00 = special).
    pub shndx: u16,
}

impl Symbol {
    /// The defining section, `None` for undefined and special (ABS, COMMON) symbols.
    pub fn section(&self) -> Option<usize> {
        (self.shndx != elf::SHN_UNDEF && self.shndx < elf::SHN_LORESERVE)
            .then_some(usize::from(self.shndx))
    }

    /// libbpf's extern: undefined, global or weak, no type.
    pub fn is_extern(&self) -> bool {
        self.shndx == elf::SHN_UNDEF
            && (self.bind == elf::STB_GLOBAL || self.bind == elf::STB_WEAK)
            && self.kind == elf::STT_NOTYPE
            && !self.name.is_empty()
    }
}

/// One `Elf64_Rel` entry.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Rel {
    pub offset: u64,
    pub symbol: usize,
    pub r_type: u32,
}

/// The parsed file.
#[derive(Debug)]
pub(crate) struct Elf<'a> {
    pub endian: Endianness,
    pub sections: Vec<Section<'a>>,
    pub symbols: Vec<Symbol>,
}

fn elf_err(e: object::Error) -> ObjectError {
    ObjectError::Elf {
        reason: e.to_string(),
    }
}

impl<'a> Elf<'a> {
    pub fn parse(data: &'a [u8]) -> Result<Elf<'a>, ObjectError> {
        let header = elf::FileHeader64::<Endianness>::parse(data).map_err(elf_err)?;
        let endian = header.endian().map_err(elf_err)?;
        let machine = header.e_machine(endian);
        if machine != elf::EM_BPF {
            return Err(ObjectError::NotBpf { machine });
        }
        let table = header.sections(endian, data).map_err(elf_err)?;
        let mut sections = Vec::with_capacity(table.len());
        for (i, sh) in table.iter().enumerate() {
            let name = table
                .section_name(endian, sh)
                .map(|n| String::from_utf8_lossy(n).into_owned())
                .map_err(|e| ObjectError::Section {
                    section: String::new(),
                    index: i,
                    reason: format!("unreadable name: {e}"),
                })?;
            let sh_type = sh.sh_type(endian);
            let bytes = if sh_type == elf::SHT_NOBITS || i == 0 {
                &[][..]
            } else {
                sh.data(endian, data).map_err(|e| ObjectError::Section {
                    section: name.clone(),
                    index: i,
                    reason: format!("contents outside the file: {e}"),
                })?
            };
            sections.push(Section {
                index: i,
                name,
                sh_type,
                flags: sh.sh_flags(endian),
                size: sh.sh_size(endian),
                info: sh.sh_info(endian),
                entsize: sh.sh_entsize(endian),
                data: bytes,
            });
        }

        let symtabs = sections
            .iter()
            .filter(|s| s.sh_type == elf::SHT_SYMTAB)
            .count();
        if symtabs == 0 {
            return Err(ObjectError::Symbols {
                reason: "no symbol table (stripped object?)".into(),
            });
        }
        if symtabs > 1 {
            return Err(ObjectError::Symbols {
                reason: format!("{symtabs} symbol tables, expected one"),
            });
        }
        let table_syms =
            table
                .symbols(endian, data, elf::SHT_SYMTAB)
                .map_err(|e| ObjectError::Symbols {
                    reason: e.to_string(),
                })?;
        let strings = table_syms.strings();
        let mut symbols = Vec::with_capacity(table_syms.len());
        for (i, sym) in table_syms.symbols().iter().enumerate() {
            let name = sym
                .name(endian, strings)
                .map(|n| String::from_utf8_lossy(n).into_owned())
                .map_err(|e| ObjectError::Symbols {
                    reason: format!("symbol {i}: unreadable name: {e}"),
                })?;
            symbols.push(Symbol {
                index: i,
                name,
                value: sym.st_value(endian),
                size: sym.st_size(endian),
                kind: sym.st_type(),
                bind: sym.st_bind(),
                visibility: sym.st_visibility(),
                shndx: sym.st_shndx(endian),
            });
        }
        Ok(Elf {
            endian,
            sections,
            symbols,
        })
    }

    pub fn is_big_endian(&self) -> bool {
        self.endian == Endianness::Big
    }

    pub fn section(&self, index: usize) -> Option<&Section<'a>> {
        self.sections.get(index)
    }

    pub fn section_by_name(&self, name: &str) -> Option<&Section<'a>> {
        self.sections.iter().find(|s| s.name == name)
    }

    /// The name a relocation against `sym` is reported under: the symbol's, or its
    /// section's for section symbols.
    pub fn symbol_display_name(&self, sym: &Symbol) -> String {
        if sym.kind == elf::STT_SECTION || sym.name.is_empty() {
            if let Some(sec) = sym.section().and_then(|i| self.section(i)) {
                return sec.name.clone();
            }
        }
        sym.name.clone()
    }

    pub fn u32_at(&self, bytes: &[u8], offset: usize) -> Option<u32> {
        let b: [u8; 4] = bytes.get(offset..offset.checked_add(4)?)?.try_into().ok()?;
        Some(match self.endian {
            Endianness::Little => u32::from_le_bytes(b),
            Endianness::Big => u32::from_be_bytes(b),
        })
    }

    pub fn u64_at(&self, bytes: &[u8], offset: usize) -> Option<u64> {
        let b: [u8; 8] = bytes.get(offset..offset.checked_add(8)?)?.try_into().ok()?;
        Some(match self.endian {
            Endianness::Little => u64::from_le_bytes(b),
            Endianness::Big => u64::from_be_bytes(b),
        })
    }

    /// The `Elf64_Rel` entries of a `SHT_REL` section.
    pub fn rels(&self, section: &Section<'_>) -> Result<Vec<Rel>, ObjectError> {
        const REL_SIZE: usize = 16;
        if section.entsize != REL_SIZE as u64 || section.data.len() % REL_SIZE != 0 {
            return Err(ObjectError::Section {
                section: section.name.clone(),
                index: section.index,
                reason: format!(
                    "relocation entries of {} bytes in {} bytes, expected 16-byte Elf64_Rel",
                    section.entsize,
                    section.data.len()
                ),
            });
        }
        let mut out = Vec::with_capacity(section.data.len() / REL_SIZE);
        for chunk in 0..section.data.len() / REL_SIZE {
            let at = chunk * REL_SIZE;
            let (Some(offset), Some(info)) = (
                self.u64_at(section.data, at),
                self.u64_at(section.data, at + 8),
            ) else {
                continue;
            };
            out.push(Rel {
                offset,
                symbol: (info >> 32) as usize,
                r_type: (info & 0xffff_ffff) as u32,
            });
        }
        Ok(out)
    }
}
