//! ELF objects → `ObjectSpec`: programs, maps, data sections, externs and relocations.
//!
//! [`ObjectSpec::parse`] reads the bytes of a BPF ELF object (little or big endian, as
//! clang, gcc or bpfkit's linker produce it) without touching the kernel. The result is
//! deterministic: the same bytes always give the same spec.
//!
//! ```no_run
//! let bytes = std::fs::read("execsnoop.bpf.o").unwrap();
//! let spec = bpfkit_obj::object::ObjectSpec::parse_named(&bytes, "execsnoop").unwrap();
//! for prog in &spec.programs {
//!     println!("{} {} {:?}", prog.name, prog.section.program_type, prog.section.attach_target);
//! }
//! ```

mod btf_ext;
mod btf_maps;
mod data;
mod edit;
mod elf;
mod error;
mod externs;
mod kinds;
mod layout;
mod maps;
mod program;
mod section;
mod struct_ops;

pub use data::{
    internal_map_name, object_name_from_path, DataKind, BPF_F_MMAPABLE, BPF_F_RDONLY_PROG,
    BPF_OBJ_NAME_LEN,
};
pub use edit::{
    check_map_shape, ExistingMap, KernelMap, MapMismatch, SpecError, ValueKind, VariableMut,
    VariableValue,
};
pub use error::ObjectError;
pub use externs::{ExternKind, ExternSpec, KconfigType, KCONFIG_SECTION, KSYMS_SECTION};
pub use kinds::{AttachType, MapType, ProgramType};
pub use maps::{
    ringbuf_max_entries, InitialSlot, IpRoute2MapDef, MapDefinition, MapSpec, Pinning, SlotValue,
};
pub use program::{
    CoreRelocation, FuncInfo, LineInfo, Linkage, ProgramBtfExt, ProgramSpec, Relocation,
    RelocationTarget,
};
pub use section::{AutoAttach, ProgramSection};
pub use struct_ops::{
    StructOpsMember, StructOpsSpec, BPF_F_LINK, STRUCT_OPS_LINK_SECTION, STRUCT_OPS_SECTION,
};

/// Everything an object file defines, read from its bytes alone.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ObjectSpec {
    /// The object's name (libbpf: the file name up to the first dot); prefixes the names
    /// of global-data maps.
    pub name: String,
    /// Whether the object is big-endian (`bpfeb`); instructions keep the object's byte order.
    pub big_endian: bool,
    /// Entry-point programs: functions of executable sections other than `.text`, in
    /// (section, offset) order.
    pub programs: Vec<ProgramSpec>,
    /// Functions of `.text`, which programs call or take the address of.
    pub subprograms: Vec<ProgramSpec>,
    /// Maps: legacy `maps`, then `.maps`, then global data, then `.kconfig`, then struct_ops.
    pub maps: Vec<MapSpec>,
    /// The `license` section's string (`"GPL"`), empty when absent.
    pub license: String,
    /// The `version` section's kernel version, if present.
    pub kernel_version: Option<u32>,
    /// Externs: kconfig values, ksym variables and kfuncs.
    pub externs: Vec<ExternSpec>,
    /// The raw `.BTF` section, as in the file (DATASEC sizes and offsets not yet fixed up).
    pub btf: Option<Vec<u8>>,
    /// The `.BTF` as libbpf makes it at open: `.kconfig`/`.ksyms` externs turned into
    /// allocated variables (kconfig ones at their `.kconfig` map offsets, kfuncs behind a
    /// `dummy_ksym` VAR), then every DATASEC fixed up from the ELF (section sizes and
    /// variable offsets from the symbol table, hidden variables static, entries sorted).
    /// The local BTF for CO-RE and global-variable lookups; sanitize it for a kernel and
    /// load it.
    pub btf_fixed: Option<Vec<u8>>,
    /// The raw `.BTF.ext` section.
    pub btf_ext: Option<Vec<u8>>,
}

/// The section that holds BTF-defined maps.
const BTF_MAPS_SECTION: &str = ".maps";
/// The section of the object's BTF.
const BTF_SECTION: &str = ".BTF";
/// The section of the object's BTF extension (func/line info, CO-RE relocations).
const BTF_EXT_SECTION: &str = ".BTF.ext";
/// The section that holds legacy map definitions.
const LEGACY_MAPS_SECTION: &str = "maps";

/// The alignment ELF64 structures are read at.
const ELF_ALIGN: usize = 8;

/// A copy of object bytes that starts at an [`ELF_ALIGN`]-aligned address.
struct AlignedCopy {
    buf: Vec<u8>,
    start: usize,
}

impl AlignedCopy {
    fn of(bytes: &[u8]) -> Self {
        let mut buf = vec![0u8; bytes.len() + ELF_ALIGN - 1];
        let misalignment = (buf.as_ptr() as usize) % ELF_ALIGN;
        let start = (ELF_ALIGN - misalignment) % ELF_ALIGN;
        buf[start..start + bytes.len()].copy_from_slice(bytes);
        buf.truncate(start + bytes.len());
        AlignedCopy { buf, start }
    }

    fn bytes(&self) -> &[u8] {
        &self.buf[self.start..]
    }
}

impl ObjectSpec {
    /// Parses an object whose name is unknown (global-data maps are then named after their
    /// section alone, e.g. `.rodata`). See [`parse_named`](Self::parse_named).
    pub fn parse(bytes: &[u8]) -> Result<ObjectSpec, ObjectError> {
        Self::parse_named(bytes, "")
    }

