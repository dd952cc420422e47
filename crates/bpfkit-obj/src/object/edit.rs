//! Checked editors of an [`ObjectSpec`]: a map, a program or a global variable by name,
//! before the spec is loaded. A name the object does not have, a value of another size or
//! of another kind than the variable's BTF type is an error at the call, naming the name.
//!
//! ```no_run
//! # fn f(bytes: &[u8]) -> Result<(), Box<dyn std::error::Error>> {
//! let mut spec = bpfkit_obj::object::ObjectSpec::parse_named(bytes, "execsnoop")?;
//! spec.variable_mut("target_pid")?.set(&7u32)?;
//! spec.map_mut("events")?.max_entries = 4096;
//! spec.program_mut("handle_exit")?.section.autoload = false;
//! # Ok(()) }
//! ```
//!
//! A map can also be replaced by an existing kernel map of the same shape
//! ([`MapSpec::replace_with`]): programs then use that map, and nothing new is created.

use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::sync::Arc;

use super::data::BPF_F_MMAPABLE;
use super::{MapDefinition, MapSpec, ObjectSpec, ProgramSpec};
use crate::btf::{Btf, Kind, Type};

/// Why an edit of an [`ObjectSpec`] was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SpecError {
    /// No map, program or global variable of that name.
    #[error(
        "no {kind} named '{name}'; the object's {kind}s: {}",
        list_or_none(known)
    )]
    UnknownName {
        /// `"map"`, `"program"` or `"global variable"`.
        kind: &'static str,
        /// The name asked for.
        name: String,
        /// The names the object has, in object order.
        known: Vec<String>,
    },
    /// Global variables are found through the object's BTF, and it has none (or a damaged one).
    #[error("global '{name}': the object has no usable BTF, so globals cannot be found by name")]
    NoBtf {
        /// The variable asked for.
        name: String,
    },
    /// A value of another size than the variable.
    #[error("global '{name}': is {expected} bytes, {actual} given")]
    VariableSize {
        /// The variable.
        name: String,
        /// Its size in the object.
        expected: usize,
        /// The size given.
        actual: usize,
    },
    /// A value of another kind than the variable's BTF type (e.g. a float for an `int`).
    #[error("global '{name}': is {expected}, cannot be set from {given}")]
    VariableType {
        /// The variable.
        name: String,
        /// The variable's resolved BTF type, e.g. `"a 4-byte integer"`, `"a struct"`.
        expected: String,
        /// What was given, e.g. `"a float"`.
        given: &'static str,
    },
    /// A replacement map of another shape than the object's definition.
    #[error("map '{map}': cannot be replaced by '{existing_name}': {mismatch}")]
    MapMismatch {
        /// The object's map.
        map: String,
        /// The existing map's name (as the kernel keeps it).
        existing_name: String,
        /// The first property that differs.
        mismatch: MapMismatch,
    },
    /// The replacement map's fd could not be duplicated (e.g. the process is out of fds).
    #[error("map '{map}': cannot keep a copy of the replacement's fd (errno {errno})")]
    ReplacementFd {
        /// The object's map.
        map: String,
        /// The `dup` errno.
        errno: i32,
    },
}

/// The first property in which an existing map differs from a map definition, in the
/// order type, key size, value size, max_entries, flags.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("its {field} is {existing}, the object's map wants {wanted}")]
pub struct MapMismatch {
    /// `"type"`, `"key_size"`, `"value_size"`, `"max_entries"` or `"map_flags"`.
    pub field: &'static str,
    /// The object's value (map types by number).
    pub wanted: u32,
    /// The existing map's value.
    pub existing: u32,
}

/// What [`MapSpec::replace_with`] needs to know of an existing kernel map: its fd and its
/// shape as the kernel reports it (`bpfkit`'s `MapData` implements it).
pub trait KernelMap: AsFd {
    /// The kernel's name of the map (at most 15 bytes).
    fn kernel_name(&self) -> &str;
    /// `enum bpf_map_type` number.
    fn type_number(&self) -> u32;
    /// Key size in bytes.
    fn key_size(&self) -> u32;
    /// Value size in bytes.
    fn value_size(&self) -> u32;
    /// Capacity.
    fn max_entries(&self) -> u32;
    /// `BPF_F_*` creation flags.
    fn map_flags(&self) -> u32;
}

/// An existing kernel map a [`MapSpec`] is replaced by: a duplicate of its fd (shared by
/// the spec's clones) and its shape.
#[derive(Debug, Clone)]
pub struct ExistingMap {
    fd: Arc<OwnedFd>,
    name: String,
    map_type: u32,
    key_size: u32,
    value_size: u32,
    max_entries: u32,
    map_flags: u32,
}

