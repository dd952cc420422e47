//! Map definitions: `MapSpec`, and the legacy `maps` section (`struct bpf_map_def` and
//! iproute2's `struct bpf_elf_map`).

use object::elf;

use super::data::DataKind;
use super::elf::{Elf, Section};
use super::error::ObjectError;
use super::kinds::MapType;
use super::struct_ops::StructOpsSpec;

/// How a map is pinned when it is created.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum Pinning {
    /// Not pinned.
    #[default]
    None,
    /// libbpf's `LIBBPF_PIN_BY_NAME` (`__uint(pinning, 1)` in `.maps`): pinned under the
    /// pin root as its name.
    ByName,
    /// iproute2's `PIN_OBJECT_NS` (1 in a legacy `bpf_elf_map`).
    ObjectNamespace,
    /// iproute2's `PIN_GLOBAL_NS` (2 in a legacy `bpf_elf_map`).
    GlobalNamespace,
}

/// Where a map's definition came from.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum MapDefinition {
    /// A `struct bpf_map_def` (or iproute2 `bpf_elf_map`) in the legacy `maps` section.
    Legacy,
    /// A BTF-described variable in `.maps`.
    Btf,
    /// A global-data section.
    Data {
        /// `.data`, `.rodata` or `.bss` family.
        kind: DataKind,
        /// The ELF section name, e.g. `.rodata.str1.1`.
        section: String,
    },
    /// The `.kconfig` map libbpf creates for `__kconfig` externs.
    Kconfig,
    /// A variable of `.struct_ops` or `.struct_ops.link`.
    StructOps(StructOpsSpec),
}

impl MapDefinition {
    /// `"legacy"`, `"btf"`, `"data"` or `"kconfig"`.
    pub fn as_str(&self) -> &'static str {
        match self {
            MapDefinition::Legacy => "legacy",
            MapDefinition::Btf => "btf",
            MapDefinition::Data { .. } => "data",
            MapDefinition::Kconfig => "kconfig",
            MapDefinition::StructOps(_) => "struct_ops",
        }
    }
}

/// One slot of a prog array or map-in-map initialized in `.maps` (`.values = { ... }`).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct InitialSlot {
    /// The array index (key).
    pub index: u32,
    /// What goes there.
    pub value: SlotValue,
}

/// The value of an [`InitialSlot`].
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum SlotValue {
    /// A program (prog arrays), by name.
    Program(String),
    /// A map (map-in-map), by name.
    Map(String),
}

/// The extra fields of iproute2's `struct bpf_elf_map`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct IpRoute2MapDef {
    /// `id`: a number other definitions refer to.
    pub id: u32,
    /// `inner_id`: the `id` of the inner map's template.
    pub inner_id: u32,
    /// `inner_idx`: the slot of the outer map to put this map in.
    pub inner_idx: u32,
}

/// A map the object defines.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MapSpec {
    /// The map's name (for global data, libbpf's kernel name such as `execsnoo.rodata`).
    pub name: String,
    /// The map type.
    pub map_type: MapType,
    /// Key size in bytes.
    pub key_size: u32,
    /// Value size in bytes.
    pub value_size: u32,
    /// Maximum number of entries (0 when the loader is expected to size the map).
    pub max_entries: u32,
    /// `BPF_F_*` map flags.
    pub map_flags: u32,
    /// NUMA node (`BPF_F_NUMA_NODE` makes the kernel use it).
    pub numa_node: u32,
    /// Pinning requested by the definition.
    pub pinning: Pinning,
    /// `map_extra` (bloom filter hash count, arena address, ...).
    pub map_extra: u64,
    /// The inner map template of a map-in-map.
    pub inner_map: Option<Box<MapSpec>>,
    /// BTF id of the key type in the object's `.BTF`.
    pub btf_key_type_id: Option<u32>,
    /// BTF id of the value type (for global data, the section's `DATASEC`).
    pub btf_value_type_id: Option<u32>,
    /// Where the definition came from.
    pub definition: MapDefinition,
    /// ELF section of the definition.
    pub section_index: usize,
    /// Byte offset of the definition in that section.
    pub section_offset: u64,
    /// Prog array / map-in-map slots initialized by the object, by index.
    pub initial_slots: Vec<InitialSlot>,
    /// Initial value (`value_size` bytes) of global-data maps (zeros for `.bss` and
    /// `.kconfig`, which the loader fills) and struct_ops maps; `None` for other maps.
    pub data: Option<Vec<u8>>,
    /// The iproute2 `bpf_elf_map` fields of a legacy definition that has them.
    pub iproute2: Option<IpRoute2MapDef>,
    /// An existing kernel map the loader uses instead of creating this one (set with
    /// [`MapSpec::replace_with`], which checks that it is compatible).
    pub replacement: Option<super::edit::ExistingMap>,
}