    /// Parses an object and names it `name` (see [`object_name_from_path`]).
    ///
    /// The ELF headers, symbols and relocations are read in place and need 8-byte alignment;
    /// bytes that lack it (an `include_bytes!` at an odd address, a slice into a larger
    /// buffer) are copied to an aligned buffer first.
    pub fn parse_named(bytes: &[u8], name: &str) -> Result<ObjectSpec, ObjectError> {
        let copy;
        let bytes = if (bytes.as_ptr() as usize) % ELF_ALIGN != 0 {
            copy = AlignedCopy::of(bytes);
            copy.bytes()
        } else {
            bytes
        };
        let elf = elf::Elf::parse(bytes)?;
        let legacy_maps = elf.section_by_name(LEGACY_MAPS_SECTION);
        let btf_maps = elf.section_by_name(BTF_MAPS_SECTION);
        let btf_section = elf.section_by_name(BTF_SECTION);
        let btf_ext_section = elf.section_by_name(BTF_EXT_SECTION);
        let has_externs = elf.symbols.iter().any(|s| s.is_extern());

        // Like libbpf, a damaged .BTF is only fatal when something needs it.
        let btf = match btf_section.map(|s| crate::btf::Btf::parse(s.data)) {
            Some(Ok(btf)) => Some(btf),
            Some(Err(e)) if btf_maps.is_some() => {
                return Err(ObjectError::Btf {
                    section: BTF_SECTION,
                    reason: format!("needed for '{BTF_MAPS_SECTION}': {e}"),
                })
            }
            Some(Err(_)) | None => None,
        };
        if btf_maps.is_some() && btf.is_none() {
            return Err(ObjectError::Btf {
                section: BTF_SECTION,
                reason: format!("missing, but '{BTF_MAPS_SECTION}' needs it"),
            });
        }
        let externs = if has_externs {
            externs::collect_externs(&elf, btf.as_ref())?
        } else {
            Vec::new()
        };

        let mut maps = Vec::new();
        if let Some(sec) = legacy_maps {
            maps.extend(maps::legacy_maps(&elf, sec)?);
        }
        let mut defined = match (btf_maps, btf.as_ref()) {
            (Some(sec), Some(btf)) => btf_maps::btf_maps(&elf, sec, btf)?,
            _ => Vec::new(),
        };

        let targets = program::SymbolTargets {
            legacy_maps: legacy_maps.map(|s| s.index),
            btf_maps: btf_maps.map(|s| s.index),
            object_name: name,
        };
        let mut functions = program::collect_functions(&elf, &targets)?;
        if let (Some(sec), Some(btf)) = (btf_ext_section, btf.as_ref()) {
            btf_ext::attach(sec.data, btf, &elf, &mut functions)?;
        }
        let text = elf.section_by_name(".text").map(|s| s.index);
        let (subprograms, programs): (Vec<_>, Vec<_>) = functions
            .into_iter()
            .partition(|f| Some(f.section_index) == text);

        if let Some(sec) = btf_maps {
            btf_maps::collect_initial_slots(&elf, sec, &mut defined, &programs)?;
        }
        maps.extend(defined.into_iter().map(|m| m.spec));
        maps.extend(data::data_maps(&elf, name, btf.as_ref())?);
        maps.extend(externs::kconfig_map(&externs, name, btf.as_ref()));
        maps.extend(struct_ops::struct_ops_maps(&elf, btf.as_ref(), &programs)?);

        let btf_fixed = match btf.as_ref() {
            Some(btf) => Some(layout::fixed_btf(&elf, btf, &externs)?),
            None => None,
        };
        Ok(ObjectSpec {
            name: name.to_string(),
            big_endian: elf.is_big_endian(),
            programs,
            subprograms,
            maps,
            license: read_license(&elf)?,
            kernel_version: read_version(&elf)?,
            externs,
            btf_fixed,
            btf: btf_section.map(|s| s.data.to_vec()),
            btf_ext: btf_ext_section.map(|s| s.data.to_vec()),
        })
    }

    /// The program named `name`.
    pub fn program(&self, name: &str) -> Option<&ProgramSpec> {
        self.programs.iter().find(|p| p.name == name)
    }

    /// The map named `name`.
    pub fn map(&self, name: &str) -> Option<&MapSpec> {
        self.maps.iter().find(|m| m.name == name)
    }

    /// The program or subprogram named `name`.
    pub fn function(&self, name: &str) -> Option<&ProgramSpec> {
        self.programs
            .iter()
            .chain(&self.subprograms)
            .find(|p| p.name == name)
    }
}

fn read_license(elf: &elf::Elf<'_>) -> Result<String, ObjectError> {
    let Some(sec) = elf.section_by_name("license") else {
        return Ok(String::new());
    };
    let text = sec.data.split(|&b| b == 0).next().unwrap_or(&[]);
    String::from_utf8(text.to_vec()).map_err(|_| ObjectError::Metadata {
        section: "license",
        reason: "license string is not UTF-8".into(),
    })
}

fn read_version(elf: &elf::Elf<'_>) -> Result<Option<u32>, ObjectError> {
    let Some(sec) = elf.section_by_name("version") else {
        return Ok(None);
    };
    if sec.data.len() != 4 {
        return Err(ObjectError::Metadata {
            section: "version",
            reason: format!("{} bytes, expected a 4-byte kernel version", sec.data.len()),
        });
    }
    Ok(elf.u32_at(sec.data, 0))
}
