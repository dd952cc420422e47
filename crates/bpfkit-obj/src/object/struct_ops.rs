//! `struct_ops` maps: variables of `.struct_ops` / `.struct_ops.link` whose function
//! pointers are relocated to `SEC("struct_ops/...")` programs (e.g. a TCP congestion
//! control implemented in BPF).

use object::elf;

use crate::btf::{Btf, Kind, Type, TypeId};

use super::elf::{Elf, Section};
use super::error::ObjectError;
use super::kinds::MapType;
use super::maps::{MapDefinition, MapSpec, Pinning};
use super::program::ProgramSpec;

/// The section of struct_ops maps.
pub const STRUCT_OPS_SECTION: &str = ".struct_ops";
/// The section of struct_ops maps attached through a BPF link (`BPF_F_LINK`).
pub const STRUCT_OPS_LINK_SECTION: &str = ".struct_ops.link";
/// `BPF_F_LINK`: the struct_ops map is attached through a link.
pub const BPF_F_LINK: u32 = 1 << 13;

/// What a struct_ops map implements.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct StructOpsSpec {
    /// The kernel struct it implements (`tcp_congestion_ops`), looked up in vmlinux BTF
    /// at load time.
    pub type_name: String,
    /// The struct's id in the object's BTF.
    pub type_id: TypeId,
    /// From `.struct_ops.link`: attached with a link, not by updating the map.
    pub link: bool,
    /// `false` for `SEC("?.struct_ops")`: not created unless asked for.
    pub autocreate: bool,
    /// Function-pointer members set to programs, in member order.
    pub programs: Vec<StructOpsMember>,
}

/// One function pointer of a struct_ops map set to a program.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct StructOpsMember {
    /// The member's name (`ssthresh`).
    pub member: String,
    /// The member's index in the struct: the program's `expected_attach_type` at load.
    pub member_index: u32,
    /// The program.
    pub program: String,
}

fn is_struct_ops_section(name: &str) -> Option<(bool, bool)> {
    let (autocreate, base) = match name.strip_prefix('?') {
        Some(rest) => (false, rest),
        None => (true, name),
    };
    match base {
        STRUCT_OPS_SECTION => Some((autocreate, false)),
        STRUCT_OPS_LINK_SECTION => Some((autocreate, true)),
        _ => None,
    }
}

fn fail(section: &Section<'_>, map: &str, offset: u64, reason: impl Into<String>) -> ObjectError {
    ObjectError::Map {
        map: map.to_string(),
        section: section.name.clone(),
        offset,
        reason: reason.into(),
    }
}

