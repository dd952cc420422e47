//! Rewriting BTF for kernels that lack some kinds, the way libbpf does before loading.
//!
//! Every rewrite keeps type ids and record sizes, so `.BTF.ext` and instructions that
//! reference ids stay valid. The only addition is one `INT` appended when ENUM64 must go.

use super::owned::btf_info;
use super::{BtfError, BtfMut, Kind, RawData, RawEnumValue, RawMember, RawType, TypeId};

/// What the target kernel's BTF loader understands. `Default` is everything (a modern kernel).
///
/// The runtime fills this from feature probes; the sanitizer only reads it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct BtfFeatures {
    /// `FUNC` and `FUNC_PROTO` (5.0).
    pub has_func: bool,
    /// `FUNC` with global linkage (5.6).
    pub has_func_global: bool,
    /// `VAR` and `DATASEC` (5.2).
    pub has_datasec: bool,
    /// DATASEC names starting with `?` (libbpf's optional sections; 5.19+ accept them).
    pub has_qmark_datasec: bool,
    /// `FLOAT` (5.13).
    pub has_float: bool,
    /// `DECL_TAG` (5.16).
    pub has_decl_tag: bool,
    /// `TYPE_TAG` (5.17).
    pub has_type_tag: bool,
    /// `ENUM64` and signed enums via the kind flag (6.0).
    pub has_enum64: bool,
}

impl Default for BtfFeatures {
    fn default() -> Self {
        Self::ALL
    }
}

impl BtfFeatures {
    /// A kernel that understands every kind.
    pub const ALL: BtfFeatures = BtfFeatures {
        has_func: true,
        has_func_global: true,
        has_datasec: true,
        has_qmark_datasec: true,
        has_float: true,
        has_decl_tag: true,
        has_type_tag: true,
        has_enum64: true,
    };

    /// A kernel with only the original kinds (4.18).
    pub const NONE: BtfFeatures = BtfFeatures {
        has_func: false,
        has_func_global: false,
        has_datasec: false,
        has_qmark_datasec: false,
        has_float: false,
        has_decl_tag: false,
        has_type_tag: false,
        has_enum64: false,
    };

    /// Whether [`sanitize`] would change anything for some BTF.
    pub fn needs_sanitization(&self) -> bool {
        *self != Self::ALL
    }
}

/// Name of the `INT` that replaced ENUM64 values point at (libbpf's name).
pub const ENUM64_PLACEHOLDER: &str = "enum64_placeholder";

