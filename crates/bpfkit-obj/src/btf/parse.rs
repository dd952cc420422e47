//! [`Btf`]: lazy, borrowed view of BTF bytes — offsets computed once, types decoded on demand.

use std::borrow::Cow;
use std::ops::Range;
use std::sync::OnceLock;

use super::names::{self, NameIndex};
use super::types::*;
use super::{BtfError, FuncLinkage, IntEncoding, Kind, TypeId, VarLinkage};

/// `BTF_MAGIC`.
pub const BTF_MAGIC: u16 = 0xeb9f;
/// Size of `struct btf_header`.
pub const BTF_HEADER_SIZE: usize = 24;
/// Size of the common part of every type record (`struct btf_type`).
pub const BTF_TYPE_SIZE: usize = 12;
/// libbpf's limit on chains of referenced types (`MAX_RESOLVE_DEPTH`).
pub const MAX_RESOLVE_DEPTH: usize = 32;

/// The BTF header (`struct btf_header`), offsets relative to the end of the header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Header {
    /// Format version (1).
    pub version: u8,
    /// Flags (0).
    pub flags: u8,
    /// Header length in bytes (24).
    pub hdr_len: u32,
    /// Start of the type section after the header.
    pub type_off: u32,
    /// Type section length.
    pub type_len: u32,
    /// Start of the string section after the header.
    pub str_off: u32,
    /// String section length.
    pub str_len: u32,
}

/// The fixed 12-byte part of a type record, without decoding the rest.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TypeHeader {
    /// Offset of the name in the string table (0 = anonymous).
    pub name_off: u32,
    /// The kind.
    pub kind: Kind,
    /// `kind_flag` (bit 31 of info).
    pub kind_flag: bool,
    /// `vlen` (bits 0-15 of info).
    pub vlen: u16,
    /// `size` or `type`, depending on the kind.
    pub size_or_type: u32,
}

/// A parsed BTF blob (`/sys/kernel/btf/vmlinux`, a `.BTF` section, a module's split BTF).
///
/// Parsing validates the header and walks the type section once to record where each
/// type starts; nothing else is decoded until asked for. Strings are borrowed from the
/// input. The name index is built on the first by-name lookup.
///
/// ```no_run
/// use bpfkit_obj::btf::{Btf, Kind};
/// let bytes = std::fs::read("/sys/kernel/btf/vmlinux").unwrap();
/// let btf = Btf::parse(&bytes).unwrap();
/// let id = btf.id_by_name_kind("task_struct", Kind::Struct).unwrap();
/// println!("task_struct is [{id}], {} bytes", btf.resolve_size(id).unwrap());
/// ```
pub struct Btf<'a> {
    data: Cow<'a, [u8]>,
    big_endian: bool,
    header: Header,
    types: Range<usize>,
    strings: Range<usize>,
    /// Absolute byte offset of each local type; index 0 is id `first_id`.
    offsets: Vec<u32>,
    first_id: TypeId,
    base: Option<&'a Btf<'a>>,
    /// Total string bytes of the base chain: local string offsets start here.
    base_str_len: u32,
    names: OnceLock<NameIndex>,
    pointer_size: OnceLock<u32>,
}

impl std::fmt::Debug for Btf<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Btf")
            .field("big_endian", &self.big_endian)
            .field("header", &self.header)
            .field("first_id", &self.first_id)
            .field("types", &self.offsets.len())
            .field("split", &self.base.is_some())
            .finish()
    }
}

#[inline]
pub(crate) fn read_u32(data: &[u8], off: usize, big_endian: bool) -> u32 {
    // Callers only read inside ranges validated at parse time; the fallback never fires.
    match data.get(off..off + 4) {
        Some(&[a, b, c, d]) => {
            if big_endian {
                u32::from_be_bytes([a, b, c, d])
            } else {
                u32::from_le_bytes([a, b, c, d])
            }
        }
        _ => 0,
    }
}