/// The struct_ops maps of every `.struct_ops*` section, with their program members.
pub(crate) fn struct_ops_maps(
    elf: &Elf<'_>,
    btf: Option<&Btf<'_>>,
    programs: &[ProgramSpec],
) -> Result<Vec<MapSpec>, ObjectError> {
    let mut maps = Vec::new();
    for sec in &elf.sections {
        let Some((autocreate, link)) = is_struct_ops_section(&sec.name) else {
            continue;
        };
        if sec.sh_type != elf::SHT_PROGBITS || sec.data.is_empty() {
            continue;
        }
        let btf = btf.ok_or_else(|| ObjectError::Btf {
            section: ".BTF",
            reason: format!("missing, but '{}' needs it", sec.name),
        })?;
        let datasec_name = sec.name.trim_start_matches('?');
        let Some(datasec_id) = btf
            .id_by_name_kind(&sec.name, Kind::Datasec)
            .or_else(|| btf.id_by_name_kind(datasec_name, Kind::Datasec))
        else {
            return Err(fail(sec, "", 0, "no DATASEC describes the section"));
        };
        let Ok(Type::Datasec(datasec)) = btf.type_by_id(datasec_id) else {
            return Err(fail(sec, "", 0, "DATASEC is unreadable"));
        };
        let first = maps.len();
        for vsi in &datasec.vars {
            let var_name = btf
                .name(vsi.type_id)
                .map_err(|e| fail(sec, "", 0, format!("BTF: {e}")))?
                .to_string();
            let var_type = match btf.type_by_id(vsi.type_id) {
                Ok(Type::Var(v)) => v.type_id,
                _ => return Err(fail(sec, &var_name, 0, "DATASEC entry is not a VAR")),
            };
            let type_id = btf
                .skip_mods_and_typedefs(var_type)
                .map_err(|e| fail(sec, &var_name, 0, format!("BTF: {e}")))?;
            let Ok(Type::Struct(st)) = btf.type_by_id(type_id) else {
                return Err(fail(sec, &var_name, 0, "type is not a struct"));
            };
            if st.name.is_empty() {
                return Err(fail(
                    sec,
                    &var_name,
                    0,
                    "anonymous struct types are not supported",
                ));
            }
            let offset = elf
                .symbols
                .iter()
                .find(|s| s.section() == Some(sec.index) && s.name == var_name)
                .map_or(u64::from(vsi.offset), |s| s.value);
            let end = offset.checked_add(u64::from(st.size));
            let Some(bytes) = end
                .filter(|&e| e <= sec.data.len() as u64)
                .and_then(|e| sec.data.get(offset as usize..e as usize))
            else {
                return Err(fail(
                    sec,
                    &var_name,
                    offset,
                    "value lies beyond the section",
                ));
            };
            maps.push(MapSpec {
                name: var_name,
                map_type: MapType::StructOps,
                key_size: 4,
                value_size: st.size,
                max_entries: 1,
                map_flags: if link { BPF_F_LINK } else { 0 },
                numa_node: 0,
                pinning: Pinning::None,
                map_extra: 0,
                inner_map: None,
                btf_key_type_id: None,
                btf_value_type_id: Some(type_id),
                definition: MapDefinition::StructOps(StructOpsSpec {
                    type_name: st.name.to_string(),
                    type_id,
                    link,
                    autocreate,
                    programs: Vec::new(),
                }),
                section_index: sec.index,
                section_offset: offset,
                initial_slots: Vec::new(),
                data: Some(bytes.to_vec()),
                iproute2: None,
                replacement: None,
            });
        }
        collect_members(elf, btf, sec, &mut maps[first..], programs)?;
    }
    Ok(maps)
}

/// Resolves `.rel.struct_ops*`: which program goes into which function-pointer member.
fn collect_members(
    elf: &Elf<'_>,
    btf: &Btf<'_>,
    sec: &Section<'_>,
    maps: &mut [MapSpec],
    programs: &[ProgramSpec],
) -> Result<(), ObjectError> {
    let Some(rel_sec) = elf
        .sections
        .iter()
        .find(|s| s.sh_type == elf::SHT_REL && s.info as usize == sec.index)
    else {
        return Ok(());
    };
    for rel in elf.rels(rel_sec)? {
        let sym = elf.symbols.get(rel.symbol);
        let sym_name = sym.map_or_else(|| format!("#{}", rel.symbol), |s| s.name.clone());
        let rfail = |reason: String| ObjectError::Relocation {
            section: sec.name.clone(),
            offset: rel.offset,
            symbol: sym_name.clone(),
            reason,
        };
        let sym = sym.ok_or_else(|| rfail("symbol index out of range".into()))?;
        let map = maps
            .iter_mut()
            .find(|m| {
                m.section_offset <= rel.offset
                    && rel.offset < m.section_offset + u64::from(m.value_size)
            })
            .ok_or_else(|| rfail("no struct_ops variable contains this offset".into()))?;
        let MapDefinition::StructOps(ops) = &mut map.definition else {
            return Err(rfail("not a struct_ops map".into()));
        };
        let bit_offset = (rel.offset - map.section_offset) * 8;
        let Ok(Type::Struct(st)) = btf.type_by_id(ops.type_id) else {
            return Err(rfail("struct type is unreadable".into()));
        };
        let (index, member) = st
            .members
            .iter()
            .enumerate()
            .find(|(_, m)| u64::from(m.bit_offset) == bit_offset)
            .ok_or_else(|| rfail(format!("no member of '{}' at this offset", st.name)))?;
        let program = programs
            .iter()
            .find(|p| {
                Some(p.section_index) == sym.section() && (p.insn_offset * 8) as u64 == sym.value
            })
            .ok_or_else(|| rfail(format!("member '{}' points to no program", member.name)))?;
        ops.programs.retain(|m| m.member_index != index as u32);
        ops.programs.push(StructOpsMember {
            member: member.name.to_string(),
            member_index: index as u32,
            program: program.name.clone(),
        });
    }
    for m in maps.iter_mut() {
        if let MapDefinition::StructOps(ops) = &mut m.definition {
            ops.programs.sort_by_key(|p| p.member_index);
        }
    }
    Ok(())
}