impl MapSpec {
    /// `max_entries` as libbpf creates the map on a host with `page_size`-byte pages: ring
    /// buffers (`ringbuf`, `user_ringbuf`) must be a power-of-two number of pages, so a
    /// size that is not is rounded up to the next one (0 stays 0: the caller must size it).
    /// Other maps keep their value.
    ///
    /// See [`ringbuf_max_entries`].
    pub fn max_entries_for_page_size(&self, page_size: u32) -> u32 {
        match self.map_type {
            MapType::Ringbuf | MapType::UserRingbuf => {
                ringbuf_max_entries(self.max_entries, page_size)
            }
            _ => self.max_entries,
        }
    }
}

/// libbpf's ring buffer sizing: `size` if it is a power-of-two multiple of `page_size`,
/// else the smallest such multiple above it (or `size` if none fits in a `u32`).
///
/// ```
/// use bpfkit_obj::object::ringbuf_max_entries;
/// assert_eq!(ringbuf_max_entries(100_000, 4096), 131_072);
/// assert_eq!(ringbuf_max_entries(256 * 1024, 4096), 256 * 1024);
/// assert_eq!(ringbuf_max_entries(0, 4096), 0);
/// ```
pub fn ringbuf_max_entries(size: u32, page_size: u32) -> u32 {
    if size == 0 || page_size == 0 {
        return size;
    }
    if size % page_size == 0 && (size / page_size).is_power_of_two() {
        return size;
    }
    let mut mul: u32 = 1;
    while let Some(bytes) = mul.checked_mul(page_size) {
        if bytes > size {
            return bytes;
        }
        match mul.checked_mul(2) {
            Some(m) => mul = m,
            None => break,
        }
    }
    size
}

/// `sizeof(struct bpf_map_def)`: type, key_size, value_size, max_entries, map_flags.
const BPF_MAP_DEF_SIZE: usize = 20;
/// `sizeof(struct bpf_elf_map)`: the above plus id, pinning, inner_id, inner_idx.
const BPF_ELF_MAP_SIZE: usize = 36;

/// Reads the legacy `maps` section: one definition per symbol, each `section size / number
/// of symbols` bytes, at the symbol's offset.
pub(crate) fn legacy_maps(elf: &Elf<'_>, sec: &Section<'_>) -> Result<Vec<MapSpec>, ObjectError> {
    let mut syms: Vec<_> = elf
        .symbols
        .iter()
        .filter(|s| {
            s.section() == Some(sec.index) && s.kind != elf::STT_SECTION && !s.name.is_empty()
        })
        .collect();
    syms.sort_by_key(|s| (s.value, s.index));
    if syms.is_empty() {
        return Ok(Vec::new());
    }
    let len = sec.data.len();
    let def_size = len / syms.len();
    let fail = |map: &str, offset: u64, reason: String| ObjectError::Map {
        map: map.to_string(),
        section: sec.name.clone(),
        offset,
        reason,
    };
    if len % syms.len() != 0 || def_size < BPF_MAP_DEF_SIZE {
        return Err(fail(
            &syms[0].name,
            0,
            format!(
                "{len} bytes do not hold {} definitions of at least {BPF_MAP_DEF_SIZE} bytes",
                syms.len()
            ),
        ));
    }
    let mut maps = Vec::with_capacity(syms.len());
    for sym in syms {
        let offset = usize::try_from(sym.value)
            .ok()
            .filter(|o| o.checked_add(def_size).is_some_and(|end| end <= len))
            .ok_or_else(|| {
                fail(
                    &sym.name,
                    sym.value,
                    format!("definition of {def_size} bytes crosses the section's end"),
                )
            })?;
        let field = |i: usize| elf.u32_at(sec.data, offset + 4 * i).unwrap_or(0);
        let raw_type = field(0);
        let map_type = MapType::from_u32(raw_type)
            .ok_or_else(|| fail(&sym.name, sym.value, format!("unknown map type {raw_type}")))?;
        let (pinning, iproute2) = if def_size >= BPF_ELF_MAP_SIZE {
            let pinning = match field(6) {
                0 => Pinning::None,
                1 => Pinning::ObjectNamespace,
                2 => Pinning::GlobalNamespace,
                other => {
                    return Err(fail(
                        &sym.name,
                        sym.value,
                        format!("unknown iproute2 pinning {other}"),
                    ))
                }
            };
            let extra = IpRoute2MapDef {
                id: field(5),
                inner_id: field(7),
                inner_idx: field(8),
            };
            (pinning, Some(extra))
        } else {
            (Pinning::None, None)
        };
        maps.push(MapSpec {
            name: sym.name.clone(),
            map_type,
            key_size: field(1),
            value_size: field(2),
            max_entries: field(3),
            map_flags: field(4),
            numa_node: 0,
            pinning,
            map_extra: 0,
            inner_map: None,
            btf_key_type_id: None,
            btf_value_type_id: None,
            definition: MapDefinition::Legacy,
            section_index: sec.index,
            section_offset: sym.value,
            initial_slots: Vec::new(),
            data: None,
            iproute2,
            replacement: None,
        });
    }
    Ok(maps)
}
