//! Replacing one section's contents in an ELF64 relocatable object (the fixed `.BTF`), in
//! either byte order, without touching any other section.
//!
//! New contents that fit are written in place; larger ones are appended at the end of the
//! file and the section header is pointed there. Relocatable objects have no program
//! headers, so nothing else refers to a section's file offset.

/// Why the object could not be patched.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ElfPatchError {
    /// Not an ELF64 object, or a header points outside the file.
    #[error("malformed ELF object: {reason}")]
    Malformed {
        /// What is wrong.
        reason: String,
    },
    /// No section of that name.
    #[error("the object has no section `{name}`")]
    NoSection {
        /// The section name.
        name: String,
    },
}

const SHDR_SIZE: usize = 64;

struct Elf<'a> {
    bytes: &'a [u8],
    big: bool,
}

impl Elf<'_> {
    fn bad(reason: impl Into<String>) -> ElfPatchError {
        ElfPatchError::Malformed {
            reason: reason.into(),
        }
    }

    fn slice(&self, at: usize, len: usize) -> Result<&[u8], ElfPatchError> {
        at.checked_add(len)
            .and_then(|end| self.bytes.get(at..end))
            .ok_or_else(|| Self::bad(format!("{len} bytes at offset {at} are past the end")))
    }

    fn u16(&self, at: usize) -> Result<u16, ElfPatchError> {
        let b: [u8; 2] = self
            .slice(at, 2)?
            .try_into()
            .map_err(|_| Self::bad("u16"))?;
        Ok(if self.big {
            u16::from_be_bytes(b)
        } else {
            u16::from_le_bytes(b)
        })
    }

    fn u32(&self, at: usize) -> Result<u32, ElfPatchError> {
        let b: [u8; 4] = self
            .slice(at, 4)?
            .try_into()
            .map_err(|_| Self::bad("u32"))?;
        Ok(if self.big {
            u32::from_be_bytes(b)
        } else {
            u32::from_le_bytes(b)
        })
    }

    fn u64(&self, at: usize) -> Result<u64, ElfPatchError> {
        let b: [u8; 8] = self
            .slice(at, 8)?
            .try_into()
            .map_err(|_| Self::bad("u64"))?;
        Ok(if self.big {
            u64::from_be_bytes(b)
        } else {
            u64::from_le_bytes(b)
        })
    }

    fn put_u64(&self, out: &mut [u8], at: usize, value: u64) {
        let b = if self.big {
            value.to_be_bytes()
        } else {
            value.to_le_bytes()
        };
        out[at..at + 8].copy_from_slice(&b);
    }
}

