//! Struct and union layout: where each member goes, explicit padding, bitfield storage,
//! and whether the type must be `packed` to have the BTF's offsets.

use bpfkit_obj::btf::{Composite, Member, Type, TypeId};

use crate::emit::Ctx;
use crate::names::{bare, ident};
use crate::GenError;

/// One Rust field.
#[derive(Debug)]
pub(crate) struct Field {
    /// Rust identifier.
    pub name: String,
    /// Rust type.
    pub ty: String,
    /// Byte offset.
    pub offset: u32,
    /// Whether the offset is asserted (members and bitfield storage, not padding).
    pub checked: bool,
}

/// How a bitfield's value is typed.
#[derive(Debug)]
pub(crate) enum BitValue {
    /// An integer primitive, signed or not.
    Int { prim: &'static str, signed: bool },
    /// An enum newtype over `repr`.
    Enum {
        name: String,
        repr: &'static str,
        signed: bool,
    },
}

/// Getter and setter of one bitfield.
#[derive(Debug)]
pub(crate) struct Accessor {
    /// Getter name (the member's identifier).
    pub getter: String,
    /// Setter name.
    pub setter: String,
    /// The storage field.
    pub storage: String,
    /// First bit inside the storage (little-endian bit numbering).
    pub bit: u32,
    /// Width in bits (1..=64).
    pub width: u32,
    /// The value type.
    pub value: BitValue,
}

/// The Rust shape of one struct or union.
#[derive(Debug)]
pub(crate) struct Plan {
    /// `#[repr(C, packed)]`.
    pub packed: bool,
    /// C alignment as seen from a parent (1 when packed or opaque).
    pub align: u32,
    /// Fields in order.
    pub fields: Vec<Field>,
    /// Bitfield accessors.
    pub accessors: Vec<Accessor>,
    /// Why the type is emitted as bytes only, when it cannot be laid out member by member.
    pub opaque: Option<String>,
    /// Bitfields without accessors (wider than 64 bits, of a non-integer type, or in
    /// big-endian BTF).
    pub skipped_bitfields: Vec<String>,
    /// Element accessors of flexible (zero-length) array members.
    pub flexible: Vec<Flexible>,
}

/// `<name>_at(index)` for a flexible array member `name: [T; 0]`.
#[derive(Debug)]
pub(crate) struct Flexible {
    /// The field.
    pub field: String,
    /// The method.
    pub method: String,
    /// The element type.
    pub elem: String,
}

impl Plan {
    fn opaque(size: u32, reason: String) -> Self {
        Plan {
            packed: false,
            align: 1,
            fields: vec![Field {
                name: "_opaque".into(),
                ty: format!("[u8; {size}]"),
                offset: 0,
                checked: false,
            }],
            accessors: Vec::new(),
            opaque: Some(reason),
            skipped_bitfields: Vec::new(),
            flexible: Vec::new(),
        }
    }
}

/// A member after bitfield decoding.
struct Info {
    /// Rust identifier, `None` for an unnamed bitfield (padding).
    name: Option<String>,
    type_id: TypeId,
    bit_offset: u32,
    /// Bitfield width, `None` for a regular member.
    bits: Option<u32>,
}

fn member_infos(ctx: &Ctx<'_>, c: &Composite<'_>) -> Result<Vec<Info>, GenError> {
    let mut infos = Vec::with_capacity(c.members.len());
    let mut anon = 0;
    for m in &c.members {
        let bits = bitfield_bits(ctx, c.kind_flag, &m)?;
        let name = if !m.name.is_empty() {
            Some(ident(m.name))
        } else if bits.is_some() {
            None
        } else {
            anon += 1;
            Some(format!("__anon_{anon}"))
        };
        let extra = match (c.kind_flag, bits) {
            (false, Some(_)) => match ctx
                .btf
                .type_by_id(ctx.btf.skip_mods_and_typedefs(m.type_id)?)?
            {
                Type::Int(i) => u32::from(i.offset),
                _ => 0,
            },
            _ => 0,
        };
        infos.push(Info {
            name,
            type_id: m.type_id,
            bit_offset: m.bit_offset + extra,
            bits,
        });
    }
    Ok(infos)
}

/// The bitfield width of a member, `None` for a regular member.
fn bitfield_bits(ctx: &Ctx<'_>, kind_flag: bool, m: &Member<'_>) -> Result<Option<u32>, GenError> {
    if kind_flag {
        return Ok((m.bitfield_size != 0).then_some(u32::from(m.bitfield_size)));
    }
    if let Type::Int(i) = ctx
        .btf
        .type_by_id(ctx.btf.skip_mods_and_typedefs(m.type_id)?)?
    {
        if u32::from(i.bits) != i.size * 8 || i.offset != 0 || m.bit_offset % 8 != 0 {
            return Ok(Some(u32::from(i.bits)));
        }
    }
    Ok(None)
}

/// Names of fields and methods already taken in one type.
struct Taken(std::collections::HashSet<String>);

impl Taken {
    fn new(infos: &[Info]) -> Self {
        Taken(
            infos
                .iter()
                .filter_map(|i| i.name.as_deref().map(|n| bare(n).to_string()))
                .collect(),
        )
    }

