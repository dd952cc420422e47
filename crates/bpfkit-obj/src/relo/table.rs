//! An in-memory BTF for CO-RE: build types by hand for tests, fuzzers and synthetic targets.
//!
//! The types live in the crate's one owned BTF ([`BtfMut`]), and the CO-RE engine reads
//! them through the same borrowed [`Type`](crate::btf::Type) view as any parsed BTF.

use super::types::{Kind, TypeId, TypeSource};
use crate::btf::{BtfMut, IntEncoding, Type};

/// A BTF built type by type; id 0 is `void`. Implements [`TypeSource`].
///
/// ```
/// use bpfkit_obj::relo::{Kind, TypeSource, TypeTable};
/// let mut btf = TypeTable::new();
/// let int = btf.int("int", 4, true);
/// let ptr = btf.ptr(int);
/// assert_eq!(btf.type_by_id(ptr).map(|t| t.kind()), Some(Kind::Ptr));
/// assert_eq!(btf.type_count(), 3);
/// ```
#[derive(Debug, Default, Clone)]
pub struct TypeTable {
    btf: BtfMut,
}

impl TypeTable {
    /// A table holding only `void`.
    pub fn new() -> Self {
        Self::default()
    }

    /// The types as an editable BTF.
    pub fn btf(&self) -> &BtfMut {
        &self.btf
    }

    /// Set the kind flag of a type already added (a bitfield struct, a signed enum, a
    /// union forward declaration). Unknown ids are ignored.
    pub fn set_kind_flag(&mut self, id: TypeId, kind_flag: bool) {
        self.btf.set_kind_flag(id, kind_flag);
    }

    /// An int of `size` bytes.
    pub fn int(&mut self, name: &str, size: u32, signed: bool) -> TypeId {
        let encoding = if signed { IntEncoding::SIGNED } else { 0 };
        self.btf.add_int(name, size, encoding)
    }

    /// A float of `size` bytes.
    pub fn float(&mut self, name: &str, size: u32) -> TypeId {
        self.btf.add_float(name, size)
    }

    /// A pointer to `to`.
    pub fn ptr(&mut self, to: TypeId) -> TypeId {
        self.btf.add_ptr(to)
    }

    /// A typedef, const, volatile, restrict or type tag of `to`; `None` for other kinds.
    pub fn modifier(&mut self, kind: Kind, name: &str, to: TypeId) -> Option<TypeId> {
        self.btf.add_reference(kind, name, to)
    }

    /// `typedef to name;`
    pub fn typedef(&mut self, name: &str, to: TypeId) -> TypeId {
        self.btf.add_typedef(name, to)
    }

    /// An array of `nelems` elements of type `elem`.
    pub fn array(&mut self, elem: TypeId, nelems: u32) -> TypeId {
        self.btf.add_array(elem, 0, nelems)
    }

    /// A struct with members `(name, type, bit_offset)`.
    pub fn struct_(&mut self, name: &str, size: u32, members: &[(&str, TypeId, u32)]) -> TypeId {
        self.btf.add_struct(name, size, members)
    }

    /// A union with members `(name, type, bit_offset)`.
    pub fn union_(&mut self, name: &str, size: u32, members: &[(&str, TypeId, u32)]) -> TypeId {
        let members: Vec<_> = members.iter().map(|&(n, t, off)| (n, t, off, 0)).collect();
        self.btf.add_composite(true, name, size, false, &members)
    }

    /// A kflag struct whose members `(name, type, bit_offset, bitfield_size)` may be bitfields.
    pub fn struct_with_bitfields(
        &mut self,
        name: &str,
        size: u32,
        members: &[(&str, TypeId, u32, u32)],
    ) -> TypeId {
        let members: Vec<_> = (members.iter())
            .map(|&(n, t, off, bits)| (n, t, off, bits as u8))
            .collect();
        self.btf.add_composite(false, name, size, true, &members)
    }

    /// An enum (`size` 1..=4 bytes) or enum64 (`size` 8) with `(name, value)` enumerators.
    pub fn enum_(&mut self, name: &str, size: u32, signed: bool, values: &[(&str, i64)]) -> TypeId {
        self.btf.add_enum(name, size, signed, values)
    }

    /// A forward declaration of a struct (or union when `union` is set).
    pub fn fwd(&mut self, name: &str, union: bool) -> TypeId {
        self.btf.add_fwd(name, union)
    }

    /// A function prototype.
    pub fn func_proto(&mut self, ret: TypeId, params: &[(&str, TypeId)]) -> TypeId {
        self.btf.add_func_proto(ret, params)
    }
}

impl TypeSource for TypeTable {
    fn type_count(&self) -> u32 {
        self.btf.type_count()
    }

    fn type_by_id(&self, id: TypeId) -> Option<Type<'_>> {
        TypeSource::type_by_id(&self.btf, id)
    }

    fn name_and_kind(&self, id: TypeId) -> Option<(&str, Kind)> {
        TypeSource::name_and_kind(&self.btf, id)
    }

    fn pointer_size(&self) -> u32 {
        TypeSource::pointer_size(&self.btf)
    }
}
