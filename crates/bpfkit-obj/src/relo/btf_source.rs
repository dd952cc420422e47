//! The crate's BTF parser as a CO-RE [`TypeSource`]: local object BTF, vmlinux, module BTF.

use super::types::{essential_name, Kind, TypeId, TypeSource};
use crate::btf::{Btf, BtfMut, Type};

impl TypeSource for Btf<'_> {
    fn type_count(&self) -> u32 {
        Btf::type_count(self)
    }

    fn first_type_id(&self) -> u32 {
        self.local_ids().start.max(1)
    }

    fn type_by_id(&self, id: TypeId) -> Option<Type<'_>> {
        self.type_view(id)
    }

    fn name_and_kind(&self, id: TypeId) -> Option<(&str, Kind)> {
        let h = self.type_header(id).ok()?;
        Some((self.string_at(h.name_off).ok()?, h.kind))
    }

    fn pointer_size(&self) -> u32 {
        Btf::pointer_size(self)
    }

    fn ids_by_name(&self, name: &str) -> Option<Vec<TypeId>> {
        Some(Btf::ids_by_name(self, name))
    }

    fn ids_with_essential_names(&self, essentials: &[&str]) -> Option<Vec<Vec<TypeId>>> {
        // Base BTF only: a split BTF's names may live in its base's string table.
        if self.base().is_some() {
            return None;
        }
        // Wanted names by first byte: most types are rejected on one table lookup.
        let mut by_first: Vec<Vec<usize>> = vec![Vec::new(); 256];
        for (i, e) in essentials.iter().enumerate() {
            by_first[usize::from(*e.as_bytes().first()?)].push(i);
        }
        let (data, strings) = (self.bytes(), self.string_section());
        let big_endian = self.is_big_endian();
        let mut out = vec![Vec::new(); essentials.len()];
        for id in TypeSource::first_type_id(self)..Btf::type_count(self) {
            // A type record's first word is its name offset.
            let off = self.type_offset(id)?;
            let word: [u8; 4] = data.get(off..off + 4)?.try_into().ok()?;
            let name_off = if big_endian {
                u32::from_be_bytes(word)
            } else {
                u32::from_le_bytes(word)
            } as usize;
            let Some(name) = strings.get(name_off..) else {
                continue;
            };
            let Some(&first) = name.first() else { continue };
            for &i in &by_first[usize::from(first)] {
                let want = essentials[i].as_bytes();
                if !name.starts_with(want) {
                    continue;
                }
                match name.get(want.len()..) {
                    Some([0, ..]) => out[i].push(id),
                    Some(rest) if rest.starts_with(b"___") => {
                        // Flavored: the essential name cuts at the *last* separator.
                        let end = memchr::memchr(0, name).unwrap_or(name.len());
                        if std::str::from_utf8(&name[..end])
                            .is_ok_and(|n| essential_name(n) == essentials[i])
                        {
                            out[i].push(id);
                        }
                    }
                    _ => {}
                }
            }
        }
        Some(out)
    }

    fn flavored_names(&self) -> Option<Vec<&str>> {
        // A split (module) BTF owns few types but shares the base's large string table:
        // scanning its own types' names is cheaper than scanning the base's strings.
        if self.base().is_some() {
            return None;
        }
        // Only strings containing "___" can be flavored: find those with a vectorised
        // substring search instead of splitting the whole (multi-MiB) table into strings.
        let strings = self.string_section();
        let mut names = Vec::new();
        let mut last_start = usize::MAX;
        for hit in memchr::memmem::find_iter(strings, b"___") {
            let start = memchr::memrchr(0, &strings[..hit]).map_or(0, |p| p + 1);
            if start == last_start {
                continue;
            }
            last_start = start;
            let end = memchr::memchr(0, &strings[hit..]).map_or(strings.len(), |p| hit + p);
            if let Ok(name) = std::str::from_utf8(&strings[start..end]) {
                if essential_name(name).len() != name.len() {
                    names.push(name);
                }
            }
        }
        Some(names)
    }
}

/// An owned BTF, read through the same view (encoded and parsed once per change).
impl TypeSource for BtfMut {
    fn type_count(&self) -> u32 {
        BtfMut::type_count(self)
    }

    fn first_type_id(&self) -> u32 {
        self.first_id()
    }

    fn type_by_id(&self, id: TypeId) -> Option<Type<'_>> {
        self.as_btf()?.type_view(id)
    }

    fn name_and_kind(&self, id: TypeId) -> Option<(&str, Kind)> {
        TypeSource::name_and_kind(self.as_btf()?, id)
    }

    fn pointer_size(&self) -> u32 {
        self.as_btf().map_or(8, Btf::pointer_size)
    }
}
