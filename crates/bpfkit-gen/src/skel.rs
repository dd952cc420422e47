//! Typed skeletons: one Rust module per BPF object with its maps, globals and programs by
//! name and type.
//!
//! The generated module (see [`Skeleton`]) has:
//! - `types`: the Rust types of every map key and value and every global variable
//!   (userspace flavour, each with a `Pod` impl whose layout proof is compile-time
//!   assertions), one `#[repr(C)]` struct per global section (`Rodata`, `Data`, `Bss`, …),
//!   and `<Map>Key`/`<Map>Value` aliases;
//! - `OpenSkel`: the parsed object before load: the global sections as plain structs to
//!   edit (`open.rodata().targ_pid = 7`), map sizes, program autoload, the spec itself;
//! - `Skel`: the loaded object: typed map views (`skel.maps().counts()?` is a
//!   `bpfkit::maps::HashMap<_, K, V>`), `.data`/`.bss` variables read and written through
//!   the mmapped map (`skel.bss().hits()?`, `skel.data().set_limit(3)?`), programs by name
//!   (`skel.progs().handle_exec()`), `attach_all()`.

use std::collections::BTreeSet;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use bpfkit_obj::btf::{Btf, Kind, Type, TypeId};
use bpfkit_obj::object::{DataKind, MapDefinition, MapType, ObjectSpec};

use crate::emit::{self, Ctx};
use crate::names::{bare, ident};
use crate::{collect, names, Flavour, GenError};

/// Where the skeleton's object bytes come from.
#[derive(Debug, Clone)]
enum Embed {
    /// `include_bytes!` of this path (as written in the generated source).
    Path(String),
    /// `include_bytes!` of this expression (`concat!(env!("OUT_DIR"), …)`).
    Expr(String),
    /// Not embedded: the user passes the bytes to `OpenSkel::open_bytes`.
    None,
}

/// Typed skeleton generator for one BPF object (clang's or bpfkit-build's).
///
/// From a build script, for a C object next to the crate:
///
/// ```no_run
/// # fn main() -> Result<(), bpfkit_gen::GenError> {
/// let out = std::path::PathBuf::from(std::env::var("OUT_DIR").unwrap()).join("opensnoop.rs");
/// bpfkit_gen::Skeleton::from_file("src/bpf/opensnoop.bpf.o")?.write_to(&out)?;
/// # Ok(()) }
/// ```
///
/// and in the crate, with no `unsafe`:
///
/// ```ignore
/// mod opensnoop { include!(concat!(env!("OUT_DIR"), "/opensnoop.rs")); }
///
/// let mut open = opensnoop::OpenSkel::open()?;
/// open.rodata().targ_pid = 1234;
/// let mut skel = open.load()?;
/// skel.attach_all()?;
/// for (pid, start) in skel.maps().start()?.iter() { /* typed keys and values */ }
/// ```
///
/// For a Rust eBPF crate built by `bpfkit_build::build_ebpf`, use
/// [`from_out_dir`](Self::from_out_dir) right after it (the object is embedded from
/// `OUT_DIR`), or generate with [`embed(false)`](Self::embed) and open with
/// `OpenSkel::open_bytes(bpfkit_build::include_ebpf!(…))`.
/// [`build::ebpf_with_skeleton`](crate::build) (feature `build`) does both in one call.
///
/// A later process reopens the maps a loader pinned with `skel.pin_maps(dir)`:
/// `PinnedMaps::open(dir)?.maps()` gives the same typed views, each pin checked against
/// the object's map (type, key and value size, `max_entries`, flags).
#[derive(Debug, Clone)]
pub struct Skeleton {
    bytes: Vec<u8>,
    name: String,
    embed: Embed,
}

