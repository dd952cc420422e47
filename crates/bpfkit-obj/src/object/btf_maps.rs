//! BTF-defined maps: the `.maps` section described by its `DATASEC`, one `VAR` per map whose
//! struct type carries the attributes (`__uint`, `__type`, `__array` of `bpf_helpers.h`).

use object::elf;

use crate::btf::{Btf, BtfError, Kind, Type, TypeId, VarLinkage};

use super::elf::{Elf, Section};
use super::error::ObjectError;
use super::kinds::MapType;
use super::maps::{InitialSlot, MapDefinition, MapSpec, Pinning, SlotValue};
use super::program::ProgramSpec;

/// libbpf's `LIBBPF_PIN_BY_NAME`.
const PIN_BY_NAME: u32 = 1;

/// Attributes read from one map definition struct.
#[derive(Default)]
struct MapDef {
    map_type: Option<u32>,
    key_size: Option<u32>,
    value_size: Option<u32>,
    max_entries: u32,
    map_flags: u32,
    numa_node: u32,
    pinning: u32,
    map_extra: u64,
    key_type_id: Option<TypeId>,
    value_type_id: Option<TypeId>,
    inner: Option<Box<MapDef>>,
    /// Byte offset of the `values` member inside the definition.
    values_offset: Option<u32>,
}

struct Ctx<'b, 'a> {
    btf: &'b Btf<'a>,
    section: &'b Section<'b>,
}

impl Ctx<'_, '_> {
    fn fail(&self, map: &str, offset: u64, reason: impl Into<String>) -> ObjectError {
        ObjectError::Map {
            map: map.to_string(),
            section: self.section.name.clone(),
            offset,
            reason: reason.into(),
        }
    }

    fn btf_fail(&self, map: &str, offset: u64, e: BtfError) -> ObjectError {
        self.fail(map, offset, format!("BTF: {e}"))
    }

