//! Global data: `.data*`, `.rodata*` and `.bss*` sections become single-entry array maps.

use object::elf;

use crate::btf::{Btf, Datasec, Kind, Type, VarLinkage};

use super::elf::{Elf, Section};
use super::error::ObjectError;
use super::kinds::MapType;
use super::maps::{MapDefinition, MapSpec, Pinning};

/// `BPF_F_RDONLY_PROG`: programs may only read the map.
pub const BPF_F_RDONLY_PROG: u32 = 1 << 7;
/// `BPF_F_MMAPABLE`: userspace may mmap the map's value.
pub const BPF_F_MMAPABLE: u32 = 1 << 10;
/// `BPF_OBJ_NAME_LEN`: kernel object names hold 15 characters and a NUL.
pub const BPF_OBJ_NAME_LEN: usize = 16;

/// Which kind of global-data section a map comes from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum DataKind {
    /// `.data`, `.data.*`: initialized, writable.
    Data,
    /// `.rodata`, `.rodata.*`: initialized, frozen before programs load.
    Rodata,
    /// `.bss`, `.bss.*`: zero-initialized.
    Bss,
}

impl DataKind {
    /// The kind of `section`, `None` if it is not a global-data section (libbpf's rules:
    /// `PROGBITS` for `.data`/`.rodata`, `NOBITS` for `.bss`, never executable).
    pub(crate) fn of_section(section: &Section<'_>) -> Option<DataKind> {
        Self::of(&section.name, section.sh_type, section.flags)
    }

    fn of(name: &str, sh_type: u32, flags: u64) -> Option<DataKind> {
        let is = |base: &str| {
            name == base || name.strip_prefix(base).is_some_and(|r| r.starts_with('.'))
        };
        if flags & u64::from(elf::SHF_EXECINSTR) != 0 {
            return None;
        }
        match sh_type {
            elf::SHT_PROGBITS if is(".data") => Some(DataKind::Data),
            elf::SHT_PROGBITS if is(".rodata") => Some(DataKind::Rodata),
            elf::SHT_NOBITS if is(".bss") => Some(DataKind::Bss),
            _ => None,
        }
    }
}

/// The object name libbpf derives from a file path: the file name up to its first dot
/// (`/x/execsnoop.bpf.o` → `execsnoop`).
///
/// ```
/// assert_eq!(bpfkit_obj::object::object_name_from_path("/x/execsnoop.bpf.o"), "execsnoop");
/// ```
pub fn object_name_from_path(path: &str) -> String {
    let file = path.rsplit('/').next().unwrap_or(path);
    file.split('.').next().unwrap_or(file).to_string()
}

/// The kernel-visible name of the global-data map for section `section` of object
/// `object_name`, following libbpf: as much of the object name as fits before the section
/// name (`execsnoo.rodata`), no object prefix for custom sections with two dots
/// (`.rodata.str1.1`), at most 15 characters, characters other than `[A-Za-z0-9_.]`
/// replaced by `_`.
pub fn internal_map_name(object_name: &str, section: &str) -> String {
    let max = BPF_OBJ_NAME_LEN - 1;
    let suffix_len = section.len().max(7).min(max);
    let custom = section.get(1..).is_some_and(|rest| rest.contains('.'));
    let prefix_len = if custom {
        0
    } else {
        (max - suffix_len).min(object_name.len())
    };
    let mut name: Vec<u8> = object_name.as_bytes()[..prefix_len].to_vec();
    name.extend(section.as_bytes().iter().take(suffix_len));
    name.truncate(max);
    name.iter()
        .map(|&b| {
            if b.is_ascii_alphanumeric() || b == b'_' || b == b'.' {
                b as char
            } else {
                '_'
            }
        })
        .collect()
}