impl Skeleton {
    /// A skeleton of the object at `path`; its bytes are embedded with `include_bytes!` of
    /// the absolute path (right for a file generated into `OUT_DIR`). The object name is the
    /// file name up to its first dot, as libbpf names it.
    pub fn from_file(path: impl AsRef<Path>) -> Result<Self, GenError> {
        let path = path.as_ref();
        let bytes = std::fs::read(path).map_err(|source| GenError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        let absolute = std::fs::canonicalize(path).map_err(|source| GenError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        let name = bpfkit_obj::object::object_name_from_path(&path.to_string_lossy());
        Ok(Self {
            bytes,
            name,
            embed: Embed::Path(absolute.to_string_lossy().into_owned()),
        })
    }

    /// A skeleton of the object `bpfkit_build::build_ebpf` built for binary `name` (it
    /// copies it to `$OUT_DIR/<name>.bpf.o`), for a build script that runs right after
    /// `build_ebpf`. The object is embedded from `OUT_DIR` as `include_ebpf!` does, so
    /// `OpenSkel::open()` takes no argument.
    ///
    /// ```no_run
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// // build.rs
    /// bpfkit_build::build_ebpf("../counter-ebpf")?;
    /// let out = std::path::PathBuf::from(std::env::var("OUT_DIR")?);
    /// bpfkit_gen::Skeleton::from_out_dir("counter")?.write_to(out.join("counter.rs"))?;
    /// # Ok(()) }
    /// ```
    pub fn from_out_dir(name: &str) -> Result<Self, GenError> {
        let out = std::env::var_os("OUT_DIR")
            .map(PathBuf::from)
            .ok_or_else(|| GenError::Elf {
                reason: "OUT_DIR is not set: from_out_dir is for build scripts".into(),
            })?;
        let file = format!("{name}.bpf.o");
        let path = out.join(&file);
        let bytes = std::fs::read(&path).map_err(|source| GenError::Read { path, source })?;
        Ok(Self {
            bytes,
            name: name.to_owned(),
            embed: Embed::Expr(format!("concat!(env!(\"OUT_DIR\"), \"/{file}\")")),
        })
    }

    /// A skeleton of the object `bytes` named `name`, not embedded (open it with
    /// `OpenSkel::open_bytes`).
    pub fn new(bytes: impl Into<Vec<u8>>, name: impl Into<String>) -> Self {
        Self {
            bytes: bytes.into(),
            name: name.into(),
            embed: Embed::None,
        }
    }

    /// The object name (it names the global-data maps: `opensnoo.rodata`).
    pub fn name(mut self, name: impl Into<String>) -> Self {
        self.name = name.into();
        self
    }

    /// Whether to embed the object (with `include_bytes!` of the path given to
    /// [`from_file`](Self::from_file)) so `OpenSkel::open()` needs no argument.
    pub fn embed(mut self, on: bool) -> Self {
        if !on {
            self.embed = Embed::None;
        }
        self
    }

    /// Embed the object with `include_bytes!(path)`, `path` as written into the source
    /// (relative paths are relative to the generated file).
    pub fn embed_path(mut self, path: impl Into<String>) -> Self {
        self.embed = Embed::Path(path.into());
        self
    }

    /// The Rust source of the skeleton module.
    pub fn generate(&self) -> Result<String, GenError> {
        let spec = ObjectSpec::parse_named(&self.bytes, &self.name).map_err(|e| GenError::Elf {
            reason: e.to_string(),
        })?;
        let fixed = spec.btf_fixed.as_deref().ok_or_else(|| GenError::Elf {
            reason: "no .BTF section: a skeleton needs the object's BTF (build with -g)".into(),
        })?;
        let btf = Btf::parse(fixed)?;
        let model = Model::read(&spec, &btf)?;
        render(&self.name, &self.embed, &spec, &btf, model).map(|s| reindent(&s))
    }

    /// Generates and writes the skeleton to `path` (only when it changed).
    pub fn write_to(&self, path: impl AsRef<Path>) -> Result<(), GenError> {
        let path = path.as_ref();
        let source = self.generate()?;
        if std::fs::read(path).is_ok_and(|old| old == source.as_bytes()) {
            return Ok(());
        }
        std::fs::write(path, source).map_err(|source| GenError::Write {
            path: PathBuf::from(path),
            source,
        })
    }
}

/// A global variable of a section.
struct Var {
    name: String,
    offset: u32,
    size: u32,
    type_id: TypeId,
}

/// A global-data section with named variables.
struct Section {
    /// The loader's map name (`opensnoo.rodata`).
    map: String,
    /// The ELF section (`.rodata`).
    section: String,
    /// Accessor name (`rodata`, `data_custom`).
    accessor: String,
    /// Struct name (`Rodata`, `DataCustom`).
    type_name: String,
    kind: DataKind,
    size: u32,
    vars: Vec<Var>,
}

/// A map that is not global data.
struct MapInfo {
    name: String,
    map_type: MapType,
    key: Option<TypeId>,
    value: Option<TypeId>,
    key_size: u32,
    value_size: u32,
    max_entries: u32,
    map_flags: u32,
}

struct Model {
    sections: Vec<Section>,
    maps: Vec<MapInfo>,
    programs: Vec<String>,
}

impl Model {
    fn read(spec: &ObjectSpec, btf: &Btf<'_>) -> Result<Self, GenError> {
        let mut sections = Vec::new();
        let mut maps = Vec::new();
        for m in &spec.maps {
            match &m.definition {
                MapDefinition::Data { kind, section } => {
                    let Some(sec_id) = btf.id_by_name_kind(section, Kind::Datasec) else {
                        continue;
                    };
                    let Type::Datasec(sec) = btf.type_by_id(sec_id)? else {
                        continue;
                    };
                    let mut vars = Vec::new();
                    for entry in &sec.vars {
                        if let Type::Var(v) = btf.type_by_id(entry.type_id)? {
                            // Function-local statics (`func.var`) have no Rust name: they
                            // stay padding.
                            let named = v
                                .name
                                .chars()
                                .all(|c| c.is_ascii_alphanumeric() || c == '_')
                                && v.name.starts_with(|c: char| !c.is_ascii_digit());
                            if named {
                                vars.push(Var {
                                    name: v.name.to_owned(),
                                    offset: entry.offset,
                                    size: entry.size,
                                    type_id: peel_wrappers(btf, v.type_id)?,
                                });
                            }
                        }
                    }
                    if vars.is_empty() {
                        continue;
                    }
                    vars.sort_by_key(|v| v.offset);
                    let accessor: String = section
                        .trim_start_matches('.')
                        .chars()
                        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
                        .collect();
                    sections.push(Section {
                        map: m.name.clone(),
                        type_name: camel(&accessor),
                        section: section.clone(),
                        accessor,
                        kind: *kind,
                        size: m.value_size,
                        vars,
                    });
                }
                MapDefinition::Kconfig => {}
                _ => maps.push(MapInfo {
                    name: m.name.clone(),
                    map_type: m.map_type,
                    key: m.btf_key_type_id.filter(|&id| id != 0),
                    value: m.btf_value_type_id.filter(|&id| id != 0),
                    key_size: m.key_size,
                    value_size: m.value_size,
                    max_entries: m.max_entries,
                    map_flags: m.map_flags,
                }),
            }
        }
        let programs = spec.programs.iter().map(|p| p.name.clone()).collect();
        Ok(Self {
            sections,
            maps,
            programs,
        })
    }

    /// Every type the generated `types` module must define.
    fn roots(&self) -> Vec<TypeId> {
        let mut roots = BTreeSet::new();
        for s in &self.sections {
            roots.extend(s.vars.iter().map(|v| v.type_id));
        }
        for m in &self.maps {
            roots.extend(m.key);
            roots.extend(m.value);
        }
        roots.into_iter().collect()
    }
}

/// bpfkit-ebpf's global wrappers (`Global<T>`, `GlobalMut<T>` over `UnsafeCell<T>`) are
/// transparent: a skeleton shows the `T` inside, so `open.rodata().TARGET = 7` works.
fn peel_wrappers(btf: &Btf<'_>, mut id: TypeId) -> Result<TypeId, GenError> {
    // As bpfkit-link writes them into BTF (`GlobalMut_u64_`), or rustc's own names.
    const WRAPPERS: &[&str] = &[
        "Global<",
        "GlobalMut<",
        "UnsafeCell<",
        "Global_",
        "GlobalMut_",
        "UnsafeCell_",
    ];
    loop {
        let Type::Struct(c) = btf.type_by_id(id)? else {
            return Ok(id);
        };
        let wrapper = WRAPPERS.iter().any(|w| c.name.starts_with(w));
        match c.members.first().filter(|_| c.members.len() == 1) {
            Some(only) if wrapper && only.bit_offset == 0 && only.bitfield_size == 0 => {
                if btf.resolve_size(only.type_id)? != u64::from(c.size) {
                    return Ok(id);
                }
                id = only.type_id;
            }
            _ => return Ok(id),
        }
    }
}

/// `data_custom` → `DataCustom`.
fn camel(s: &str) -> String {
    let mut out = String::new();
    for part in s.split('_').filter(|p| !p.is_empty()) {
        let mut chars = part.chars();
        if let Some(first) = chars.next() {
            out.push(first.to_ascii_uppercase());
            out.extend(chars);
        }
    }
    if out.is_empty() || out.starts_with(|c: char| c.is_ascii_digit()) {
        out.insert_str(0, "Section");
    }
    out
}

fn rust_string(s: &str) -> String {
    format!("{s:?}")
}

fn render(
    name: &str,
    embed: &Embed,
    spec: &ObjectSpec,
    btf: &Btf<'_>,
    mut model: Model,
) -> Result<String, GenError> {
    let roots = model.roots();
    let set = collect::reachable(btf, &roots, false)?;
    let naming = names::assign(btf, &set)?;
    // Section structs are named apart from the object's own types (a C `struct Bss`).
    let type_names: BTreeSet<&str> = naming.names.values().map(|n| bare(n)).collect();
    for s in &mut model.sections {
        while type_names.contains(s.type_name.as_str()) {
            s.type_name.push_str("Section");
        }
    }
    let model = &model;
    let types = if set.nominal.is_empty() {
        String::new()
    } else {
        emit::emit(
            btf,
            &set,
            &naming,
            emit::Options {
                flavour: Flavour::Userspace,
                module_attributes: false,
                pod: true,
            },
        )?
    };
    let mut ctx = Ctx::new(btf, &set, &naming, Flavour::Userspace);

    let mut out = String::new();
    let _ = writeln!(
        out,
        "// Typed skeleton of BPF object `{name}`, generated by bpfkit-gen. Do not edit.\n\
         // Use it as a module (`mod {m};`) or include it (`mod {m} {{ include!(…); }}`).\n",
        m = name.replace(|c: char| !c.is_ascii_alphanumeric(), "_")
    );
    out.push_str(
        "/// Rust types of the object's map keys and values, globals and global sections.\n\
         pub mod types {\n\
         #![allow(non_camel_case_types, non_snake_case, non_upper_case_globals, dead_code, \
         missing_docs, clippy::all)]\n\n",
    );
    out.push_str(&types);

    // Map key/value aliases, named apart from every generated type and section struct.
    let mut taken: BTreeSet<String> = naming.names.values().cloned().collect();
    taken.extend(model.sections.iter().map(|s| s.type_name.clone()));
    let mut map_types: Vec<(Option<String>, Option<String>)> = Vec::new();
    let mut lpm_data: Vec<Option<String>> = Vec::new();
    for m in &model.maps {
        let camel_name = camel(&m.name);
        let alias = |ctx: &mut Ctx<'_>,
                     taken: &mut BTreeSet<String>,
                     out: &mut String,
                     id: Option<TypeId>,
                     size: u32,
                     what: &str|
         -> Result<Option<String>, GenError> {
            let Some(id) = id else { return Ok(None) };
            if !ctx.is_pod(id)? || ctx.size_of(id)? != size {
                return Ok(None);
            }
            let mut alias = format!("{camel_name}{what}");
            let mut n = 1;
            while taken.contains(&alias) {
                alias = format!("{camel_name}{what}_{n}");
                n += 1;
            }
            taken.insert(alias.clone());
            let _ = writeln!(
                out,
                "/// The {} type of map `{}`.\npub type {alias} = {};",
                what.to_lowercase(),
                m.name,
                ctx.ty(id)?
            );
            Ok(Some(format!("types::{alias}")))
        };
        let k = alias(&mut ctx, &mut taken, &mut out, m.key, m.key_size, "Key")?;
        let v = alias(
            &mut ctx,
            &mut taken,
            &mut out,
            m.value,
            m.value_size,
            "Value",
        )?;
        map_types.push((k, v));
        lpm_data.push(lpm_key_data(btf, &mut ctx, m)?);
    }
    out.push('\n');

    // Section structs.
    let mut section_fields: Vec<Vec<(String, String, u32)>> = Vec::new();
    for s in &model.sections {
        section_fields.push(emit_section_struct(&mut ctx, &mut out, s)?);
    }
    out.push_str("}\n\n");

    let map_names: Vec<String> = model.maps.iter().map(|m| rust_string(&m.name)).collect();
    let mut checked_maps = map_names.clone();
    checked_maps.extend(model.sections.iter().map(|s| rust_string(&s.map)));
    let prog_names: Vec<String> = model.programs.iter().map(|p| rust_string(p)).collect();
    let _ = writeln!(
        out,
        "/// The object's name (global-data maps are named after it).\n\
         pub const OBJECT_NAME: &str = {};\n\
         const MAPS: &[&str] = &[{}];\n\
         const PROGRAMS: &[&str] = &[{}];\n",
        rust_string(name),
        checked_maps.join(", "),
        prog_names.join(", ")
    );
    let shapes: Vec<String> = model
        .maps
        .iter()
        .map(|m| {
            format!(
                "    ::bpfkit::skel::MapShape {{ name: {}, shape: [{}, {}, {}, {}, {}] }},\n",
                rust_string(&m.name),
                m.map_type as u32,
                m.key_size,
                m.value_size,
                m.max_entries,
                m.map_flags
            )
        })
        .collect();
    let _ = writeln!(
        out,
        "/// The maps (not global data) as the object defines them: what\n\
         /// [`PinnedMaps::open`] checks pinned maps against.\n\
         pub const MAP_SHAPES: &[::bpfkit::skel::MapShape] = &[\n{}];\n",
        shapes.concat()
    );
    let embedded = match embed {
        Embed::Path(path) => Some(rust_string(path)),
        Embed::Expr(expr) => Some(expr.clone()),
        Embed::None => None,
    };
    if let Some(path) = embedded {
        let _ = writeln!(
            out,
            "/// The object's bytes, embedded at build time (32-byte aligned: the ELF parser reads\n\
             /// headers in place).\n\
             pub static OBJECT: &[u8] = {{\n\
             #[repr(C, align(32))]\n\
             struct Aligned<Bytes: ?Sized>(Bytes);\n\
             static ALIGNED: &Aligned<[u8]> = &Aligned(*include_bytes!({}));\n\
             &ALIGNED.0\n\
             }};\n",
            path
        );
    }

    // OpenSkel.
    out.push_str(
        "/// The object parsed and not yet loaded: edit global sections, map sizes and program\n\
         /// autoload, then [`load`](Self::load).\n\
         pub struct OpenSkel {\n    spec: ::bpfkit::loader::ObjectSpec,\n",
    );
    let _ = &spec;
    for s in &model.sections {
        let _ = writeln!(out, "    {}: types::{},", s.accessor, s.type_name);
    }
    out.push_str(
        "}\n\nimpl ::core::fmt::Debug for OpenSkel {\n\
         fn fmt(&self, f: &mut ::core::fmt::Formatter<'_>) -> ::core::fmt::Result {\n\
         f.debug_struct(\"OpenSkel\").field(\"object\", &self.spec.name).finish_non_exhaustive()\n    }\n}\n\n\
         #[allow(non_snake_case)]\nimpl OpenSkel {\n",
    );
    if !matches!(embed, Embed::None) {
        out.push_str(
            "    /// Parses the embedded object.\n\
             pub fn open() -> Result<Self, ::bpfkit::skel::SkelError> {\n\
             Self::open_bytes(OBJECT)\n    }\n\n",
        );
    }
    out.push_str(
        "    /// Parses `bytes`, which must be the object this skeleton was generated from (its\n\
         /// maps, programs and global sections are checked).\n\
         pub fn open_bytes(bytes: &[u8]) -> Result<Self, ::bpfkit::skel::SkelError> {\n\
         let spec = ::bpfkit::skel::open(bytes, OBJECT_NAME, MAPS, PROGRAMS)?;\n",
    );
    for s in &model.sections {
        let _ = writeln!(
            out,
            "        let {} = ::bpfkit::skel::section_initial::<types::{}>(&spec, {})?;",
            s.accessor,
            s.type_name,
            rust_string(&s.map)
        );
    }
    let fields: Vec<&str> = model.sections.iter().map(|s| s.accessor.as_str()).collect();
    let _ = writeln!(
        out,
        "        Ok(Self {{ spec{}{} }})\n    }}\n",
        if fields.is_empty() { "" } else { ", " },
        fields.join(", ")
    );
    for s in &model.sections {
        let _ = writeln!(
            out,
            "    /// The initial values of `{}` (map `{}`), written into the map at load.\n\
             pub fn {}(&mut self) -> &mut types::{} {{\n        &mut self.{}\n    }}\n",
            section_label(s),
            s.map,
            s.accessor,
            s.type_name,
            s.accessor
        );
    }
    for m in &model.maps {
        let _ = writeln!(
            out,
            "    /// Sets map `{}`'s `max_entries` (its size) before load.\n\
             pub fn set_max_entries_{}(&mut self, max_entries: u32) -> &mut Self {{\n\
             if let Ok(map) = self.spec.map_mut({}) {{\n            map.max_entries = max_entries;\n        }}\n\
             self\n    }}\n",
            m.name,
            bare(&ident(&m.name)),
            rust_string(&m.name)
        );
    }
    for p in &model.programs {
        let _ = writeln!(
            out,
            "    /// Whether program `{p}` is loaded (and attached by `attach_all`).\n\
             pub fn set_autoload_{}(&mut self, autoload: bool) -> &mut Self {{\n\
             if let Ok(program) = self.spec.program_mut({}) {{\n            program.section.autoload = autoload;\n        }}\n\
             self\n    }}\n",
            bare(&ident(p)),
            rust_string(p)
        );
    }
    out.push_str(
        "    /// The parsed object, for edits the skeleton has no method for.\n\
         pub fn spec_mut(&mut self) -> &mut ::bpfkit::loader::ObjectSpec {\n        &mut self.spec\n    }\n\n\
         /// Loads with a default [`Loader`](::bpfkit::loader::Loader).\n\
         pub fn load(self) -> Result<Skel, ::bpfkit::skel::SkelError> {\n\
         self.load_with(&::bpfkit::loader::Loader::new())\n    }\n\n\
         /// Writes the global sections into the object and loads it with `loader` (pins,\n\
         /// kernel BTF, log level).\n\
         pub fn load_with(",
    );
    out.push_str(if model.sections.is_empty() {
        "self"
    } else {
        "mut self"
    });
    out.push_str(
        ", loader: &::bpfkit::loader::Loader) -> Result<Skel, ::bpfkit::skel::SkelError> {\n",
    );
    for s in &model.sections {
        let _ = writeln!(
            out,
            "        ::bpfkit::skel::section_store(&mut self.spec, {}, &self.{})?;",
            rust_string(&s.map),
            s.accessor
        );
    }
    out.push_str("        let object = loader.load_spec(&self.spec)?;\n");
    for s in &model.sections {
        let _ = writeln!(
            out,
            "        let {} = ::bpfkit::skel::GlobalSection::open(&object, {}, {}, {})?;",
            s.accessor,
            rust_string(&s.map),
            s.size,
            s.kind != DataKind::Rodata
        );
    }
    let _ = writeln!(
        out,
        "        Ok(Skel {{ object, links: Vec::new(){}{} }})\n    }}\n}}\n",
        if fields.is_empty() { "" } else { ", " },
        fields.join(", ")
    );

    // Skel.
    out.push_str(
        "/// The loaded object: typed maps, globals, programs and links. Dropping it detaches\n\
         /// and closes everything.\n#[derive(Debug)]\npub struct Skel {\n\
         object: ::bpfkit::loader::Object,\n\
         links: Vec<(String, ::bpfkit::links::Link)>,\n",
    );
    for s in &model.sections {
        let _ = writeln!(out, "    {}: ::bpfkit::skel::GlobalSection,", s.accessor);
    }
    out.push_str(
        "}\n\nimpl Skel {\n\
         /// The loaded object (maps and programs by name).\n\
         pub fn object(&self) -> &::bpfkit::loader::Object {\n        &self.object\n    }\n\n\
         /// The maps, typed.\n\
         pub fn maps(&self) -> Maps<'_> {\n        Maps::new(::bpfkit::skel::MapSource::Object(&self.object))\n    }\n\n\
         /// Pins every map (not global data) at `dir/<map name>` (`dir` must exist on a\n\
         /// bpffs), for later processes to reopen with [`PinnedMaps::open`]. On error\n\
         /// nothing stays pinned.\n\
         pub fn pin_maps(&self, dir: impl AsRef<::std::path::Path>) -> Result<(), ::bpfkit::skel::SkelError> {\n\
         ::bpfkit::skel::pin_maps(&self.object, dir.as_ref(), &MAP_NAMES)\n    }\n\n\
         /// The programs, by name.\n\
         pub fn progs(&self) -> Progs<'_> {\n        Progs { object: &self.object }\n    }\n\n\
         /// Attaches every loaded program whose section says where (tracepoints, uprobes with\n\
         /// a path, …; `xdp`/`tc`-like programs need a target and are skipped). The links are\n\
         /// kept until [`detach_all`](Self::detach_all) or drop. Returns how many attached.\n\
         pub fn attach_all(&mut self) -> Result<usize, ::bpfkit::skel::SkelError> {\n\
         let links = ::bpfkit::skel::attach_all(&self.object)?;\n\
         let n = links.len();\n        self.links.extend(links);\n        Ok(n)\n    }\n\n\
         /// The links made by [`attach_all`](Self::attach_all), with their program names.\n\
         pub fn links(&self) -> &[(String, ::bpfkit::links::Link)] {\n        &self.links\n    }\n\n\
         /// Detaches every program attached by [`attach_all`](Self::attach_all).\n\
         pub fn detach_all(&mut self) {\n        self.links.clear();\n    }\n",
    );
    for (s, fields) in model.sections.iter().zip(&section_fields) {
        let view = format!("{}View", s.type_name);
        let _ = writeln!(
            out,
            "\n    /// The variables of `{}` in the loaded map{}.\n\
             pub fn {}(&self) -> {view}<'_> {{\n        {view} {{ object: &self.object, section: &self.{} }}\n    }}",
            section_label(s),
            if s.kind == DataKind::Rodata {
                " (read-only)"
            } else {
                ", shared with the programs"
            },
            s.accessor,
            s.accessor
        );
        let _ = fields;
    }
    out.push_str("}\n\n");

    // Maps view.
    out.push_str(
        "/// The object's maps with their key and value types, from the loaded object\n\
         /// ([`Skel::maps`]) or from pins ([`PinnedMaps::maps`]).\n#[derive(Debug, Clone, Copy)]\n\
         pub struct Maps<'a> {\n    #[allow(dead_code)]\n    source: ::bpfkit::skel::MapSource<'a>,\n}\n\n#[allow(non_snake_case)]\nimpl<'a> Maps<'a> {\n\
         /// Typed views of the maps of `source`: this object's, or another object's with\n\
         /// maps of the same names and shapes (each view checks its map's type and sizes).\n\
         pub fn new(source: ::bpfkit::skel::MapSource<'a>) -> Self {\n        Self { source }\n    }\n\n",
    );
    for ((m, (k, v)), lpm) in model.maps.iter().zip(&map_types).zip(&lpm_data) {
        let fn_name = ident(&m.name);
        let lookup = format!(
            "let map = self.source.map({}).ok_or_else(|| ::bpfkit::skel::SkelError::Mismatch {{ object: self.source.name(), what: \"no map `{}`\".to_owned() }})?;",
            rust_string(&m.name),
            m.name
        );
        let map_err = format!(
            ".map_err(|source| ::bpfkit::skel::SkelError::Map {{ map: {}.to_owned(), source }})",
            rust_string(&m.name)
        );
        let typed = match (m.map_type, k.as_deref(), v.as_deref()) {
            (MapType::Hash | MapType::LruHash, Some(k), Some(v)) => Some(format!(
                "::bpfkit::maps::HashMap<&'a ::bpfkit::maps::MapData, {k}, {v}>"
            )),
            (MapType::PercpuHash | MapType::LruPercpuHash, Some(k), Some(v)) => Some(format!(
                "::bpfkit::maps::PerCpuHashMap<&'a ::bpfkit::maps::MapData, {k}, {v}>"
            )),
            (MapType::Array, Some(_), Some(v)) if m.key_size == 4 => Some(format!(
                "::bpfkit::maps::Array<&'a ::bpfkit::maps::MapData, {v}>"
            )),
            (MapType::PercpuArray, Some(_), Some(v)) if m.key_size == 4 => Some(format!(
                "::bpfkit::maps::PerCpuArray<&'a ::bpfkit::maps::MapData, {v}>"
            )),
            (MapType::LpmTrie, Some(_), Some(v)) => lpm.as_ref().map(|data| {
                format!("::bpfkit::maps::LpmTrie<&'a ::bpfkit::maps::MapData, {data}, {v}>")
            }),
            _ => None,
        };
        match typed {
            Some(ty) => {
                let ctor = ty.split('<').next().unwrap_or_default();
                let _ = writeln!(
                    out,
                    "    /// Map `{}` ({}), typed.\n    pub fn {fn_name}(&self) -> Result<{ty}, ::bpfkit::skel::SkelError> {{\n        {lookup}\n        {ctor}::new(map){map_err}\n    }}\n",
                    m.name,
                    m.map_type.kernel_name()
                );
            }
            None if m.map_type == MapType::Ringbuf => {
                let _ = writeln!(
                    out,
                    "    /// Ring buffer `{}`: a reader of its records (`bpfkit::readers::RingBuf`).\n    pub fn {fn_name}(&self) -> Result<::bpfkit::readers::RingBuf, ::bpfkit::skel::SkelError> {{\n        {lookup}\n        ::bpfkit::readers::RingBuf::new(map).map_err(|source| ::bpfkit::skel::SkelError::Reader {{ map: {}.to_owned(), source }})\n    }}\n",
                    m.name,
                    rust_string(&m.name)
                );
            }
            None => {
                let _ = writeln!(
                    out,
                    "    /// Map `{}` ({}): wrap it in the `bpfkit::maps` or `bpfkit::readers` type for its kind.\n    pub fn {fn_name}(&self) -> Result<&'a ::bpfkit::maps::MapData, ::bpfkit::skel::SkelError> {{\n        {lookup}\n        Ok(map)\n    }}\n",
                    m.name,
                    m.map_type.kernel_name()
                );
            }
        }
    }
    out.push_str("}\n\n");

    // PinnedMaps.
    out.push_str(
        "/// The maps (not global data) reopened from their pins in a directory, as\n\
         /// [`Skel::pin_maps`] leaves them: for a later process to read and change the maps of\n\
         /// a loaded object, typed as [`Skel::maps`] gives them.\n\
         #[derive(Debug)]\npub struct PinnedMaps {\n    maps: ::bpfkit::skel::PinnedMaps,\n}\n\n\
         impl PinnedMaps {\n\
         /// Opens `dir/<map name>` for every map. Each must be a pinned map of the type, key\n\
         /// and value size, `max_entries` and flags the object defines; the error names the\n\
         /// first map missing or different.\n\
         pub fn open(dir: impl AsRef<::std::path::Path>) -> Result<Self, ::bpfkit::skel::SkelError> {\n\
         let maps = ::bpfkit::skel::PinnedMaps::open(OBJECT_NAME, dir.as_ref(), MAP_SHAPES)?;\n\
         Ok(Self { maps })\n    }\n\n\
         /// The maps, typed.\n\
         pub fn maps(&self) -> Maps<'_> {\n        Maps::new(::bpfkit::skel::MapSource::Pinned(&self.maps))\n    }\n\n\
         /// The pin directory.\n\
         pub fn dir(&self) -> &::std::path::Path {\n        self.maps.dir()\n    }\n\n\
         /// Removes the map pins [`Skel::pin_maps`] made in `dir` (those present); the maps\n\
         /// live on while a process or a program holds them. Returns how many it removed.\n\
         pub fn unpin(dir: impl AsRef<::std::path::Path>) -> Result<usize, ::bpfkit::skel::SkelError> {\n\
         ::bpfkit::skel::unpin_maps(dir.as_ref(), &MAP_NAMES)\n    }\n}\n\n",
    );
    let map_name_list: Vec<String> = model.maps.iter().map(|m| rust_string(&m.name)).collect();
    let _ = writeln!(
        out,
        "/// The maps' names (their pins' file names).\nconst MAP_NAMES: [&str; {}] = [{}];\n",
        map_name_list.len(),
        map_name_list.join(", ")
    );

    // Programs view.
    out.push_str(
        "/// The object's programs by name.\n#[derive(Debug, Clone, Copy)]\n\
         pub struct Progs<'a> {\n    #[allow(dead_code)]\n    object: &'a ::bpfkit::loader::Object,\n}\n\n#[allow(non_snake_case)]\nimpl<'a> Progs<'a> {\n",
    );
    for p in &model.programs {
        let section = spec
            .programs
            .iter()
            .find(|s| &s.name == p)
            .map(|s| s.section.name.clone())
            .unwrap_or_default();
        let _ = writeln!(
            out,
            "    /// Program `{p}` (section `{section}`), `None` if it was not loaded (autoload off).\n\
             pub fn {}(&self) -> Option<&'a ::bpfkit::loader::Program> {{\n        self.object.program({})\n    }}\n",
            ident(p),
            rust_string(p)
        );
    }
    out.push_str("}\n");

    // Section views.
    for (s, fields) in model.sections.iter().zip(&section_fields) {
        let view = format!("{}View", s.type_name);
        let _ = writeln!(
            out,
            "\n/// The variables of `{}` in the loaded map `{}`.\n#[derive(Debug, Clone, Copy)]\n\
             pub struct {view}<'a> {{\n    object: &'a ::bpfkit::loader::Object,\n    section: &'a ::bpfkit::skel::GlobalSection,\n}}\n\n\
             #[allow(non_snake_case)]\nimpl {view}<'_> {{",
            section_label(s),
            s.map
        );
        for (field, ty, offset) in fields {
            let plain = bare(field);
            let _ = writeln!(
                out,
                "    /// Reads `{plain}`.\n    pub fn {field}(&self) -> Result<{ty}, ::bpfkit::skel::SkelError> {{\n        self.section.get(self.object, {offset})\n    }}",
            );
            if s.kind != DataKind::Rodata {
                let _ = writeln!(
                    out,
                    "    /// Writes `{plain}` (programs see it at once).\n    pub fn set_{plain}(&self, value: {ty}) -> Result<(), ::bpfkit::skel::SkelError> {{\n        self.section.set(self.object, {offset}, &value)\n    }}",
                );
            }
        }
        out.push_str("}\n");
    }
    Ok(out)
}

/// The data type of an LPM trie's key `{ u32 prefix length; DATA }` (the
/// `bpfkit::maps::LpmKey<DATA>` layout), or `None` if the key is not that struct.
fn lpm_key_data(btf: &Btf<'_>, ctx: &mut Ctx<'_>, m: &MapInfo) -> Result<Option<String>, GenError> {
    let Some(key) = m.key.filter(|_| m.map_type == MapType::LpmTrie) else {
        return Ok(None);
    };
    let key = btf.skip_mods_and_typedefs(key)?;
    let Type::Struct(c) = btf.type_by_id(key)? else {
        return Ok(None);
    };
    let (Some(prefix), Some(data), 2) = (c.members.get(0), c.members.get(1), c.members.len())
    else {
        return Ok(None);
    };
    let prefix_is_u32 = prefix.bit_offset == 0
        && prefix.bitfield_size == 0
        && matches!(
            btf.type_by_id(btf.skip_mods_and_typedefs(prefix.type_id)?)?,
            Type::Int(_)
        )
        && btf.resolve_size(prefix.type_id)? == 4;
    let data_fits = data.bit_offset == 32
        && data.bitfield_size == 0
        && ctx.is_pod(data.type_id)?
        && ctx.size_of(data.type_id)? + 4 == m.key_size
        && ctx.align_of(data.type_id)? <= 4;
    if !prefix_is_u32 || !data_fits {
        return Ok(None);
    }
    Ok(Some(qualify(&ctx.ty(data.type_id)?)))
}

fn section_label(s: &Section) -> &str {
    &s.section
}

/// Emits `types::<Section>`: the section's variables at their offsets, `Pod` with its proof.
/// Returns the typed fields `(ident, type with the types:: prefix, offset)`; a variable whose
/// type is not plain data is a byte array.
fn emit_section_struct(
    ctx: &mut Ctx<'_>,
    out: &mut String,
    s: &Section,
) -> Result<Vec<(String, String, u32)>, GenError> {
    let mut fields = Vec::new();
    let mut body = String::new();
    let mut asserts = String::new();
    let mut pod_checks = String::new();
    let mut sizes = Vec::new();
    let mut cursor = 0u32;
    let mut packed = false;
    let mut align = 1u32;
    let mut used = BTreeSet::new();
    for v in &s.vars {
        if v.offset < cursor || v.offset + v.size > s.size {
            // Overlapping or out-of-range variables cannot be fields.
            continue;
        }
        let field = ident(&v.name);
        if !used.insert(field.clone()) {
            continue;
        }
        if v.offset > cursor {
            let _ = writeln!(body, "    _pad_{cursor}: [u8; {}],", v.offset - cursor);
            sizes.push(format!("{}", v.offset - cursor));
        }
        let typed = ctx.is_pod(v.type_id)? && ctx.size_of(v.type_id)? == v.size;
        let ty = if typed {
            let a = ctx.align_of(v.type_id)?;
            if v.offset % a != 0 {
                packed = true;
            }
            align = align.max(a);
            ctx.ty(v.type_id)?
        } else {
            format!("[u8; {}]", v.size)
        };
        let _ = writeln!(body, "    /// `{}`.\n    pub {field}: {ty},", v.name);
        let _ = writeln!(
            asserts,
            "    assert!(::core::mem::offset_of!({}, {field}) == {});",
            s.type_name, v.offset
        );
        let _ = writeln!(pod_checks, "        __pod::<{ty}>();");
        sizes.push(format!("::core::mem::size_of::<{ty}>()"));
        fields.push((field, qualify(&ty), v.offset));
        cursor = v.offset + v.size;
    }
    if cursor < s.size {
        let _ = writeln!(body, "    _pad_{cursor}: [u8; {}],", s.size - cursor);
        sizes.push(format!("{}", s.size - cursor));
    }
    if s.size % align != 0 {
        packed = true;
    }
    let repr = if packed { "C, packed" } else { "C" };
    let _ = writeln!(
        out,
        "/// The variables of section `{}` (map `{}`) at their offsets, {} bytes.\n\
         #[repr({repr})]\n#[derive(Clone, Copy)]\npub struct {} {{\n{body}}}\n\
         const _: () = {{\n    assert!(::core::mem::size_of::<{}>() == {});\n{asserts}}};\n\
         // SAFETY: `#[repr(C)]`, every field is `Pod` and the fields cover every byte (both\n\
         // asserted below), so there is no padding and any bit pattern is valid.\n\
         unsafe impl ::bpfkit::maps::Pod for {} {{}}\n\
         const _: () = {{\n    #[allow(dead_code)]\n    fn __fields_are_pod() {{\n        fn __pod<P: ::bpfkit::maps::Pod>() {{}}\n{pod_checks}    }}\n\
         assert!(::core::mem::size_of::<{}>() == {});\n}};\n",
        section_label(s),
        s.map,
        s.size,
        s.type_name,
        s.type_name,
        s.size,
        s.type_name,
        s.type_name,
        if sizes.is_empty() {
            "0".to_owned()
        } else {
            sizes.join(" + ")
        }
    );
    Ok(fields)
}

/// A type expression from inside `types` made valid outside it: named types get the
/// `types::` prefix, primitives and arrays of them stay.
fn qualify(ty: &str) -> String {
    if let Some(inner) = ty.strip_prefix('[') {
        if let Some((elem, rest)) = inner.rsplit_once(';') {
            return format!("[{};{rest}", qualify(elem));
        }
    }
    if names::PRIMITIVES.contains(&ty) || ty.starts_with("::") {
        ty.to_owned()
    } else {
        format!("types::{ty}")
    }
}

/// Indents the generated source by brace depth (four spaces a level), so the module reads
/// like rustfmt's output. Comment lines do not count braces; the generated code has no
/// braces in string or character literals.
fn reindent(source: &str) -> String {
    let mut out = String::with_capacity(source.len() + source.len() / 4);
    let mut depth: usize = 0;
    for line in source.lines() {
        let text = line.trim();
        if text.is_empty() {
            out.push('\n');
            continue;
        }
        let comment = text.starts_with("//");
        let closing = if comment {
            0
        } else {
            text.chars()
                .take_while(|&c| c == '}' || c == ')' || c == ']')
                .filter(|&c| c == '}')
                .count()
        };
        let level = depth.saturating_sub(closing);
        for _ in 0..level {
            out.push_str("    ");
        }
        out.push_str(text);
        out.push('\n');
        if !comment {
            let opens = text.matches('{').count();
            let closes = text.matches('}').count();
            depth = (depth + opens).saturating_sub(closes);
        }
    }
    out
}