    fn fresh(&mut self, wanted: String) -> String {
        let mut name = wanted;
        while !self.0.insert(name.clone()) {
            name.push('_');
        }
        name
    }
}

fn bit_value(ctx: &Ctx<'_>, type_id: TypeId, width: u32) -> Result<Option<BitValue>, GenError> {
    // The accessors number bits little-endian; big-endian BTF numbers them from the top.
    if width == 0 || width > 64 || ctx.btf.is_big_endian() {
        return Ok(None);
    }
    let resolved = ctx.btf.skip_mods_and_typedefs(type_id)?;
    Ok(match ctx.btf.type_by_id(resolved)? {
        Type::Int(i) => {
            let signed = i.encoding.is_signed() && !i.encoding.is_bool();
            int_prim(i.size, signed).map(|prim| BitValue::Int { prim, signed })
        }
        Type::Enum(e) | Type::Enum64(e) => {
            match (int_prim(e.size, e.signed), ctx.naming.names.get(&resolved)) {
                (Some(repr), Some(name)) => Some(BitValue::Enum {
                    name: name.clone(),
                    repr,
                    signed: e.signed,
                }),
                _ => None,
            }
        }
        _ => None,
    })
}

/// The Rust integer of a C integer of `size` bytes, if there is one.
pub(crate) fn int_prim(size: u32, signed: bool) -> Option<&'static str> {
    Some(match (size, signed) {
        (1, false) => "u8",
        (1, true) => "i8",
        (2, false) => "u16",
        (2, true) => "i16",
        (4, false) => "u32",
        (4, true) => "i32",
        (8, false) => "u64",
        (8, true) => "i64",
        (16, false) => "u128",
        (16, true) => "i128",
        _ => return None,
    })
}

struct Group {
    start: u32,
    end: u32,
    /// (getter ident, absolute bit offset, width, value type)
    members: Vec<(String, u32, u32, BitValue)>,
}

fn flush(
    group: Option<Group>,
    fields: &mut Vec<Field>,
    accessors: &mut Vec<Accessor>,
    taken: &mut Taken,
    cursor: &mut u32,
) {
    let Some(g) = group else { return };
    if g.start > *cursor {
        let name = taken.fresh(format!("_pad_{}", *cursor));
        fields.push(Field {
            name,
            ty: format!("[u8; {}]", g.start - *cursor),
            offset: *cursor,
            checked: false,
        });
    }
    let storage = taken.fresh(format!("_bitfield_{}", g.start));
    fields.push(Field {
        name: storage.clone(),
        ty: format!("[u8; {}]", g.end - g.start),
        offset: g.start,
        checked: true,
    });
    for (getter, bit, width, value) in g.members {
        let setter = taken.fresh(format!("set_{}", bare(&getter)));
        accessors.push(Accessor {
            getter,
            setter,
            storage: storage.clone(),
            bit: bit - g.start * 8,
            width,
            value,
        });
    }
    *cursor = g.end;
}

/// Lays out a struct at the BTF's offsets.
pub(crate) fn plan_struct(ctx: &mut Ctx<'_>, c: &Composite<'_>) -> Result<Plan, GenError> {
    let mut infos = member_infos(ctx, c)?;
    infos.sort_by_key(|i| i.bit_offset);
    let mut taken = Taken::new(&infos);
    let mut fields = Vec::new();
    let mut accessors = Vec::new();
    let mut skipped_bitfields = Vec::new();
    let mut flexible = Vec::new();
    let mut group: Option<Group> = None;
    let mut cursor = 0u32;
    let mut align = 1u32;
    let mut packed = false;
    for info in infos {
        if let Some(width) = info.bits {
            // Unnamed bitfields do not align the struct (SysV ABI); named ones do.
            let Some(name) = info.name else { continue };
            align = align.max(ctx.align_of(info.type_id)?);
            if width == 0 {
                continue;
            }
            let start = info.bit_offset / 8;
            let end = (info.bit_offset + width).div_ceil(8);
            match group.as_mut() {
                Some(g) if start <= g.end => g.end = g.end.max(end),
                _ => {
                    flush(
                        group.take(),
                        &mut fields,
                        &mut accessors,
                        &mut taken,
                        &mut cursor,
                    );
                    if start < cursor {
                        return Ok(Plan::opaque(
                            c.size,
                            format!("bitfield `{}` overlaps the member before it", bare(&name)),
                        ));
                    }
                    group = Some(Group {
                        start,
                        end,
                        members: Vec::new(),
                    });
                }
            }
            match bit_value(ctx, info.type_id, width)? {
                Some(value) => {
                    if let Some(g) = group.as_mut() {
                        g.members.push((name, info.bit_offset, width, value));
                    }
                }
                None => skipped_bitfields.push(bare(&name).to_string()),
            }
            continue;
        }
        flush(
            group.take(),
            &mut fields,
            &mut accessors,
            &mut taken,
            &mut cursor,
        );
        let name = info.name.unwrap_or_default();
        let offset = info.bit_offset / 8;
        let size = ctx.size_of(info.type_id)?;
        let member_align = ctx.align_of(info.type_id)?;
        if offset < cursor {
            return Ok(Plan::opaque(
                c.size,
                format!("member `{}` overlaps the member before it", bare(&name)),
            ));
        }
        if offset > cursor {
            let pad = taken.fresh(format!("_pad_{cursor}"));
            fields.push(Field {
                name: pad,
                ty: format!("[u8; {}]", offset - cursor),
                offset: cursor,
                checked: false,
            });
        }
        if offset % member_align != 0 {
            packed = true;
        }
        align = align.max(member_align);
        if let Some(elem) = flexible_elem(ctx, info.type_id)? {
            let method = taken.fresh(format!("{}_at", bare(&name)));
            flexible.push(Flexible {
                field: name.clone(),
                method,
                elem,
            });
        }
        fields.push(Field {
            name,
            ty: ctx.ty(info.type_id)?,
            offset,
            checked: true,
        });
        cursor = offset + size;
    }
    flush(
        group.take(),
        &mut fields,
        &mut accessors,
        &mut taken,
        &mut cursor,
    );
    if cursor > c.size {
        return Ok(Plan::opaque(
            c.size,
            format!("members end at byte {cursor}, past the size {}", c.size),
        ));
    }
    if cursor < c.size {
        let pad = taken.fresh(format!("_pad_{cursor}"));
        fields.push(Field {
            name: pad,
            ty: format!("[u8; {}]", c.size - cursor),
            offset: cursor,
            checked: false,
        });
    }
    if c.size % align != 0 {
        packed = true;
    }
    Ok(Plan {
        packed,
        align: if packed { 1 } else { align },
        fields,
        accessors,
        opaque: None,
        skipped_bitfields,
        flexible,
    })
}