    fn ty(&self, map: &str, offset: u64, id: TypeId) -> Result<Type<'_>, ObjectError> {
        self.btf
            .type_by_id(id)
            .map_err(|e| self.btf_fail(map, offset, e))
    }

    /// `__uint(name, N)` is `int (*name)[N]`: N is the array's element count.
    fn field_int(&self, map: &str, off: u64, attr: &str, id: TypeId) -> Result<u32, ObjectError> {
        let id = self
            .btf
            .skip_mods_and_typedefs(id)
            .map_err(|e| self.btf_fail(map, off, e))?;
        let Type::Ptr(ptr) = self.ty(map, off, id)? else {
            return Err(self.fail(map, off, format!("attribute '{attr}': expected PTR")));
        };
        match self.ty(map, off, ptr.target)? {
            Type::Array(a) => Ok(a.nelems),
            other => Err(self.fail(
                map,
                off,
                format!("attribute '{attr}': expected ARRAY, got {}", other.kind()),
            )),
        }
    }

    /// `__ulong(name, N)`: a PTR like `__uint`, or an ENUM/ENUM64 with a single value.
    fn field_long(&self, map: &str, off: u64, attr: &str, id: TypeId) -> Result<u64, ObjectError> {
        let sid = self
            .btf
            .skip_mods_and_typedefs(id)
            .map_err(|e| self.btf_fail(map, off, e))?;
        match self.ty(map, off, sid)? {
            Type::Ptr(_) => self.field_int(map, off, attr, id).map(u64::from),
            Type::Enum(e) | Type::Enum64(e) if e.values.len() == 1 => {
                Ok(e.values.first().map_or(0, |v| v.raw))
            }
            other => Err(self.fail(
                map,
                off,
                format!(
                    "attribute '{attr}': expected PTR, ENUM or ENUM64 with one value, got {}",
                    other.kind()
                ),
            )),
        }
    }

    /// `__type(key, T)` is `T *key`: returns (size of T, id of T).
    fn field_type(
        &self,
        map: &str,
        off: u64,
        attr: &str,
        id: TypeId,
    ) -> Result<(u32, TypeId), ObjectError> {
        let Type::Ptr(ptr) = self.ty(map, off, id)? else {
            return Err(self.fail(map, off, format!("attribute '{attr}': expected PTR")));
        };
        let size = self
            .btf
            .resolve_size(ptr.target)
            .map_err(|e| self.btf_fail(map, off, e))?;
        let size = u32::try_from(size)
            .map_err(|_| self.fail(map, off, format!("{attr} size {size} exceeds u32")))?;
        Ok((size, ptr.target))
    }

    fn set_size(
        &self,
        map: &str,
        off: u64,
        slot: &mut Option<u32>,
        what: &str,
        size: u32,
    ) -> Result<(), ObjectError> {
        match *slot {
            Some(old) if old != 0 && old != size => {
                Err(self.fail(map, off, format!("conflicting {what} size {old} != {size}")))
            }
            _ => {
                *slot = Some(size);
                Ok(())
            }
        }
    }

    /// Reads the members of a map definition struct (libbpf's `parse_btf_map_def`).
    fn parse_def(
        &self,
        map: &str,
        off: u64,
        def_id: TypeId,
        is_inner: bool,
    ) -> Result<MapDef, ObjectError> {
        let Type::Struct(def) = self.ty(map, off, def_id)? else {
            return Err(self.fail(map, off, "definition is not a STRUCT"));
        };
        let mut out = MapDef::default();
        let count = def.members.len();
        for (i, m) in def.members.iter().enumerate() {
            match m.name {
                "type" => out.map_type = Some(self.field_int(map, off, m.name, m.type_id)?),
                "max_entries" => out.max_entries = self.field_int(map, off, m.name, m.type_id)?,
                "map_flags" => out.map_flags = self.field_int(map, off, m.name, m.type_id)?,
                "numa_node" => out.numa_node = self.field_int(map, off, m.name, m.type_id)?,
                "key_size" => {
                    let sz = self.field_int(map, off, m.name, m.type_id)?;
                    self.set_size(map, off, &mut out.key_size, "key", sz)?;
                }
                "key" => {
                    let (sz, id) = self.field_type(map, off, m.name, m.type_id)?;
                    self.set_size(map, off, &mut out.key_size, "key", sz)?;
                    out.key_type_id = Some(id);
                }
                "value_size" => {
                    let sz = self.field_int(map, off, m.name, m.type_id)?;
                    self.set_size(map, off, &mut out.value_size, "value", sz)?;
                }
                "value" => {
                    let (sz, id) = self.field_type(map, off, m.name, m.type_id)?;
                    self.set_size(map, off, &mut out.value_size, "value", sz)?;
                    out.value_type_id = Some(id);
                }
                "values" => {
                    if is_inner {
                        return Err(self.fail(
                            map,
                            off,
                            "multi-level inner maps are not supported",
                        ));
                    }
                    if i != count - 1 {
                        return Err(self.fail(map, off, "'values' must be the last member"));
                    }
                    let ty = out.map_type.and_then(MapType::from_u32);
                    let is_prog_array = ty == Some(MapType::ProgArray);
                    let is_map_in_map = ty.is_some_and(MapType::is_map_in_map);
                    if !is_prog_array && !is_map_in_map {
                        return Err(self.fail(
                            map,
                            off,
                            "'values' needs a prog array or map-in-map type declared before it",
                        ));
                    }
                    self.set_size(map, off, &mut out.value_size, "value", 4)?;
                    let Type::Array(arr) = self.ty(map, off, m.type_id)? else {
                        return Err(self.fail(map, off, "'values' is not a zero-sized array"));
                    };
                    if arr.nelems != 0 {
                        return Err(self.fail(map, off, "'values' is not a zero-sized array"));
                    }
                    let elem = self
                        .btf
                        .skip_mods_and_typedefs(arr.elem_type)
                        .map_err(|e| self.btf_fail(map, off, e))?;
                    let Type::Ptr(ptr) = self.ty(map, off, elem)? else {
                        return Err(self.fail(map, off, "'values' elements are not pointers"));
                    };
                    let target = self
                        .btf
                        .skip_mods_and_typedefs(ptr.target)
                        .map_err(|e| self.btf_fail(map, off, e))?;
                    let kind = self
                        .btf
                        .kind(target)
                        .map_err(|e| self.btf_fail(map, off, e))?;
                    if is_prog_array {
                        if kind != Kind::FuncProto {
                            return Err(self.fail(
                                map,
                                off,
                                format!("prog array 'values' point to {kind}, expected FUNC_PROTO"),
                            ));
                        }
                    } else {
                        if kind != Kind::Struct {
                            return Err(self.fail(
                                map,
                                off,
                                format!("inner map definition is {kind}, expected STRUCT"),
                            ));
                        }
                        let inner_name = format!("{map}.inner");
                        out.inner =
                            Some(Box::new(self.parse_def(&inner_name, off, target, true)?));
                    }
                    out.values_offset = Some(m.bit_offset / 8);
                }
                "pinning" => {
                    if is_inner {
                        return Err(self.fail(
                            map,
                            off,
                            "an inner map definition cannot be pinned",
                        ));
                    }
                    let v = self.field_int(map, off, m.name, m.type_id)?;
                    if v > PIN_BY_NAME {
                        return Err(self.fail(map, off, format!("invalid pinning value {v}")));
                    }
                    out.pinning = v;
                }
                "map_extra" => out.map_extra = self.field_long(map, off, m.name, m.type_id)?,
                _ => {} // libbpf ignores unknown attributes unless asked to be strict
            }
        }
        if out.map_type.unwrap_or(0) == 0 {
            return Err(self.fail(map, off, "map type is not specified"));
        }
        Ok(out)
    }
}