/// Validate the header of a BTF blob; returns (header, big_endian, type range, string range).
pub(crate) fn parse_header(
    data: &[u8],
) -> Result<(Header, bool, Range<usize>, Range<usize>), BtfError> {
    if data.len() < BTF_HEADER_SIZE {
        return Err(BtfError::TruncatedHeader {
            len: data.len(),
            needed: BTF_HEADER_SIZE,
        });
    }
    let magic = u16::from_le_bytes([data[0], data[1]]);
    let big_endian = match magic {
        BTF_MAGIC => false,
        m if m == BTF_MAGIC.swap_bytes() => true,
        m => return Err(BtfError::BadMagic { magic: m }),
    };
    let version = data[2];
    if version != 1 {
        return Err(BtfError::UnsupportedVersion { version });
    }
    let rd = |off| read_u32(data, off, big_endian);
    let header = Header {
        version,
        flags: data[3],
        hdr_len: rd(4),
        type_off: rd(8),
        type_len: rd(12),
        str_off: rd(16),
        str_len: rd(20),
    };
    let hdr_len = header.hdr_len as usize;
    if hdr_len < BTF_HEADER_SIZE || hdr_len > data.len() {
        return Err(BtfError::BadHeaderLength {
            hdr_len: header.hdr_len,
            len: data.len(),
        });
    }
    let section = |name, off: u32, size: u32| {
        let start = hdr_len.checked_add(off as usize);
        let end = start.and_then(|s| s.checked_add(size as usize));
        match (start, end) {
            (Some(s), Some(e)) if e <= data.len() => Ok(s..e),
            _ => Err(BtfError::SectionOutOfBounds {
                section: name,
                offset: off,
                size,
                len: data.len(),
            }),
        }
    };
    let types = section("type", header.type_off, header.type_len)?;
    let strings = section("string", header.str_off, header.str_len)?;
    Ok((header, big_endian, types, strings))
}

impl<'a> Btf<'a> {
    /// Parse base BTF (vmlinux, or an object's `.BTF`) borrowing `data`.
    pub fn parse(data: &'a [u8]) -> Result<Btf<'a>, BtfError> {
        Self::from_cow(Cow::Borrowed(data), None)
    }

    /// Parse split BTF (a kernel module's `/sys/kernel/btf/<module>`) on top of `base`:
    /// its ids continue after the base's last id and its string offsets after the base's
    /// string bytes.
    pub fn parse_split(data: &'a [u8], base: &'a Btf<'a>) -> Result<Btf<'a>, BtfError> {
        Self::from_cow(Cow::Borrowed(data), Some(base))
    }

    /// Parse base BTF that owns its bytes.
    pub fn parse_owned(data: Vec<u8>) -> Result<Btf<'static>, BtfError> {
        Btf::from_cow(Cow::Owned(data), None)
    }

    /// Parse split BTF that owns its bytes, on top of `base`.
    pub fn parse_split_owned(data: Vec<u8>, base: &'a Btf<'a>) -> Result<Btf<'a>, BtfError> {
        Self::from_cow(Cow::Owned(data), Some(base))
    }