impl PartialEq for ExistingMap {
    fn eq(&self, other: &Self) -> bool {
        self.fd.as_raw_fd() == other.fd.as_raw_fd()
    }
}

impl Eq for ExistingMap {}

/// Compares a kernel map's shape with a definition's, both `(type, key size, value size,
/// max_entries, flags)`: a wanted `max_entries` of 0 (sized by the loader) is not compared,
/// and `BPF_F_MMAPABLE` is ignored in the flags of global data maps when `data_map` (the
/// loader adds it where the kernel allows). The first field that differs is the error.
pub fn check_map_shape(
    wanted: [u32; 5],
    existing: [u32; 5],
    data_map: bool,
) -> Result<(), MapMismatch> {
    let fields = ["type", "key_size", "value_size", "max_entries", "map_flags"];
    for i in 0..5 {
        let (mut w, mut e) = (wanted[i], existing[i]);
        if fields[i] == "max_entries" && w == 0 {
            continue;
        }
        if fields[i] == "map_flags" && data_map {
            w &= !BPF_F_MMAPABLE;
            e &= !BPF_F_MMAPABLE;
        }
        if w != e {
            return Err(MapMismatch {
                field: fields[i],
                wanted: w,
                existing: e,
            });
        }
    }
    Ok(())
}

impl ExistingMap {
    /// The map's fd (the spec's own duplicate).
    pub fn fd(&self) -> std::os::fd::BorrowedFd<'_> {
        self.fd.as_fd()
    }

    /// The kernel's name of the map.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Check that this map can stand in for a map created with these properties. `wanted`
    /// is `(type, key size, value size, max_entries, flags)`; a `max_entries` of 0 (sized by
    /// the loader) is not compared, and `BPF_F_MMAPABLE` is ignored in the flags of global
    /// data maps when `data_map` (the loader adds it where the kernel allows).
    pub fn check(&self, wanted: [u32; 5], data_map: bool) -> Result<(), MapMismatch> {
        let existing = [
            self.map_type,
            self.key_size,
            self.value_size,
            self.max_entries,
            self.map_flags,
        ];
        check_map_shape(wanted, existing, data_map)
    }
}

fn list_or_none(names: &[String]) -> String {
    if names.is_empty() {
        "(none)".to_owned()
    } else {
        names.join(", ")
    }
}

/// What a [`VariableValue`] is, for the check against the variable's BTF type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ValueKind {
    /// An integer (either signedness): fits BTF integers and enums of its size.
    Int,
    /// `bool`: fits BTF `_Bool` and 1-byte integers.
    Bool,
    /// `f32`/`f64`: fits BTF floats of its size.
    Float,
}

impl ValueKind {
    fn describe(self) -> &'static str {
        match self {
            Self::Int => "an integer",
            Self::Bool => "a bool",
            Self::Float => "a float",
        }
    }
}

/// A value [`VariableMut::set`] can write: integers, `bool`, `f32`, `f64`.
pub trait VariableValue: Copy {
    /// What kind of BTF type the value fits.
    const KIND: ValueKind;
    /// Size in bytes.
    const SIZE: usize;
    /// The value's bytes in the object's byte order (`out` is `SIZE` bytes).
    fn write(&self, big_endian: bool, out: &mut [u8]);
}

macro_rules! variable_value {
    ($kind:ident: $($t:ty),*) => {$(
        impl VariableValue for $t {
            const KIND: ValueKind = ValueKind::$kind;
            const SIZE: usize = size_of::<$t>();
            fn write(&self, big_endian: bool, out: &mut [u8]) {
                let bytes = if big_endian { self.to_be_bytes() } else { self.to_le_bytes() };
                out.copy_from_slice(&bytes);
            }
        }
    )*};
}
variable_value!(Int: u8, u16, u32, u64, i8, i16, i32, i64);
variable_value!(Float: f32, f64);

impl VariableValue for bool {
    const KIND: ValueKind = ValueKind::Bool;
    const SIZE: usize = 1;
    fn write(&self, _big_endian: bool, out: &mut [u8]) {
        out[0] = u8::from(*self);
    }
}

/// The resolved BTF type of a variable, as far as [`VariableMut::set`] checks it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum VarType {
    Int { bool: bool },
    Enum,
    Float,
    Other(Kind),
}

/// One global variable of a global-data map's initial bytes, found by name. Changes are
/// what the loader writes into the map before it is created (and `.rodata` frozen).
#[derive(Debug)]
pub struct VariableMut<'a> {
    name: String,
    map: &'a str,
    ty: VarType,
    big_endian: bool,
    bytes: &'a mut [u8],
}