fn to_spec(
    def: MapDef,
    name: String,
    section_index: usize,
    offset: u64,
    fail: &dyn Fn(String) -> ObjectError,
) -> Result<MapSpec, ObjectError> {
    let raw = def.map_type.unwrap_or(0);
    let map_type = MapType::from_u32(raw).ok_or_else(|| fail(format!("unknown map type {raw}")))?;
    let inner_map = match def.inner {
        Some(inner) => Some(Box::new(to_spec(
            *inner,
            format!("{name}.inner"),
            section_index,
            offset,
            fail,
        )?)),
        None => None,
    };
    Ok(MapSpec {
        name,
        map_type,
        key_size: def.key_size.unwrap_or(0),
        value_size: def.value_size.unwrap_or(0),
        max_entries: def.max_entries,
        map_flags: def.map_flags,
        numa_node: def.numa_node,
        pinning: if def.pinning == PIN_BY_NAME {
            Pinning::ByName
        } else {
            Pinning::None
        },
        map_extra: def.map_extra,
        inner_map,
        btf_key_type_id: def.key_type_id,
        btf_value_type_id: def.value_type_id,
        definition: MapDefinition::Btf,
        section_index,
        section_offset: offset,
        initial_slots: Vec::new(),
        data: None,
        iproute2: None,
        replacement: None,
    })
}

/// A parsed `.maps` map and where its `values` slots start.
pub(crate) struct BtfMap {
    pub spec: MapSpec,
    size: u64,
    values_offset: Option<u32>,
}