    fn from_cow(data: Cow<'a, [u8]>, base: Option<&'a Btf<'a>>) -> Result<Btf<'a>, BtfError> {
        if data.len() > u32::MAX as usize {
            return Err(BtfError::TooLarge {
                what: "blob",
                size: data.len(),
            });
        }
        let (header, big_endian, types, strings) = parse_header(&data)?;
        let (first_id, base_str_len) = match base {
            Some(b) => (b.type_count(), b.total_str_len()),
            None => (1, 0),
        };
        // Base BTF strings start with "" at offset 0 and end with NUL. Split BTF strings
        // continue the base's, so only the final NUL is required (or no strings at all).
        let s = &data[strings.clone()];
        let ok = matches!(
            (s.first(), s.last(), base.is_some()),
            (Some(0), Some(0), false) | (_, Some(0), true) | (None, None, true)
        );
        if !ok {
            return Err(BtfError::BadStringSection {
                offset: strings.start,
                size: strings.len(),
            });
        }
        let offsets = compute_offsets(&data, big_endian, types.clone(), first_id)?;
        Ok(Btf {
            data,
            big_endian,
            header,
            types,
            strings,
            offsets,
            first_id,
            base,
            base_str_len,
            names: OnceLock::new(),
            pointer_size: OnceLock::new(),
        })
    }

    /// Whether the blob is big-endian.
    pub fn is_big_endian(&self) -> bool {
        self.big_endian
    }

    /// The header as stored.
    pub fn header(&self) -> &Header {
        &self.header
    }

    /// The whole blob.
    pub fn bytes(&self) -> &[u8] {
        &self.data
    }

    /// The bytes of this blob's type section.
    pub fn type_section(&self) -> &[u8] {
        &self.data[self.types.clone()]
    }

    /// The bytes of this blob's own string section (not the base's).
    pub fn string_section(&self) -> &[u8] {
        &self.data[self.strings.clone()]
    }

    /// The base this split BTF sits on.
    pub fn base(&self) -> Option<&'a Btf<'a>> {
        self.base
    }

    /// One past the last valid type id (void and base types included), like libbpf's
    /// `btf__type_cnt`.
    pub fn type_count(&self) -> TypeId {
        self.first_id + self.offsets.len() as TypeId
    }

    /// The ids of the types stored in this blob (for split BTF, not the base's).
    pub fn local_ids(&self) -> Range<TypeId> {
        self.first_id..self.type_count()
    }

    /// String bytes of this blob and its base chain: where a split BTF's strings start.
    pub fn total_str_len(&self) -> u32 {
        self.base_str_len + self.strings.len() as u32
    }

    /// Raw string bytes at `offset` (without the NUL), resolving split offsets.
    pub fn string_bytes_at(&self, offset: u32) -> Result<&[u8], BtfError> {
        if offset < self.base_str_len {
            if let Some(base) = self.base {
                return base.string_bytes_at(offset);
            }
        }
        let local = (offset - self.base_str_len) as usize;
        let s = &self.data[self.strings.clone()];
        let Some(rest) = s.get(local..).filter(|r| !r.is_empty()) else {
            return Err(BtfError::StringOutOfBounds {
                offset,
                size: self.total_str_len() as usize,
            });
        };
        match rest.iter().position(|&b| b == 0) {
            Some(end) => Ok(&rest[..end]),
            None => Err(BtfError::UnterminatedString { offset }),
        }
    }

    /// The string section holding `offset` (this blob's or a base's) and the offset in it.
    fn string_table_for(&self, offset: u32) -> Option<(&[u8], usize)> {
        if offset < self.base_str_len {
            return self.base?.string_table_for(offset);
        }
        let local = (offset - self.base_str_len) as usize;
        Some((&self.data[self.strings.clone()], local))
    }

    /// The string at `offset` of the string table.
    pub fn string_at(&self, offset: u32) -> Result<&str, BtfError> {
        if offset == 0 {
            return Ok("");
        }
        let bytes = self.string_bytes_at(offset)?;
        std::str::from_utf8(bytes).map_err(|_| BtfError::InvalidUtf8 { offset })
    }

    fn check_id(&self, id: TypeId) -> Result<(), BtfError> {
        if id >= self.type_count() {
            return Err(BtfError::UnknownTypeId {
                id,
                last: self.type_count() - 1,
            });
        }
        Ok(())
    }

    #[inline]
    fn rd(&self, off: usize) -> u32 {
        read_u32(&self.data, off, self.big_endian)
    }

    /// The `u32` at byte `off` of the blob in its byte order (0 outside it).
    #[inline]
    pub(crate) fn read_at(&self, off: usize) -> u32 {
        self.rd(off)
    }

    /// The fixed part of the type record at byte `off` (an offset of a local type).
    pub(crate) fn header_at(&self, off: usize) -> TypeHeader {
        let info = self.rd(off + 4);
        TypeHeader {
            name_off: self.rd(off),
            // Validated when offsets were computed.
            kind: Kind::from_u8(((info >> 24) & 0x1f) as u8).unwrap_or(Kind::Void),
            kind_flag: info >> 31 != 0,
            vlen: info as u16,
            size_or_type: self.rd(off + 8),
        }
    }

    /// An int's encoding word at `extra`: (`BTF_INT_*` encoding, bit offset, bits).
    pub(crate) fn int_at(&self, extra: usize) -> (u8, u8, u8) {
        let enc = self.rd(extra);
        (
            ((enc >> 24) & 0x0f) as u8,
            ((enc >> 16) & 0xff) as u8,
            enc as u8,
        )
    }

    /// Member `i` of the records from byte `first`: (name offset, type, bit offset,
    /// bitfield size), the offset word split when the struct's `kind_flag` is set.
    pub(crate) fn member_at(
        &self,
        first: usize,
        i: usize,
        kind_flag: bool,
    ) -> (u32, TypeId, u32, u8) {
        let m = first + 12 * i;
        let raw_off = self.rd(m + 8);
        let (bit_offset, bitfield_size) = if kind_flag {
            (raw_off & 0x00ff_ffff, (raw_off >> 24) as u8)
        } else {
            (raw_off, 0)
        };
        (self.rd(m), self.rd(m + 4), bit_offset, bitfield_size)
    }

    /// Enumerator `i` of the records from byte `first`: (name offset, raw value), 12-byte
    /// `enum64` records when `wide`, else 8-byte ones (the value zero-extended).
    pub(crate) fn enumerator_at(&self, first: usize, i: usize, wide: bool) -> (u32, u64) {
        if wide {
            let e = first + 12 * i;
            let (lo, hi) = (u64::from(self.rd(e + 4)), u64::from(self.rd(e + 8)));
            (self.rd(e), hi << 32 | lo)
        } else {
            let e = first + 8 * i;
            (self.rd(e), u64::from(self.rd(e + 4)))
        }
    }

    /// Parameter `i` of the records from byte `first`: (name offset, type).
    pub(crate) fn param_at(&self, first: usize, i: usize) -> (u32, TypeId) {
        let p = first + 8 * i;
        (self.rd(p), self.rd(p + 4))
    }

    /// The BTF of the chain (this one or a base) that holds type `id`'s record, and the
    /// record's byte offset in it; `None` for void and ids that do not exist.
    pub(crate) fn record_of(&self, id: TypeId) -> Option<(&Btf<'a>, usize)> {
        if id != 0 && id < self.first_id {
            return self.base?.record_of(id);
        }
        self.type_offset(id).map(|off| (self, off))
    }

    /// The byte offset of a local type's record, or `None` for void and base types.
    pub fn type_offset(&self, id: TypeId) -> Option<usize> {
        let idx = id.checked_sub(self.first_id)?;
        self.offsets.get(idx as usize).map(|&o| o as usize)
    }

    /// The fixed part of a type record. Void yields a header of kind [`Kind::Void`].
    pub fn type_header(&self, id: TypeId) -> Result<TypeHeader, BtfError> {
        self.check_id(id)?;
        if id == 0 {
            return Ok(TypeHeader {
                name_off: 0,
                kind: Kind::Void,
                kind_flag: false,
                vlen: 0,
                size_or_type: 0,
            });
        }
        if id < self.first_id {
            if let Some(base) = self.base {
                return base.type_header(id);
            }
        }
        let off = self.offsets[(id - self.first_id) as usize] as usize;
        Ok(self.header_at(off))
    }

    /// The kind of a type.
    pub fn kind(&self, id: TypeId) -> Result<Kind, BtfError> {
        Ok(self.type_header(id)?.kind)
    }

    /// The name of a type (`""` when anonymous).
    pub fn name(&self, id: TypeId) -> Result<&str, BtfError> {
        let h = self.type_header(id)?;
        self.string_at(h.name_off)
    }

    /// One type, viewed in place (nothing is allocated). A bad name string of the type or
    /// of one of its members, enumerators or parameters is reported as
    /// [`BtfError::BadTypeString`] naming the type and its offset.
    #[doc(alias = "btf__type_by_id")]
    pub fn type_by_id(&self, id: TypeId) -> Result<Type<'_>, BtfError> {
        self.check_id(id)?;
        let Some((owner, off)) = self.record_of(id) else {
            return Ok(Type::Void);
        };
        owner.decode(off, true).map_err(|e| match e {
            e @ (BtfError::StringOutOfBounds { .. }
            | BtfError::UnterminatedString { .. }
            | BtfError::InvalidUtf8 { .. }) => BtfError::BadTypeString {
                id,
                offset: off,
                source: Box::new(e),
            },
            e => e,
        })
    }