/// The element type of a zero-length array type (after typedefs and modifiers).
fn flexible_elem(ctx: &Ctx<'_>, type_id: TypeId) -> Result<Option<String>, GenError> {
    let resolved = ctx.btf.skip_mods_and_typedefs(type_id)?;
    match ctx.btf.type_by_id(resolved)? {
        Type::Array(a) if a.nelems == 0 => Ok(Some(ctx.ty(a.elem_type)?)),
        _ => Ok(None),
    }
}

/// Lays out a union: every member at offset 0, bitfields sharing one storage array.
pub(crate) fn plan_union(ctx: &mut Ctx<'_>, c: &Composite<'_>) -> Result<Plan, GenError> {
    let infos = member_infos(ctx, c)?;
    let mut taken = Taken::new(&infos);
    let mut fields = Vec::new();
    let mut bit_members = Vec::new();
    let mut skipped_bitfields = Vec::new();
    let mut bit_end = 0u32;
    let mut largest = 0u32;
    let mut align = 1u32;
    for info in infos {
        if let Some(width) = info.bits {
            let Some(name) = info.name else { continue };
            align = align.max(ctx.align_of(info.type_id)?);
            if width == 0 {
                continue;
            }
            bit_end = bit_end.max((info.bit_offset + width).div_ceil(8));
            match bit_value(ctx, info.type_id, width)? {
                Some(value) => bit_members.push((name, info.bit_offset, width, value)),
                None => skipped_bitfields.push(bare(&name).to_string()),
            }
            continue;
        }
        align = align.max(ctx.align_of(info.type_id)?);
        let name = info.name.unwrap_or_default();
        if info.bit_offset != 0 {
            return Ok(Plan::opaque(
                c.size,
                format!("union member `{}` is not at offset 0", bare(&name)),
            ));
        }
        largest = largest.max(ctx.size_of(info.type_id)?);
        fields.push(Field {
            name,
            ty: ctx.ty(info.type_id)?,
            offset: 0,
            checked: true,
        });
    }
    let mut accessors = Vec::new();
    if bit_end > 0 {
        let storage = taken.fresh("_bitfield_0".into());
        fields.push(Field {
            name: storage.clone(),
            ty: format!("[u8; {bit_end}]"),
            offset: 0,
            checked: true,
        });
        largest = largest.max(bit_end);
        for (getter, bit, width, value) in bit_members {
            let setter = taken.fresh(format!("set_{}", bare(&getter)));
            accessors.push(Accessor {
                getter,
                setter,
                storage: storage.clone(),
                bit,
                width,
                value,
            });
        }
    }
    if largest > c.size {
        return Ok(Plan::opaque(
            c.size,
            format!("a member of {largest} bytes exceeds the size {}", c.size),
        ));
    }
    if fields.is_empty() || largest < c.size {
        let pad = taken.fresh("_pad".into());
        fields.push(Field {
            name: pad,
            ty: format!("[u8; {}]", c.size),
            offset: 0,
            checked: false,
        });
    }
    let packed = c.size % align != 0;
    Ok(Plan {
        packed,
        align: if packed { 1 } else { align },
        fields,
        accessors,
        opaque: None,
        skipped_bitfields,
        flexible: Vec::new(),
    })
}
