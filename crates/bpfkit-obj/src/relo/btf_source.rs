//! The crate's BTF parser as a CO-RE [`TypeSource`]: local object BTF, vmlinux, module BTF.

use super::types::{
    essential_name, Detail, Enumerator, Kind, Member, Param, TypeId, TypeInfo, TypeSource,
};
use crate::btf::{Btf, Type};

fn reference<'a>(kind: Kind, name: &'a str, ref_type: TypeId) -> TypeInfo<'a> {
    TypeInfo {
        kind,
        name,
        kflag: false,
        size: 0,
        ref_type,
        detail: Detail::None,
    }
}

fn sized<'a>(kind: Kind, name: &'a str, size: u32) -> TypeInfo<'a> {
    TypeInfo {
        kind,
        name,
        kflag: false,
        size,
        ref_type: 0,
        detail: Detail::None,
    }
}

impl TypeSource for Btf<'_> {
    fn type_count(&self) -> u32 {
        Btf::type_count(self)
    }

    fn first_type_id(&self) -> u32 {
        self.local_ids().start.max(1)
    }

    fn type_by_id(&self, id: TypeId) -> Option<TypeInfo<'_>> {
        let t = Btf::type_by_id(self, id).ok()?;
        let kind = t.kind();
        Some(match t {
            Type::Void => TypeInfo::void(),
            Type::Int(i) => TypeInfo {
                detail: Detail::Int {
                    encoding: i.encoding.0,
                    offset: i.offset,
                    bits: i.bits,
                },
                ..sized(kind, i.name, i.size)
            },
            Type::Ptr(p) => reference(kind, p.name, p.target),
            Type::Array(a) => TypeInfo {
                detail: Detail::Array {
                    elem: a.elem_type,
                    index: a.index_type,
                    nelems: a.nelems,
                },
                ..sized(kind, a.name, 0)
            },
            Type::Struct(c) | Type::Union(c) => TypeInfo {
                kflag: c.kind_flag,
                detail: Detail::Members(
                    c.members
                        .iter()
                        .map(|m| Member {
                            name: m.name,
                            type_id: m.type_id,
                            bit_offset: m.bit_offset,
                            bitfield_size: u32::from(m.bitfield_size),
                        })
                        .collect(),
                ),
                ..sized(kind, c.name, c.size)
            },
            Type::Enum(e) | Type::Enum64(e) => TypeInfo {
                kflag: e.signed,
                detail: Detail::Enumerators(
                    e.values
                        .iter()
                        .map(|v| Enumerator {
                            name: v.name,
                            // libbpf reads a 32-bit enumerator as s32 into a u64.
                            value: v.value_signed(kind == Kind::Enum64) as u64,
                        })
                        .collect(),
                ),
                ..sized(kind, e.name, e.size)
            },
            Type::Fwd(f) => TypeInfo {
                kflag: f.is_union,
                ..sized(kind, f.name, 0)
            },
            Type::Typedef(r)
            | Type::Volatile(r)
            | Type::Const(r)
            | Type::Restrict(r)
            | Type::TypeTag(r) => reference(kind, r.name, r.target),
            Type::Func(f) => reference(kind, f.name, f.proto),
            Type::FuncProto(p) => TypeInfo {
                detail: Detail::Params(
                    p.params
                        .iter()
                        .map(|q| Param {
                            name: q.name,
                            type_id: q.type_id,
                        })
                        .collect(),
                ),
                ..reference(kind, p.name, p.return_type)
            },
            Type::Var(v) => reference(kind, v.name, v.type_id),
            Type::Datasec(d) => sized(kind, d.name, d.size),
            Type::Float(f) => sized(kind, f.name, f.size),
            Type::DeclTag(d) => reference(kind, d.name, d.target),
        })
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