/// One map per non-empty global-data section, in section order.
///
/// With BTF, the value type is the section's `DATASEC`, and the map is mmapable
/// (`BPF_F_MMAPABLE`) when one of its variables is not `static`, as libbpf decides.
/// A section larger than a map value can be (`value_size` is a `u32`) is an error.
pub(crate) fn data_maps(
    elf: &Elf<'_>,
    object_name: &str,
    btf: Option<&Btf<'_>>,
) -> Result<Vec<MapSpec>, ObjectError> {
    let mut maps = Vec::new();
    for sec in &elf.sections {
        let Some(kind) = DataKind::of_section(sec) else {
            continue;
        };
        if sec.size == 0 {
            continue;
        }
        // `.bss` has no bytes in the file: its size comes from the header alone.
        let value_size = u32::try_from(sec.size).map_err(|_| ObjectError::Section {
            section: sec.name.clone(),
            index: sec.index,
            reason: format!(
                "size {} exceeds the largest map value ({} bytes)",
                sec.size,
                u32::MAX
            ),
        })?;
        let data = match kind {
            // Zeros: calloc'd lazily, so even a u32::MAX-sized header costs no memory.
            DataKind::Bss => vec![0; value_size as usize],
            DataKind::Data | DataKind::Rodata => sec.data.to_vec(),
        };
        let datasec = btf.and_then(|b| {
            let id = b.id_by_name_kind(&sec.name, Kind::Datasec)?;
            match b.type_by_id(id) {
                Ok(Type::Datasec(d)) => Some((id, has_non_static_var(b, &d))),
                _ => None,
            }
        });
        let mut map_flags = if kind == DataKind::Rodata {
            BPF_F_RDONLY_PROG
        } else {
            0
        };
        if datasec.is_some_and(|(_, mmapable)| mmapable) {
            map_flags |= BPF_F_MMAPABLE;
        }
        maps.push(MapSpec {
            name: internal_map_name(object_name, &sec.name),
            map_type: MapType::Array,
            key_size: 4,
            value_size,
            max_entries: 1,
            map_flags,
            numa_node: 0,
            pinning: Pinning::None,
            map_extra: 0,
            inner_map: None,
            btf_key_type_id: None,
            btf_value_type_id: datasec.map(|(id, _)| id),
            definition: MapDefinition::Data {
                kind,
                section: sec.name.clone(),
            },
            section_index: sec.index,
            section_offset: 0,
            initial_slots: Vec::new(),
            data: Some(data),
            iproute2: None,
            replacement: None,
        });
    }
    Ok(maps)
}

fn has_non_static_var(btf: &Btf<'_>, datasec: &Datasec<'_>) -> bool {
    datasec.vars.iter().any(|v| {
        matches!(btf.type_by_id(v.type_id), Ok(Type::Var(var)) if var.linkage != VarLinkage::Static)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn internal_names_follow_libbpf() {
        assert_eq!(internal_map_name("execsnoop", ".rodata"), "execsnoo.rodata");
        assert_eq!(internal_map_name("execsnoop", ".bss"), "execsnoo.bss");
        assert_eq!(internal_map_name("execsnoop", ".data"), "execsnoo.data");
        assert_eq!(
            internal_map_name("my_object_name", ".kconfig"),
            "my_obje.kconfig"
        );
        assert_eq!(internal_map_name("obj", ".rodata.str1.1"), ".rodata.str1.1");
        assert_eq!(
            internal_map_name("obj", ".rodata.abracadabra"),
            ".rodata.abracad"
        );
        assert_eq!(internal_map_name("a-b", ".bss"), "a_b.bss");
        assert_eq!(internal_map_name("", ".rodata"), ".rodata");
    }

    #[test]
    fn object_names_stop_at_the_first_dot() {
        assert_eq!(object_name_from_path("biolatency.bpf.o"), "biolatency");
        assert_eq!(
            object_name_from_path("dir.d/loader-clang-7-el.elf"),
            "loader-clang-7-el"
        );
    }

    #[test]
    fn data_kinds_need_the_right_section_type() {
        let p = elf::SHT_PROGBITS;
        assert_eq!(DataKind::of(".data", p, 0), Some(DataKind::Data));
        assert_eq!(DataKind::of(".data.custom", p, 0), Some(DataKind::Data));
        assert_eq!(DataKind::of(".dataX", p, 0), None);
        assert_eq!(DataKind::of(".rodata.str1.1", p, 0), Some(DataKind::Rodata));
        assert_eq!(
            DataKind::of(".bss", elf::SHT_NOBITS, 0),
            Some(DataKind::Bss)
        );
        assert_eq!(DataKind::of(".bss", p, 0), None);
        assert_eq!(
            DataKind::of(".data", p, u64::from(elf::SHF_EXECINSTR)),
            None
        );
    }
}