impl VariableMut<'_> {
    /// The variable's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The name of the global-data map that holds it (e.g. `execsnoo.rodata`).
    pub fn map_name(&self) -> &str {
        self.map
    }

    /// Its size in bytes.
    pub fn size(&self) -> usize {
        self.bytes.len()
    }

    /// Its current initial bytes.
    pub fn bytes(&self) -> &[u8] {
        self.bytes
    }

    /// Set it to `value`, written in the object's byte order. A value of another size, or
    /// of another kind than the variable's BTF type (a float for an integer, anything for a
    /// struct: use [`set_bytes`](Self::set_bytes)), is an error and changes nothing.
    pub fn set<T: VariableValue>(&mut self, value: &T) -> Result<&mut Self, SpecError> {
        let fits = match (self.ty, T::KIND) {
            (VarType::Int { .. }, ValueKind::Int) | (VarType::Enum, ValueKind::Int) => true,
            (VarType::Int { bool }, ValueKind::Bool) => bool || self.bytes.len() == 1,
            (VarType::Float, ValueKind::Float) => true,
            _ => false,
        };
        if !fits {
            return Err(SpecError::VariableType {
                name: self.name.clone(),
                expected: self.describe(),
                given: T::KIND.describe(),
            });
        }
        self.check_size(T::SIZE)?;
        value.write(self.big_endian, self.bytes);
        Ok(self)
    }

    /// Set its bytes (any type; the size must be the variable's).
    pub fn set_bytes(&mut self, bytes: &[u8]) -> Result<&mut Self, SpecError> {
        self.check_size(bytes.len())?;
        self.bytes.copy_from_slice(bytes);
        Ok(self)
    }

    fn check_size(&self, actual: usize) -> Result<(), SpecError> {
        if actual == self.bytes.len() {
            Ok(())
        } else {
            Err(SpecError::VariableSize {
                name: self.name.clone(),
                expected: self.bytes.len(),
                actual,
            })
        }
    }

    fn describe(&self) -> String {
        let size = self.bytes.len();
        match self.ty {
            VarType::Int { bool: true } => "a bool".to_owned(),
            VarType::Int { bool: false } => format!("a {size}-byte integer"),
            VarType::Enum => format!("a {size}-byte enum"),
            VarType::Float => format!("a {size}-byte float"),
            VarType::Other(kind) => format!("a {}", kind.name().to_lowercase()),
        }
    }
}

impl MapSpec {
    /// Use the existing kernel map `map` instead of creating this one: the loader binds the
    /// programs to it and creates, initialises, freezes and pins nothing for this map. Its
    /// type, key and value size, `max_entries` (unless 0 here: the loader sizes the map)
    /// and flags must be this definition's; the first that differs is
    /// [`SpecError::MapMismatch`] naming it, and the spec is unchanged. The loader checks
    /// again against the definition as it finally is (after later edits). The spec keeps a
    /// duplicate of the fd.
    pub fn replace_with(&mut self, map: &impl KernelMap) -> Result<&mut Self, SpecError> {
        let existing = ExistingMap {
            fd: Arc::new(map.as_fd().try_clone_to_owned().map_err(|e| {
                SpecError::ReplacementFd {
                    map: self.name.clone(),
                    errno: e.raw_os_error().unwrap_or(0),
                }
            })?),
            name: map.kernel_name().to_owned(),
            map_type: map.type_number(),
            key_size: map.key_size(),
            value_size: map.value_size(),
            max_entries: map.max_entries(),
            map_flags: map.map_flags(),
        };
        existing
            .check(self.replica_shape(), self.is_data_map())
            .map_err(|mismatch| SpecError::MapMismatch {
                map: self.name.clone(),
                existing_name: existing.name.clone(),
                mismatch,
            })?;
        self.replacement = Some(existing);
        Ok(self)
    }

    /// `(type, key size, value size, max_entries, flags)` as [`ExistingMap::check`] takes it.
    pub fn replica_shape(&self) -> [u32; 5] {
        [
            self.map_type as u32,
            self.key_size,
            self.value_size,
            self.max_entries,
            self.map_flags,
        ]
    }

    /// Whether this is a global-data map (`.rodata`, `.data`, `.bss`, `.kconfig`).
    pub fn is_data_map(&self) -> bool {
        matches!(
            self.definition,
            MapDefinition::Data { .. } | MapDefinition::Kconfig
        )
    }
}

impl ObjectSpec {
    /// The map called `name` (as the loader names it, e.g. `events`, `execsnoo.rodata`), to edit before load (`max_entries`, `value_size`, flags, ...).
    pub fn map_mut(&mut self, name: &str) -> Result<&mut MapSpec, SpecError> {
        match self.maps.iter().position(|m| m.name == name) {
            Some(i) => Ok(&mut self.maps[i]),
            None => Err(self.unknown_map(name)),
        }
    }