    /// The view of type `id` the CO-RE engine reads: like [`type_by_id`](Self::type_by_id)
    /// but a bad record name reads as empty instead of failing the lookup; `None` for ids
    /// that do not exist or a type whose own name is bad.
    pub(crate) fn type_view(&self, id: TypeId) -> Option<Type<'_>> {
        if id == 0 {
            return (self.type_count() > 0).then_some(Type::Void);
        }
        let (owner, off) = self.record_of(id)?;
        owner.decode(off, false).ok()
    }

    /// The type whose record is at `off` of this blob; with `check_names`, every record's
    /// name is checked to be a valid string (without allocating).
    fn decode(&self, off: usize, check_names: bool) -> Result<Type<'_>, BtfError> {
        let btf: &Btf<'_> = self;
        let h = btf.header_at(off);
        let name = btf.string_at(h.name_off)?;
        let extra = off + BTF_TYPE_SIZE;
        let vlen = usize::from(h.vlen);
        let t = h.size_or_type;
        if check_names {
            for i in 0..vlen {
                let name_off = match h.kind {
                    Kind::Struct | Kind::Union => btf.member_at(extra, i, false).0,
                    Kind::Enum => btf.enumerator_at(extra, i, false).0,
                    Kind::Enum64 => btf.enumerator_at(extra, i, true).0,
                    Kind::FuncProto => btf.param_at(extra, i).0,
                    _ => break,
                };
                btf.string_at(name_off)?;
            }
        }
        Ok(match h.kind {
            Kind::Void => Type::Void,
            Kind::Int => {
                let (encoding, offset, bits) = btf.int_at(extra);
                Type::Int(Int {
                    name,
                    size: t,
                    encoding: IntEncoding(encoding),
                    offset,
                    bits,
                })
            }
            Kind::Ptr => Type::Ptr(Ptr { name, target: t }),
            Kind::Array => Type::Array(Array {
                name,
                elem_type: btf.rd(extra),
                index_type: btf.rd(extra + 4),
                nelems: btf.rd(extra + 8),
            }),
            Kind::Struct | Kind::Union => {
                let c = Composite {
                    name,
                    size: t,
                    kind_flag: h.kind_flag,
                    members: Records::raw(btf, extra, vlen, h.kind_flag, false),
                };
                if h.kind == Kind::Struct {
                    Type::Struct(c)
                } else {
                    Type::Union(c)
                }
            }
            Kind::Enum | Kind::Enum64 => {
                let wide = h.kind == Kind::Enum64;
                let e = Enum {
                    name,
                    size: t,
                    signed: h.kind_flag,
                    values: Records::raw(btf, extra, vlen, false, wide),
                };
                if wide {
                    Type::Enum64(e)
                } else {
                    Type::Enum(e)
                }
            }
            Kind::Fwd => Type::Fwd(Fwd {
                name,
                is_union: h.kind_flag,
            }),
            Kind::Typedef => Type::Typedef(Reference { name, target: t }),
            Kind::Volatile => Type::Volatile(Reference { name, target: t }),
            Kind::Const => Type::Const(Reference { name, target: t }),
            Kind::Restrict => Type::Restrict(Reference { name, target: t }),
            Kind::TypeTag => Type::TypeTag(Reference { name, target: t }),
            Kind::Func => Type::Func(Func {
                name,
                proto: t,
                linkage: FuncLinkage::from_raw(h.vlen),
            }),
            Kind::FuncProto => Type::FuncProto(FuncProto {
                name,
                return_type: t,
                params: Records::raw(btf, extra, vlen, false, false),
            }),
            Kind::Var => Type::Var(Var {
                name,
                type_id: t,
                linkage: VarLinkage::from_raw(btf.rd(extra)),
            }),
            Kind::Datasec => Type::Datasec(Datasec {
                name,
                size: t,
                vars: Records::raw(btf, extra, vlen, false, false),
            }),
            Kind::Float => Type::Float(Float { name, size: t }),
            Kind::DeclTag => Type::DeclTag(DeclTag {
                name,
                target: t,
                component_idx: btf.rd(extra) as i32,
            }),
        })
    }

    /// Every type of this blob (not the base's), in id order, decoded one by one.
    pub fn types(&self) -> impl Iterator<Item = Result<(TypeId, Type<'_>), BtfError>> + '_ {
        self.local_ids()
            .map(move |id| self.type_by_id(id).map(|t| (id, t)))
    }

    fn name_index(&self) -> &NameIndex {
        self.names.get_or_init(|| {
            NameIndex::build(self.offsets.len(), |idx| {
                let name_off = self.rd(self.offsets[idx] as usize);
                if name_off == 0 {
                    return None;
                }
                let (table, local) = self.string_table_for(name_off)?;
                names::hash_cstr(table, local)
            })
        })
    }

    /// Ids of all types named `name` (base types first), ascending. Builds the name index
    /// on first use.
    #[doc(alias = "btf__find_by_name")]
    pub fn ids_by_name(&self, name: &str) -> Vec<TypeId> {
        let mut out = match self.base {
            Some(base) => base.ids_by_name(name),
            None => Vec::new(),
        };
        self.name_index().lookup(
            name.as_bytes(),
            |idx| {
                let name_off = self.rd(self.offsets[idx] as usize);
                self.string_bytes_at(name_off).ok()
            },
            |idx| out.push(self.first_id + idx as TypeId),
        );
        out
    }

    /// The first type named `name` of kind `kind`, like libbpf's `btf__find_by_name_kind`.
    #[doc(alias = "btf__find_by_name_kind")]
    pub fn id_by_name_kind(&self, name: &str, kind: Kind) -> Option<TypeId> {
        self.ids_by_name(name)
            .into_iter()
            .find(|&id| self.kind(id).ok() == Some(kind))
    }

    /// Follow typedefs and modifiers (`const`, `volatile`, `restrict`, type tags) to the
    /// underlying type, like libbpf's `skip_mods_and_typedefs`.
    pub fn skip_mods_and_typedefs(&self, id: TypeId) -> Result<TypeId, BtfError> {
        let mut cur = id;
        for _ in 0..MAX_RESOLVE_DEPTH {
            let h = self.type_header(cur)?;
            match h.kind {
                Kind::Typedef | Kind::Volatile | Kind::Const | Kind::Restrict | Kind::TypeTag => {
                    cur = h.size_or_type
                }
                _ => return Ok(cur),
            }
        }
        Err(BtfError::ReferenceLoop {
            id,
            limit: MAX_RESOLVE_DEPTH,
        })
    }

    /// Size of a pointer in this BTF: the size of `long` (4 on 32-bit targets), else 8.
    /// The INT types are scanned in id order without building the name index: the first
    /// INT named `long int`, `long unsigned int`, `long` or `unsigned long` (in that
    /// preference) whose size is 4 or 8 decides. Looked up once, then cached.
    pub fn pointer_size(&self) -> u32 {
        const LONG_NAMES: [&[u8]; 4] =
            [b"long int", b"long unsigned int", b"long", b"unsigned long"];
        *self.pointer_size.get_or_init(|| {
            // Size of the first INT of each name (like `id_by_name_kind`), once seen.
            let mut first_size: [Option<u32>; 4] = [None; 4];
            for id in 1..self.type_count() {
                let Ok(h) = self.type_header(id) else { break };
                if h.kind != Kind::Int {
                    continue;
                }
                let Ok(name) = self.string_bytes_at(h.name_off) else {
                    continue;
                };
                let Some(rank) = LONG_NAMES.iter().position(|&n| n == name) else {
                    continue;
                };
                if first_size[rank].is_some() {
                    continue;
                }
                first_size[rank] = Some(h.size_or_type);
                // The most preferred name decides as soon as it is seen.
                if rank == 0 && matches!(h.size_or_type, 4 | 8) {
                    return h.size_or_type;
                }
            }
            first_size
                .into_iter()
                .flatten()
                .find(|&s| s == 4 || s == 8)
                .unwrap_or(8)
        })
    }

    /// Size in bytes of any sized type, following typedefs, modifiers, variables and arrays,
    /// like libbpf's `btf__resolve_size`.
    #[doc(alias = "btf__resolve_size")]
    pub fn resolve_size(&self, id: TypeId) -> Result<u64, BtfError> {
        let mut cur = id;
        let mut nelems: u64 = 1;
        for _ in 0..MAX_RESOLVE_DEPTH {
            // A base type's records (array element and count) live in the base's bytes.
            if let Some(base) = self.base.filter(|_| cur != 0 && cur < self.first_id) {
                return nelems
                    .checked_mul(base.resolve_size(cur)?)
                    .filter(|&s| s <= u64::from(u32::MAX))
                    .ok_or(BtfError::SizeOverflow { id });
            }
            let h = self.type_header(cur)?;
            let size = match h.kind {
                Kind::Int
                | Kind::Struct
                | Kind::Union
                | Kind::Enum
                | Kind::Enum64
                | Kind::Datasec
                | Kind::Float => u64::from(h.size_or_type),
                Kind::Ptr => u64::from(self.pointer_size()),
                Kind::Typedef
                | Kind::Volatile
                | Kind::Const
                | Kind::Restrict
                | Kind::Var
                | Kind::DeclTag
                | Kind::TypeTag => {
                    cur = h.size_or_type;
                    continue;
                }
                Kind::Array => {
                    let off = self.array_offset(cur);
                    let n = self.rd(off + BTF_TYPE_SIZE + 8);
                    nelems = nelems
                        .checked_mul(u64::from(n))
                        .ok_or(BtfError::SizeOverflow { id })?;
                    cur = self.rd(off + BTF_TYPE_SIZE);
                    continue;
                }
                kind => return Err(BtfError::Unsized { id: cur, kind }),
            };
            return nelems
                .checked_mul(size)
                .filter(|&s| s <= u64::from(u32::MAX))
                .ok_or(BtfError::SizeOverflow { id });
        }
        Err(BtfError::ReferenceLoop {
            id,
            limit: MAX_RESOLVE_DEPTH,
        })
    }

    /// Offset of an ARRAY record, looking into the base when needed.
    fn array_offset(&self, id: TypeId) -> usize {
        match self.type_offset(id) {
            Some(off) => off,
            None => self.base.and_then(|b| b.type_offset(id)).unwrap_or(0),
        }
    }
}