/// Returns a copy of `object` whose section `name` holds `data`.
pub fn replace_section(object: &[u8], name: &str, data: &[u8]) -> Result<Vec<u8>, ElfPatchError> {
    if object.len() < 64 || &object[..4] != b"\x7fELF" {
        return Err(Elf::bad("no ELF header"));
    }
    if object[4] != 2 {
        return Err(Elf::bad("not ELF64"));
    }
    let elf = Elf {
        bytes: object,
        big: match object[5] {
            1 => false,
            2 => true,
            other => return Err(Elf::bad(format!("unknown byte order {other}"))),
        },
    };
    let shoff = usize::try_from(elf.u64(0x28)?).map_err(|_| Elf::bad("e_shoff"))?;
    let shentsize = usize::from(elf.u16(0x3a)?);
    let shnum = usize::from(elf.u16(0x3c)?);
    let shstrndx = usize::from(elf.u16(0x3e)?);
    if shentsize != SHDR_SIZE {
        return Err(Elf::bad(format!("section header size {shentsize}")));
    }
    let header = |index: usize| shoff + index * SHDR_SIZE;
    elf.slice(shoff, shnum * SHDR_SIZE)?;
    if shstrndx >= shnum {
        return Err(Elf::bad(format!(
            "e_shstrndx {shstrndx} of {shnum} sections"
        )));
    }
    let names_off = elf.u64(header(shstrndx) + 0x18)? as usize;
    let names_len = elf.u64(header(shstrndx) + 0x20)? as usize;
    let names = elf.slice(names_off, names_len)?;

    let mut found = None;
    for index in 0..shnum {
        let name_off = elf.u32(header(index))? as usize;
        let Some(rest) = names.get(name_off..) else {
            continue;
        };
        let end = rest.iter().position(|&b| b == 0).unwrap_or(rest.len());
        if &rest[..end] == name.as_bytes() {
            found = Some(index);
            break;
        }
    }
    let index = found.ok_or_else(|| ElfPatchError::NoSection {
        name: name.to_string(),
    })?;
    let at = header(index);
    let old_off = elf.u64(at + 0x18)? as usize;
    let old_size = elf.u64(at + 0x20)? as usize;
    elf.slice(old_off, old_size)?;

    let mut out = object.to_vec();
    let new_off = if data.len() <= old_size {
        out[old_off..old_off + data.len()].copy_from_slice(data);
        out[old_off + data.len()..old_off + old_size].fill(0);
        old_off
    } else {
        out.resize(out.len().next_multiple_of(8), 0);
        let off = out.len();
        out.extend_from_slice(data);
        off
    };
    elf.put_u64(&mut out, at + 0x18, new_off as u64);
    elf.put_u64(&mut out, at + 0x20, data.len() as u64);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A minimal ELF64 object: sections NULL, `.shstrtab`, `.BTF`; byte order as asked.
    fn object(big: bool, btf: &[u8]) -> Vec<u8> {
        let put16 = |v: u16| {
            if big {
                v.to_be_bytes()
            } else {
                v.to_le_bytes()
            }
        };
        let put32 = |v: u32| {
            if big {
                v.to_be_bytes()
            } else {
                v.to_le_bytes()
            }
        };
        let put64 = |v: u64| {
            if big {
                v.to_be_bytes()
            } else {
                v.to_le_bytes()
            }
        };
        let names = b"\0.shstrtab\0.BTF\0";
        let names_off = 64u64;
        let btf_off = names_off + names.len() as u64;
        let shoff = (btf_off + btf.len() as u64).next_multiple_of(8);
        let mut out = vec![0u8; 64];
        out[..4].copy_from_slice(b"\x7fELF");
        out[4] = 2;
        out[5] = if big { 2 } else { 1 };
        out[6] = 1;
        out[0x28..0x30].copy_from_slice(&put64(shoff));
        out[0x3a..0x3c].copy_from_slice(&put16(64));
        out[0x3c..0x3e].copy_from_slice(&put16(3));
        out[0x3e..0x40].copy_from_slice(&put16(1));
        out.extend_from_slice(names);
        out.extend_from_slice(btf);
        out.resize(shoff as usize, 0);
        let section = |name: u32, kind: u32, off: u64, size: u64| {
            let mut h = vec![0u8; 64];
            h[..4].copy_from_slice(&put32(name));
            h[4..8].copy_from_slice(&put32(kind));
            h[0x18..0x20].copy_from_slice(&put64(off));
            h[0x20..0x28].copy_from_slice(&put64(size));
            h
        };
        out.extend(section(0, 0, 0, 0));
        out.extend(section(1, 3, names_off, names.len() as u64));
        out.extend(section(11, 1, btf_off, btf.len() as u64));
        out
    }

    fn section_data(bytes: &[u8], name: &str) -> Vec<u8> {
        use object::{Object, ObjectSection};
        let file = object::File::parse(bytes).unwrap();
        file.section_by_name(name).unwrap().data().unwrap().to_vec()
    }

    #[test]
    fn writes_smaller_contents_in_place_in_both_byte_orders() {
        for big in [false, true] {
            let input = object(big, b"0123456789");
            let out = replace_section(&input, ".BTF", b"abc").unwrap();
            assert_eq!(out.len(), input.len());
            assert_eq!(section_data(&out, ".BTF"), b"abc");
            assert_eq!(section_data(&out, ".shstrtab"), b"\0.shstrtab\0.BTF\0");
        }
    }

    #[test]
    fn appends_larger_contents_in_both_byte_orders() {
        for big in [false, true] {
            let input = object(big, b"0123");
            let bigger = vec![7u8; 100];
            let out = replace_section(&input, ".BTF", &bigger).unwrap();
            assert!(out.len() >= input.len() + 100);
            assert_eq!(section_data(&out, ".BTF"), bigger);
        }
    }

    #[test]
    fn names_what_is_missing_or_malformed() {
        let input = object(false, b"0123");
        assert_eq!(
            replace_section(&input, ".BTF.ext", b"")
                .unwrap_err()
                .to_string(),
            "the object has no section `.BTF.ext`"
        );
        assert_eq!(
            replace_section(&input[..100], ".BTF", b"")
                .unwrap_err()
                .to_string(),
            "malformed ELF object: 192 bytes at offset 88 are past the end"
        );
        assert_eq!(
            replace_section(
                b"not an object at all, clearly not one, no no no no no no no no no",
                ".BTF",
                b""
            )
            .unwrap_err()
            .to_string(),
            "malformed ELF object: no ELF header"
        );
    }
}