    fn unknown_map(&self, name: &str) -> SpecError {
        SpecError::UnknownName {
            kind: "map",
            name: name.to_owned(),
            known: self.maps.iter().map(|m| m.name.clone()).collect(),
        }
    }

    /// The entry-point program called `name`, to edit before load (e.g.
    /// `section.autoload = false` to leave it out).
    pub fn program_mut(&mut self, name: &str) -> Result<&mut ProgramSpec, SpecError> {
        match self.programs.iter().position(|p| p.name == name) {
            Some(i) => Ok(&mut self.programs[i]),
            None => Err(SpecError::UnknownName {
                kind: "program",
                name: name.to_owned(),
                known: self.programs.iter().map(|p| p.name.clone()).collect(),
            }),
        }
    }

    /// The names of the variables of the global-data maps (`.rodata`, `.data`, `.bss`, ...),
    /// in map and section order. Empty without BTF.
    pub fn variable_names(&self) -> Vec<String> {
        let Some(btf) = self.btf_fixed.as_deref().and_then(|b| Btf::parse(b).ok()) else {
            return Vec::new();
        };
        let mut out = Vec::new();
        for (_, section) in self.data_sections() {
            if let Some(vars) = datasec_vars(&btf, section) {
                out.extend(vars.into_iter().map(|v| v.name));
            }
        }
        out
    }

    /// The global variable called `name`, to set its initial value before load:
    /// `spec.variable_mut("target_pid")?.set(&7u32)?`.
    pub fn variable_mut(&mut self, name: &str) -> Result<VariableMut<'_>, SpecError> {
        let btf = self.btf_fixed.as_deref().and_then(|b| Btf::parse(b).ok());
        let Some(btf) = btf else {
            return Err(SpecError::NoBtf {
                name: name.to_owned(),
            });
        };
        let mut found = None;
        for (map_index, section) in self.data_sections() {
            let Some(vars) = datasec_vars(&btf, section) else {
                continue;
            };
            if let Some(v) = vars.into_iter().find(|v| v.name == name) {
                found = Some((map_index, v));
                break;
            }
        }
        let Some((map_index, var)) = found else {
            drop(btf);
            return Err(SpecError::UnknownName {
                kind: "global variable",
                name: name.to_owned(),
                known: self.variable_names(),
            });
        };
        drop(btf);
        let big_endian = self.big_endian;
        let map = &mut self.maps[map_index];
        let map_name = map.name.as_str();
        let start = var.offset as usize;
        let bytes = map
            .data
            .as_mut()
            .and_then(|d| d.get_mut(start..start + var.size as usize))
            .ok_or_else(|| SpecError::VariableSize {
                name: name.to_owned(),
                expected: var.size as usize,
                actual: 0,
            })?;
        Ok(VariableMut {
            name: name.to_owned(),
            map: map_name,
            ty: var.ty,
            big_endian,
            bytes,
        })
    }

    /// `(map index, ELF section)` of every global-data map with initial bytes.
    fn data_sections(&self) -> impl Iterator<Item = (usize, &str)> {
        self.maps
            .iter()
            .enumerate()
            .filter_map(|(i, m)| match &m.definition {
                MapDefinition::Data { section, .. } if m.data.is_some() => {
                    Some((i, section.as_str()))
                }
                _ => None,
            })
    }
}

/// A variable of a DATASEC: name, place and resolved type.
struct DatasecVar {
    name: String,
    offset: u32,
    size: u32,
    ty: VarType,
}

/// The named variables of DATASEC `section`, or `None` if the BTF has no such DATASEC.
fn datasec_vars(btf: &Btf<'_>, section: &str) -> Option<Vec<DatasecVar>> {
    let sec_id = btf.id_by_name_kind(section, Kind::Datasec)?;
    let Ok(Type::Datasec(sec)) = btf.type_by_id(sec_id) else {
        return None;
    };
    let mut out = Vec::new();
    for entry in &sec.vars {
        let Ok(Type::Var(var)) = btf.type_by_id(entry.type_id) else {
            continue;
        };
        if var.name.is_empty() {
            continue;
        }
        let ty = btf
            .skip_mods_and_typedefs(var.type_id)
            .and_then(|id| btf.type_by_id(id))
            .map(|t| match t {
                Type::Int(i) => VarType::Int {
                    bool: i.encoding.is_bool(),
                },
                Type::Enum(_) | Type::Enum64(_) => VarType::Enum,
                Type::Float(_) => VarType::Float,
                other => VarType::Other(other.kind()),
            })
            .unwrap_or(VarType::Other(Kind::Void));
        out.push(DatasecVar {
            name: var.name.to_owned(),
            offset: entry.offset,
            size: entry.size,
            ty,
        });
    }
    Some(out)
}