/// Rewrite what `features` lacks, in place, the way libbpf's `bpf_object__sanitize_btf` does:
///
/// | missing | rewrite |
/// |---|---|
/// | datasec | `VAR` → `INT` (1 byte, 8 bits); `DATASEC` → `STRUCT` of the same size whose members are the variables (name, type, offset × 8); `.` and `?` in its name → `_` |
/// | qmark_datasec | leading `?` of a DATASEC name → `_` |
/// | decl_tag | `DECL_TAG` → `INT` (1 byte, 8 bits) |
/// | func | `FUNC_PROTO` → `ENUM` (size 4, one value per parameter); `FUNC` → `TYPEDEF` |
/// | func_global | `FUNC` linkage → static |
/// | float | `FLOAT` → anonymous empty `STRUCT` of the same size |
/// | type_tag | `TYPE_TAG` → anonymous `CONST` |
/// | enum64 | `ENUM` kind flag (signedness) cleared; `ENUM64` → `UNION` of the same size whose members (named after the values) are an added `INT enum64_placeholder` |
///
/// Returns the number of types rewritten.
///
/// ```
/// use bpfkit_obj::btf::{sanitize, Btf, BtfFeatures, BtfMut, Kind};
/// let mut b = BtfMut::new();
/// let id = b.add_float("double", 8);
/// let features = BtfFeatures { has_float: false, ..BtfFeatures::ALL };
/// assert_eq!(sanitize(&mut b, &features).unwrap(), 1);
/// let bytes = b.to_bytes().unwrap();
/// let btf = Btf::parse(&bytes).unwrap();
/// assert_eq!(btf.kind(id).unwrap(), Kind::Struct);
/// assert_eq!(btf.resolve_size(id).unwrap(), 8);
/// ```
pub fn sanitize(btf: &mut BtfMut, features: &BtfFeatures) -> Result<usize, BtfError> {
    if !features.needs_sanitization() {
        return Ok(0);
    }
    let mut enum64_placeholder: Option<TypeId> = None;
    let mut rewritten = 0;
    for id in btf.first_id()..btf.type_count() {
        let Some(t) = btf.raw(id) else {
            continue;
        };
        let kind = t.kind();
        let changed = match kind {
            Kind::Var if !features.has_datasec => {
                to_byte_int(btf, id);
                true
            }
            Kind::DeclTag if !features.has_decl_tag => {
                to_byte_int(btf, id);
                true
            }
            Kind::Datasec if !features.has_datasec => {
                datasec_to_struct(btf, id)?;
                true
            }
            Kind::Datasec if !features.has_qmark_datasec => {
                let name_off = t.name_off;
                match btf.string_bytes_mut(name_off) {
                    Some(name) if name.first() == Some(&b'?') => {
                        name[0] = b'_';
                        true
                    }
                    _ => false,
                }
            }
            Kind::FuncProto if !features.has_func => {
                let t = edit(btf, id);
                let params = match std::mem::replace(&mut t.data, RawData::None) {
                    RawData::Params(p) => p,
                    _ => Vec::new(),
                };
                let values: Vec<RawEnumValue> = params
                    .iter()
                    .map(|p| RawEnumValue {
                        name_off: p.name_off,
                        val: p.type_id,
                    })
                    .collect();
                t.set_info(Kind::Enum, false, values.len() as u16);
                t.size_or_type = 4;
                t.data = RawData::Enum(values);
                true
            }
            Kind::Func if !features.has_func => {
                edit(btf, id).set_info(Kind::Typedef, false, 0);
                true
            }
            Kind::Func if !features.has_func_global => {
                edit(btf, id).set_info(Kind::Func, false, 0);
                true
            }
            Kind::Float if !features.has_float => {
                let t = edit(btf, id);
                t.name_off = 0;
                t.set_info(Kind::Struct, false, 0);
                t.data = RawData::Members(Vec::new());
                true
            }
            Kind::TypeTag if !features.has_type_tag => {
                let t = edit(btf, id);
                t.name_off = 0;
                t.set_info(Kind::Const, false, 0);
                true
            }
            Kind::Enum if !features.has_enum64 => {
                let t = edit(btf, id);
                let vlen = t.vlen();
                t.set_info(Kind::Enum, false, vlen);
                true
            }
            Kind::Enum64 if !features.has_enum64 => {
                let placeholder = match enum64_placeholder {
                    Some(p) => p,
                    None => {
                        let name = btf.add_string(ENUM64_PLACEHOLDER);
                        let p = btf.add_type(RawType::new(Kind::Int, name, 1, RawData::Int(8)));
                        enum64_placeholder = Some(p);
                        p
                    }
                };
                let t = edit(btf, id);
                let members: Vec<RawMember> = match &t.data {
                    RawData::Enum64(values) => values
                        .iter()
                        .map(|v| RawMember {
                            name_off: v.name_off,
                            type_id: placeholder,
                            offset: 0,
                        })
                        .collect(),
                    _ => Vec::new(),
                };
                t.set_info(Kind::Union, false, members.len() as u16);
                t.data = RawData::Members(members);
                true
            }
            _ => false,
        };
        if changed {
            rewritten += 1;
        }
    }
    Ok(rewritten)
}

fn edit(btf: &mut BtfMut, id: TypeId) -> &mut RawType {
    // `id` comes from iterating the local ids of `btf` itself.
    btf.raw_mut(id)
        .expect("sanitize iterates only ids of existing local types")
}

/// `INT` of one byte with 8 bits, keeping the name: what libbpf turns VAR and DECL_TAG into.
fn to_byte_int(btf: &mut BtfMut, id: TypeId) {
    let t = edit(btf, id);
    t.info = btf_info(Kind::Int, false, 0);
    t.size_or_type = 1;
    t.data = RawData::Int(8);
}

fn datasec_to_struct(btf: &mut BtfMut, id: TypeId) -> Result<(), BtfError> {
    let (name_off, vars) = match btf.raw(id) {
        Some(RawType {
            name_off,
            data: RawData::Datasec(vars),
            ..
        }) => (*name_off, vars.clone()),
        _ => return Ok(()),
    };
    if let Some(name) = btf.string_bytes_mut(name_off) {
        for b in name.iter_mut() {
            if *b == b'.' || *b == b'?' {
                *b = b'_';
            }
        }
    }
    let mut members = Vec::with_capacity(vars.len());
    for v in &vars {
        // The variable keeps its name as the member's name. Variables of split BTF may
        // live in the base; then the member stays anonymous.
        let var_name = btf.raw(v.type_id).map_or(0, |t| t.name_off);
        members.push(RawMember {
            name_off: var_name,
            type_id: v.type_id,
            offset: v
                .offset
                .checked_mul(8)
                .ok_or(BtfError::SizeOverflow { id })?,
        });
    }
    let t = edit(btf, id);
    t.set_info(Kind::Struct, false, members.len() as u16);
    t.data = RawData::Members(members);
    Ok(())
}