fn compute_offsets(
    data: &[u8],
    big_endian: bool,
    types: Range<usize>,
    first_id: TypeId,
) -> Result<Vec<u32>, BtfError> {
    // Smallest record is 12 bytes: a cheap upper bound on the count.
    let mut offsets = Vec::with_capacity(types.len() / 16);
    let mut off = types.start;
    let end = types.end;
    let mut id = first_id;
    while off < end {
        if end - off < BTF_TYPE_SIZE {
            return Err(BtfError::TruncatedType {
                id,
                offset: off,
                needed: BTF_TYPE_SIZE,
                end,
            });
        }
        let info = read_u32(data, off + 4, big_endian);
        let raw_kind = ((info >> 24) & 0x1f) as u8;
        let kind = match Kind::from_u8(raw_kind) {
            Some(k) if k != Kind::Void => k,
            _ => {
                return Err(BtfError::UnknownKind {
                    id,
                    offset: off,
                    kind: raw_kind,
                })
            }
        };
        let size = BTF_TYPE_SIZE + kind.extra_size(info as u16);
        if end - off < size {
            return Err(BtfError::TruncatedType {
                id,
                offset: off,
                needed: size,
                end,
            });
        }
        offsets.push(off as u32);
        off += size;
        // Build the error only when it happens: this loop runs once per type.
        let Some(next) = id.checked_add(1) else {
            return Err(BtfError::TooLarge {
                what: "type count",
                size: offsets.len(),
            });
        };
        id = next;
    }
    Ok(offsets)
}