/// Reads every map of the `.maps` section, in the order of its `DATASEC`.
pub(crate) fn btf_maps(
    elf: &Elf<'_>,
    section: &Section<'_>,
    btf: &Btf<'_>,
) -> Result<Vec<BtfMap>, ObjectError> {
    let ctx = Ctx { btf, section };
    let Some(datasec_id) = btf.id_by_name_kind(&section.name, Kind::Datasec) else {
        return Err(ObjectError::Btf {
            section: ".BTF",
            reason: format!(
                "no DATASEC '{}' describes the BTF-defined maps",
                section.name
            ),
        });
    };
    let Type::Datasec(datasec) = btf.type_by_id(datasec_id).map_err(|e| ObjectError::Btf {
        section: ".BTF",
        reason: e.to_string(),
    })?
    else {
        return Err(ObjectError::Btf {
            section: ".BTF",
            reason: format!("type {datasec_id} is not a DATASEC"),
        });
    };
    let mut maps = Vec::with_capacity(datasec.vars.len());
    for (i, vsi) in datasec.vars.iter().enumerate() {
        let Type::Var(var) = ctx.ty(&format!("#{i}"), 0, vsi.type_id)? else {
            return Err(ctx.fail(&format!("#{i}"), 0, "DATASEC entry is not a VAR"));
        };
        let name = var.name.to_string();
        if name.is_empty() {
            return Err(ctx.fail(&format!("#{i}"), 0, "empty map name"));
        }
        // DATASEC offsets are only final after libbpf's fix-up; the ELF symbol is the truth.
        let sym = elf.symbols.iter().find(|s| {
            s.section() == Some(section.index) && s.name == name && s.kind != elf::STT_SECTION
        });
        let offset = sym.map_or(u64::from(vsi.offset), |s| s.value);
        let size = sym.map_or(u64::from(vsi.size), |s| s.size);
        if offset
            .checked_add(size)
            .is_none_or(|end| end > section.data.len() as u64)
        {
            return Err(ctx.fail(&name, offset, "definition lies outside the section"));
        }
        if var.linkage != VarLinkage::GlobalAllocated {
            return Err(ctx.fail(
                &name,
                offset,
                format!("unsupported map linkage {:?}", var.linkage),
            ));
        }
        let def_id = btf
            .skip_mods_and_typedefs(var.type_id)
            .map_err(|e| ctx.btf_fail(&name, offset, e))?;
        let def = ctx.parse_def(&name, offset, def_id, false)?;
        let values_offset = def.values_offset;
        let fail = |reason: String| ctx.fail(&name, offset, reason);
        let spec = to_spec(def, name.clone(), section.index, offset, &fail)?;
        maps.push(BtfMap {
            spec,
            size,
            values_offset,
        });
    }
    Ok(maps)
}

/// Fills `initial_slots` of prog arrays and maps-in-maps from the relocations of `.maps`
/// (`.values = { [0] = &prog, [3] = &inner_map }`).
pub(crate) fn collect_initial_slots(
    elf: &Elf<'_>,
    section: &Section<'_>,
    maps: &mut [BtfMap],
    programs: &[ProgramSpec],
) -> Result<(), ObjectError> {
    let Some(rel_sec) = elf
        .sections
        .iter()
        .find(|s| s.sh_type == elf::SHT_REL && s.info as usize == section.index)
    else {
        return Ok(());
    };
    for rel in elf.rels(rel_sec)? {
        let sym = elf.symbols.get(rel.symbol);
        let sym_name = sym.map_or_else(|| format!("#{}", rel.symbol), |s| s.name.clone());
        let fail = |reason: String| ObjectError::Relocation {
            section: section.name.clone(),
            offset: rel.offset,
            symbol: sym_name.clone(),
            reason,
        };
        let sym = sym.ok_or_else(|| fail("symbol index out of range".into()))?;
        let map = maps
            .iter_mut()
            .find(|m| {
                m.spec.section_offset <= rel.offset
                    && rel.offset.saturating_add(8) <= m.spec.section_offset + m.size.max(8)
            })
            .ok_or_else(|| fail("no map definition contains this offset".into()))?;
        let values = map
            .values_offset
            .ok_or_else(|| fail(format!("map '{}' has no 'values' member", map.spec.name)))?;
        let within = rel.offset - map.spec.section_offset;
        let slot_off = within
            .checked_sub(u64::from(values))
            .filter(|o| o % 8 == 0)
            .ok_or_else(|| {
                fail(format!(
                    "offset is not a slot of '{}'.values",
                    map.spec.name
                ))
            })?;
        let index = u32::try_from(slot_off / 8).map_err(|_| fail("slot index too large".into()))?;
        let value = if map.spec.map_type.is_map_in_map() {
            if sym.section() != Some(section.index) {
                return Err(fail("is not a BTF-defined map".into()));
            }
            SlotValue::Map(sym.name.clone())
        } else {
            let is_entry = programs.iter().any(|p| {
                p.name == sym.name
                    && Some(p.section_index) == sym.section()
                    && (p.insn_offset * 8) as u64 == sym.value
            });
            if !is_entry {
                return Err(fail("is not an entry-point program".into()));
            }
            SlotValue::Program(sym.name.clone())
        };
        map.spec.initial_slots.retain(|s| s.index != index);
        map.spec.initial_slots.push(InitialSlot { index, value });
    }
    for m in maps.iter_mut() {
        m.spec.initial_slots.sort_by_key(|s| s.index);
    }
    Ok(())
}
