//! The `Loader`: an [`ObjectSpec`] and the running kernel in, an [`Object`] of maps and
//! programs out.
//!
//! Steps, in libbpf's order: fix up and sanitize the object's BTF and load it (falling back
//! to no BTF, with a log line, where libbpf would); create every map (global data with its
//! initial bytes, `.rodata` and `.kconfig` frozen; user overrides of `max_entries` and
//! `.rodata` variables applied first; pinned maps reused by name); link each program with
//! its subprograms, patch map/data/extern references and CO-RE against the kernel BTF; load
//! it, returning the verifier log on failure; fill prog arrays' and map-in-maps' initial slots.

mod btf;
mod kconfig;
mod link;
mod object;

pub use btf::KernelBtf;
pub use object::{Object, Program, TestRun, TestRunOutput};

/// The parsed object the loader reads, with its checked editors
/// ([`ObjectSpec::variable_mut`], [`ObjectSpec::map_mut`], [`ObjectSpec::program_mut`]):
/// parse, edit, then [`Loader::load_spec`].
pub use bpfkit_obj::object::{
    ExistingMap, KernelMap, MapMismatch, ObjectSpec, SpecError, VariableMut, VariableValue,
};

use std::collections::HashMap;
use std::ffi::CString;
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::path::{Path, PathBuf};

use bpfkit_obj::btf::Btf;
use bpfkit_obj::object::{
    DataKind, MapDefinition, MapSpec, ObjectError, Pinning, ProgramSpec, SlotValue,
};
use bpfkit_obj::relo::TypeSource;

use crate::features::{self, Probe};
use crate::maps::{MapData, MapError, MapParams, MapType, MapTypeExt};
use crate::pin::PinError;
use crate::sys::{self, ProgLoadAttr, ProgLoadError};
use crate::token::TokenSource;

/// Errors of loading an object. Each names the object and the map or program.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LoadError {
    /// Reading the object file failed.
    #[error("reading {path:?}")]
    Read {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// The ELF could not be parsed.
    #[error("object '{object}'")]
    Parse {
        /// The object name.
        object: String,
        /// The parser's error (names section and offset).
        #[source]
        source: ObjectError,
    },
    /// A map could not be created or initialised (the source names the map).
    #[error("object '{object}'")]
    Map {
        /// The object name.
        object: String,
        /// The map.
        map: String,
        /// Why.
        #[source]
        source: MapError,
    },
    /// A pinned map could not be reused or pinned.
    #[error("object '{object}': map '{map}'")]
    Pin {
        /// The object name.
        object: String,
        /// The map.
        map: String,
        /// Why.
        #[source]
        source: PinError,
    },
    /// A map needs something the loader cannot give it.
    #[error("object '{object}': map '{map}': {reason}")]
    MapSetup {
        /// The object name.
        object: String,
        /// The map.
        map: String,
        /// What is wrong, and what to do.
        reason: String,
    },
    /// A program could not be linked or relocated.
    #[error("object '{object}': program '{program}': {reason}")]
    Link {
        /// The object name.
        object: String,
        /// The program.
        program: String,
        /// What is wrong.
        reason: String,
    },
    /// No BPF token could be created from the bpffs asked for.
    #[error("object '{object}'")]
    Token {
        /// The object name.
        object: String,
        /// Why.
        #[source]
        source: crate::token::TokenError,
    },
    /// The kernel refused a program; the verifier log is in the source.
    #[error(
        "object '{object}': program '{program}'{}{}",
        hint.map(|h| format!(" (hint: {h})")).unwrap_or_default(),
        requires.map(|f| format!(" ({} requires Linux {})", f.name, f.since)).unwrap_or_default()
    )]
    Program {
        /// The object name.
        object: String,
        /// The program.
        program: String,
        /// What usually causes this errno for this kind of program, if known.
        hint: Option<&'static str>,
        /// The kernel feature this errno usually means is missing for this kind of program.
        requires: Option<crate::features::Feature>,
        /// The syscall error and verifier log.
        #[source]
        source: Box<ProgLoadError>,
    },
    /// An override names a map or global variable the object does not have (a typo would
    /// otherwise silently leave the object's value in place).
    #[error(
        "object '{object}': no {kind} named '{name}'; the object's {kind}s: {}",
        list_or_none(known)
    )]
    UnknownName {
        /// The object name.
        object: String,
        /// `"map"`, `"program"` or `"global variable"`.
        kind: &'static str,
        /// The name given.
        name: String,
        /// The names the object has, in object order.
        known: Vec<String>,
    },
    /// A `.rodata` variable set by the user has another size, or cannot be found by name
    /// because the object has no BTF.
    #[error("object '{object}': global '{name}': {reason}")]
    Global {
        /// The object name.
        object: String,
        /// The variable.
        name: String,
        /// What is wrong.
        reason: String,
    },
}

impl LoadError {
    /// The kernel feature that is missing, with its first release: a map type or map
    /// feature the kernel lacks, or what a program's errno means for its kind.
    pub fn missing_feature(&self) -> Option<&crate::features::Feature> {
        match self {
            Self::Map { source, .. } => source.missing_feature(),
            Self::Program { requires, .. } => requires.as_ref(),
            _ => None,
        }
    }
}

fn list_or_none(names: &[String]) -> String {
    if names.is_empty() {
        "(none)".to_owned()
    } else {
        names.join(", ")
    }
}

/// Loads objects into the kernel. Options are set before [`Loader::load`].
///
/// Overrides name maps and globals of the object: a name the object does not have is a
/// [`LoadError::UnknownName`] at load, before anything is created in the kernel.
///
/// ```no_run
/// let object = bpfkit::loader::Loader::new()
///     .max_entries("events", 4096)
///     .set_global("targ_pid", &1234u32.to_ne_bytes())
///     .load_file("execsnoop.bpf.o")?;
/// for p in object.programs() {
///     println!("{} id {}", p.name(), p.id()?);
/// }
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone)]
pub struct Loader {
    pin_dir: Option<PathBuf>,
    globals: Vec<(String, Vec<u8>)>,
    max_entries: HashMap<String, u32>,
    value_size: HashMap<String, u32>,
    only_programs: Option<Vec<String>>,
    program_ifindex: HashMap<String, u32>,
    kernel_btf: PathBuf,
    log_level: u32,
    /// freplace programs: (program, target program fd, BTF id of the replaced function).
    extension_targets: Vec<(String, std::sync::Arc<OwnedFd>, u32)>,
    token: TokenSource,
}

impl Default for Loader {
    fn default() -> Self {
        Self::new()
    }
}

impl Loader {
    /// A loader with no pin directory, no overrides, the kernel's BTF at
    /// `/sys/kernel/btf/vmlinux`.
    pub fn new() -> Self {
        Self {
            pin_dir: None,
            globals: Vec::new(),
            max_entries: HashMap::new(),
            value_size: HashMap::new(),
            only_programs: None,
            program_ifindex: HashMap::new(),
            kernel_btf: PathBuf::from("/sys/kernel/btf/vmlinux"),
            log_level: 0,
            extension_targets: Vec::new(),
            token: TokenSource::Auto,
        }
    }

    /// Create maps, BTF and programs through a BPF token (Linux 6.9) from the bpffs at
    /// `path` (a failure to create it is a [`LoadError::Token`]). Without this call the
    /// loader finds a token by itself ([`TokenSource::Auto`]).
    pub fn token_path(&mut self, path: impl Into<PathBuf>) -> &mut Self {
        self.token = TokenSource::Path(path.into());
        self
    }

    /// Where the BPF token comes from: a path, a token already made, none, or found
    /// automatically (the default).
    pub fn token_source(&mut self, source: TokenSource) -> &mut Self {
        self.token = source;
        self
    }

    /// The target of freplace program `program`: the loaded program `target` and the BTF id
    /// of the global function it replaces (see
    /// [`programs::extension::target_btf_id`](crate::programs::extension::target_btf_id)).
    /// The loader keeps a duplicate of the fd.
    pub fn extension_target(
        &mut self,
        program: &str,
        target: std::os::fd::BorrowedFd<'_>,
        btf_id: u32,
    ) -> std::io::Result<&mut Self> {
        let fd = crate::sys::fdtrace::dup(target)?;
        self.extension_targets
            .push((program.to_owned(), std::sync::Arc::new(fd), btf_id));
        Ok(self)
    }

    /// Directory (on a bpffs) for maps with `pinning = LIBBPF_PIN_BY_NAME`: an existing pin
    /// of the same name is reused, otherwise the new map is pinned there.
    pub fn pin_dir(&mut self, dir: impl Into<PathBuf>) -> &mut Self {
        self.pin_dir = Some(dir.into());
        self
    }

    /// Set a `.rodata` (or `.data`/`.bss`) variable's initial bytes before load.
    ///
    /// At load, a name that is no variable of the object's global-data sections is a
    /// [`LoadError::UnknownName`], and bytes of another size than the variable's a
    /// [`LoadError::Global`].
    pub fn set_global(&mut self, name: &str, bytes: &[u8]) -> &mut Self {
        self.globals.push((name.to_owned(), bytes.to_vec()));
        self
    }

    /// Override a map's `max_entries` (maps the tools size at start have 0 in the object).
    /// A map name the object does not have is a [`LoadError::UnknownName`] at load.
    pub fn max_entries(&mut self, map: &str, max_entries: u32) -> &mut Self {
        self.max_entries.insert(map.to_owned(), max_entries);
        self
    }

    /// Override a map's `value_size` (e.g. stack trace maps sized by the tool's
    /// `perf_max_stack_depth`). The map is then created without BTF for its value.
    /// A map name the object does not have is a [`LoadError::UnknownName`] at load.
    pub fn value_size(&mut self, map: &str, value_size: u32) -> &mut Self {
        self.value_size.insert(map.to_owned(), value_size);
        self
    }

    /// Load only the programs named here (every other program of the object stays out, as
    /// with `autoload = false`); maps are created as usual. A name the object does not have
    /// is a [`LoadError::UnknownName`] at load.
    pub fn only_programs<S: AsRef<str>>(&mut self, names: &[S]) -> &mut Self {
        self.only_programs = Some(names.iter().map(|n| n.as_ref().to_owned()).collect());
        self
    }

    /// Load `program` for the network device `ifindex` (`prog_ifindex`): the kernel hands it
    /// to the device's offload (XDP offload: attach it with
    /// [`XdpMode::Offload`](crate::programs::xdp::XdpMode::Offload)); a device without BPF
    /// offload refuses the load (EINVAL or EOPNOTSUPP, by kernel). The program's maps stay on the host, so a
    /// program for a device should use none. A program the object does not have is a
    /// [`LoadError::UnknownName`] at load.
    pub fn program_ifindex(&mut self, program: &str, ifindex: u32) -> &mut Self {
        self.program_ifindex.insert(program.to_owned(), ifindex);
        self
    }

    /// Use another BTF file as the kernel's for CO-RE (e.g. a BTFHub file).
    pub fn kernel_btf(&mut self, path: impl Into<PathBuf>) -> &mut Self {
        self.kernel_btf = path.into();
        self
    }

    /// Ask for the verifier log at this level on every load (0: only on failure).
    pub fn verifier_log_level(&mut self, level: u32) -> &mut Self {
        self.log_level = level;
        self
    }

    /// Read, parse and load the object at `path` (its name is the file name up to the
    /// first dot, as libbpf names it).
    pub fn load_file(&self, path: impl AsRef<Path>) -> Result<Object, LoadError> {
        let path = path.as_ref();
        let bytes =
            crate::sys::fdtrace::read(path, "object file").map_err(|source| LoadError::Read {
                path: path.to_owned(),
                source,
            })?;
        let name = bpfkit_obj::object::object_name_from_path(&path.to_string_lossy());
        self.load(&bytes, &name)
    }

    /// Parse and load an object's ELF bytes under the name `name`.
    pub fn load(&self, elf: &[u8], name: &str) -> Result<Object, LoadError> {
        let spec = ObjectSpec::parse_named(elf, name).map_err(|source| LoadError::Parse {
            object: name.to_owned(),
            source,
        })?;
        self.load_spec(&spec)
    }

    /// Load a parsed spec: [`prepare`](Self::prepare), then [`Prepared::load`].
    ///
    /// On failure, maps this call pinned are unpinned again (reused pins are left alone).
    pub fn load_spec(&self, spec: &ObjectSpec) -> Result<Object, LoadError> {
        self.prepare(spec)?.load()
    }

    /// Everything of a load up to `BPF_PROG_LOAD`: features probed, BTF sanitized and
    /// loaded, maps created (or reused from pins), CO-RE and linking done. The relocated
    /// instructions and the map fds can be inspected before [`Prepared::load`] loads the
    /// programs. Dropping a `Prepared` closes its maps and removes the pins it created.
    pub fn prepare(&self, spec: &ObjectSpec) -> Result<Prepared, LoadError> {
        // Overrides are edits of the spec (the same checked editors a caller can use): the
        // load below reads only the spec.
        let edited;
        let spec = if self.globals.is_empty()
            && self.max_entries.is_empty()
            && self.value_size.is_empty()
            && self.only_programs.is_none()
            && self.program_ifindex.is_empty()
        {
            spec
        } else {
            edited = self.edit(spec)?;
            &edited
        };
        let mut new_pins = Vec::new();
        let result = self.prepare_inner(spec, &mut new_pins);
        match result {
            Ok(mut prepared) => {
                prepared.new_pins = new_pins;
                Ok(prepared)
            }
            Err(e) => {
                remove_pins(&spec.name, &mut new_pins);
                Err(e)
            }
        }
    }

    fn prepare_inner(
        &self,
        spec: &ObjectSpec,
        new_pins: &mut Vec<PathBuf>,
    ) -> Result<Prepared, LoadError> {
        let object = spec.name.clone();
        let token = self.token.resolve().map_err(|source| LoadError::Token {
            object: object.clone(),
            source,
        })?;
        let token_fd = token.as_deref().map(|t| t.as_fd());
        // Phase times, logged at debug level (where a load's time goes).
        let mut phases: Vec<(&str, std::time::Duration)> = Vec::new();
        let mut phase_start = std::time::Instant::now();
        let mut phase_end = |name, phases: &mut Vec<_>| {
            let now = std::time::Instant::now();
            phases.push((name, now - phase_start));
            phase_start = now;
        };
        // 1. BTF.
        let hidden_funcs: Vec<&str> = (spec.programs.iter())
            .chain(&spec.subprograms)
            .filter(|f| f.hidden)
            .map(|f| f.name.as_str())
            .collect();
        let prepared = spec
            .btf_fixed
            .as_deref()
            .map(|fixed| btf::prepare(fixed, &hidden_funcs))
            .transpose()
            .unwrap_or_else(|e| {
                log::warn!("object '{object}': BTF unusable ({e}); loading without BTF");
                None
            });
        let local_btf = prepared.as_ref().and_then(|p| Btf::parse(&p.fixed).ok());
        let btf_fd: Option<OwnedFd> =
            prepared
                .as_ref()
                .and_then(|p| match btf::load(&p.loadable, token_fd) {
                    Ok(fd) => Some(fd),
                    Err(e) => {
                        log::warn!(
                            "object '{object}': kernel rejected BTF ({}); loading without BTF",
                            e.source
                        );
                        None
                    }
                });
        // Kernel BTF, only when something needs it.
        let has_core = (spec.programs.iter().filter(|p| p.section.autoload))
            .chain(&spec.subprograms)
            .any(|f| !f.btf_ext.core_relos.is_empty());
        let needs_kernel_btf = has_core
            || !spec.externs.is_empty()
            || spec.programs.iter().any(|p| p.section.attach_btf);
        let kernel_bytes = if needs_kernel_btf {
            btf::KernelBtfBytes::open(&self.kernel_btf)
                .map_err(|e| log::warn!("object '{object}': kernel BTF unavailable: {e}"))
                .ok()
        } else {
            None
        };
        let kernel_btf = kernel_bytes.as_ref().and_then(|b| {
            Btf::parse(b.bytes())
                .map_err(|e| log::warn!("object '{object}': kernel BTF unparsable: {e}"))
                .ok()
        });

        phase_end("BTF", &mut phases);
        // 2. Maps.
        let mut maps: Vec<(String, MapData)> = Vec::new();
        let mut map_fds: HashMap<String, i32> = HashMap::new();
        let mut kconfig_map = None;
        for m in &spec.maps {
            let data = self.create_map(spec, m, btf_fd.as_ref(), token_fd, new_pins)?;
            if m.definition == MapDefinition::Kconfig {
                kconfig_map = Some(m.name.clone());
            }
            map_fds.insert(m.name.clone(), data.as_fd().as_raw_fd());
            maps.push((m.name.clone(), data));
        }

        phase_end("maps", &mut phases);
        // 3. CO-RE, once per section, against vmlinux then (lazily) module BTFs.
        let modules = match (&kernel_btf, self.kernel_btf.parent()) {
            (Some(vmlinux), Some(dir)) if self.kernel_btf.ends_with("vmlinux") => {
                btf::LazyModuleBtf::list(dir, vmlinux)
            }
            _ => Vec::new(),
        };
        let targets: Vec<&dyn TypeSource> = kernel_btf
            .iter()
            .map(|k| k as &dyn TypeSource)
            .chain(modules.iter().map(|m| m as &dyn TypeSource))
            .collect();
        let relocated = link::relocate_core(spec, local_btf.as_ref(), &targets).map_err(|f| {
            LoadError::Link {
                object: object.clone(),
                program: f.function.clone(),
                reason: format!("CO-RE in '{}': {}", f.function, f.reason),
            }
        })?;

        phase_end("CO-RE", &mut phases);
        // 4. Programs.
        let ctx = link::LinkContext {
            spec,
            local_btf: local_btf.as_ref(),
            kernel_btf: kernel_btf.as_ref(),
            map_fds: &map_fds,
            kconfig_map: kconfig_map.as_deref(),
            relocated: &relocated,
        };
        // As libbpf, bind the `.rodata` map to every program (bpftool shows metadata from it).
        let rodata_fd = spec
            .maps
            .iter()
            .find(|m| matches!(&m.definition, MapDefinition::Data { section, .. } if section == ".rodata"))
            .and_then(|m| map_fds.get(&m.name).copied());
        let mut linked = Vec::new();
        for p in spec.programs.iter().filter(|p| p.section.autoload) {
            linked.push(self.link_program(&ctx, p, kernel_btf.as_ref())?);
        }
        phase_end("link", &mut phases);
        log::debug!("object '{object}': prepare phases {phases:?}");
        Ok(Prepared {
            object,
            maps,
            btf_fd,
            programs: linked,
            rodata_fd,
            slots: spec
                .maps
                .iter()
                .filter(|m| !m.initial_slots.is_empty())
                .map(|m| (m.name.clone(), m.initial_slots.clone()))
                .collect(),
            not_loaded: spec
                .programs
                .iter()
                .filter(|p| !p.section.autoload)
                .map(|p| p.name.clone())
                .collect(),
            log_level: self.log_level,
            new_pins: Vec::new(),
            token,
        })
    }

    /// `spec` with this loader's overrides applied through the checked spec editors
    /// ([`ObjectSpec::map_mut`], [`ObjectSpec::variable_mut`]): a name the object does not
    /// have or a global of another size is an error before anything reaches the kernel.
    fn edit(&self, spec: &ObjectSpec) -> Result<ObjectSpec, LoadError> {
        let object = &spec.name;
        let spec_err = |e: SpecError| match e {
            SpecError::UnknownName { kind, name, known } => LoadError::UnknownName {
                object: object.clone(),
                kind,
                name,
                known,
            },
            SpecError::VariableSize {
                name,
                expected,
                actual,
            } => LoadError::Global {
                object: object.clone(),
                name,
                reason: format!("is {expected} bytes, {actual} given"),
            },
            SpecError::MapMismatch {
                map,
                existing_name,
                mismatch,
            } => LoadError::MapSetup {
                object: object.clone(),
                map,
                reason: format!("cannot be replaced by '{existing_name}': {mismatch}"),
            },
            other => LoadError::Global {
                object: object.clone(),
                name: match &other {
                    SpecError::NoBtf { name } | SpecError::VariableType { name, .. } => {
                        name.clone()
                    }
                    _ => String::new(),
                },
                reason: other.to_string(),
            },
        };
        let mut edited = spec.clone();
        for (name, &n) in &self.max_entries {
            edited.map_mut(name).map_err(spec_err)?.max_entries = n;
        }
        for (name, &size) in &self.value_size {
            let m = edited.map_mut(name).map_err(spec_err)?;
            m.value_size = size;
            // The object's BTF describes the old value: create the map without BTF.
            m.btf_key_type_id = None;
            m.btf_value_type_id = None;
        }
        if let Some(only) = &self.only_programs {
            for name in only {
                edited.program_mut(name).map_err(spec_err)?;
            }
            for p in &mut edited.programs {
                p.section.autoload = only.contains(&p.name);
            }
        }
        for (name, &ifindex) in &self.program_ifindex {
            edited.program_mut(name).map_err(spec_err)?.ifindex = ifindex;
        }
        for (name, bytes) in &self.globals {
            edited
                .variable_mut(name)
                .and_then(|mut v| v.set_bytes(bytes).map(drop))
                .map_err(spec_err)?;
        }
        Ok(edited)
    }

    fn create_map(
        &self,
        spec: &ObjectSpec,
        m: &MapSpec,
        btf_fd: Option<&OwnedFd>,
        token_fd: Option<std::os::fd::BorrowedFd<'_>>,
        new_pins: &mut Vec<PathBuf>,
    ) -> Result<MapData, LoadError> {
        let object = &spec.name;
        let map_err = |source| LoadError::Map {
            object: object.clone(),
            map: m.name.clone(),
            source,
        };
        let setup = |reason: String| LoadError::MapSetup {
            object: object.clone(),
            map: m.name.clone(),
            reason,
        };
        let map_type = MapType::from_number(m.map_type as u32)
            .ok_or_else(|| setup(format!("unknown map type {}", m.map_type as u32)))?;
        let mut max_entries = m.max_entries;
        let value_size = m.value_size;
        if max_entries == 0 && map_type == MapType::PerfEventArray {
            max_entries = crate::maps::possible_cpus().map_err(map_err)? as u32;
        }

        // A replacement map set on the spec: checked against the definition as it is now
        // (after later edits and the perf array's sizing); nothing is created or written.
        if let Some(existing) = &m.replacement {
            let wanted = [
                map_type.number(),
                m.key_size,
                value_size,
                max_entries,
                m.map_flags,
            ];
            existing
                .check(wanted, m.is_data_map())
                .map_err(|mismatch| {
                    setup(format!(
                        "cannot be replaced by '{}': {mismatch}",
                        existing.name()
                    ))
                })?;
            let fd = crate::sys::fdtrace::dup(existing.fd())
                .map_err(|e| setup(format!("cannot duplicate the replacement's fd: {e}")))?;
            return MapData::from_fd(fd).map_err(map_err);
        }

        // Initial bytes (globals already set in the spec).
        let mut initial = m.data.clone();

        // Reuse a pin.
        let pin_path = match (m.pinning, &self.pin_dir) {
            (Pinning::ByName, Some(dir)) => Some(dir.join(&m.name)),
            _ => None,
        };
        if let Some(path) = &pin_path {
            if path.exists() {
                let data = MapData::from_pin(path).map_err(|source| LoadError::Pin {
                    object: object.clone(),
                    map: m.name.clone(),
                    source,
                })?;
                if data.map_type() != map_type
                    || data.key_size() != m.key_size
                    || data.value_size() != value_size
                    || data.max_entries() != max_entries
                {
                    return Err(setup(format!(
                        "pinned map at {path:?} is {} key {} value {} max_entries {}, the object wants {} key {} value {} max_entries {}",
                        data.map_type(), data.key_size(), data.value_size(), data.max_entries(),
                        map_type, m.key_size, value_size, max_entries
                    )));
                }
                return Ok(data);
            }
        }

        let zero_is_valid = matches!(
            map_type,
            MapType::SkStorage
                | MapType::InodeStorage
                | MapType::TaskStorage
                | MapType::CgrpStorage
                | MapType::CgroupStorage
                | MapType::PercpuCgroupStorage
        );
        if max_entries == 0 && !zero_is_valid {
            return Err(setup(
                "max_entries is 0 in the object (the tool sizes it at start): set it with Loader::max_entries".into(),
            ));
        }
        let inner = match &m.inner_map {
            Some(inner) => Some(self.create_map(spec, inner, btf_fd, token_fd, new_pins)?),
            None => None,
        };
        let btf_ids = match (btf_fd, m.btf_value_type_id) {
            (Some(fd), Some(v)) => Some((fd.as_fd(), m.btf_key_type_id.unwrap_or(0), v)),
            _ => None,
        };
        let mut params = MapParams::new(&m.name, map_type, m.key_size, value_size, max_entries);
        params.map_flags = m.map_flags;
        // Global data is mmapable wherever the kernel allows it (libbpf 1.1's rule, which
        // bpftool here follows), so user space can map it. A kernel known to lack mmapable
        // maps (before 5.5) refuses the flag the object asks for: it is dropped there.
        if matches!(m.definition, MapDefinition::Data { .. }) {
            match features::support(Probe::MmapableMaps) {
                features::Support::Supported => params.map_flags |= sys::uapi::BPF_F_MMAPABLE,
                features::Support::Unsupported => params.map_flags &= !sys::uapi::BPF_F_MMAPABLE,
                features::Support::Unknown { .. } => {}
            }
        }
        params.map_extra = m.map_extra;
        params.inner_map = inner.as_ref();
        params.btf = btf_ids;
        params.token = token_fd;
        let data = match MapData::create(&params) {
            Ok(d) => d,
            // libbpf retries without BTF when creation with it fails: fd arrays (perf event,
            // cgroup arrays) refuse key/value BTF with ENOTSUPP.
            Err(MapError::Syscall { source, .. }) if btf_ids.is_some() => {
                log::debug!("map '{}': {source}; retrying without BTF", m.name);
                params.btf = None;
                MapData::create(&params).map_err(map_err)?
            }
            Err(e) => return Err(map_err(e)),
        };
        if m.definition == MapDefinition::Kconfig {
            if let Some(bytes) = initial.as_mut() {
                kconfig::fill(spec, bytes).map_err(setup)?;
            }
        }
        if let Some(bytes) = &initial {
            if !bytes.is_empty() {
                data.update_bytes(&0u32.to_ne_bytes(), bytes, 0)
                    .map_err(map_err)?;
            }
        }
        let freeze = matches!(
            &m.definition,
            MapDefinition::Data {
                kind: DataKind::Rodata,
                ..
            } | MapDefinition::Kconfig
        );
        if freeze {
            data.freeze().map_err(map_err)?;
        }
        if let Some(path) = &pin_path {
            data.pin(path).map_err(|source| LoadError::Pin {
                object: object.clone(),
                map: m.name.clone(),
                source,
            })?;
            new_pins.push(path.clone());
        }
        Ok(data)
    }

    /// Link and relocate one program: everything `BPF_PROG_LOAD` needs but the call.
    fn link_program(
        &self,
        ctx: &link::LinkContext<'_>,
        p: &ProgramSpec,
        kernel_btf: Option<&Btf<'_>>,
    ) -> Result<PreparedProgram, LoadError> {
        let object = &ctx.spec.name;
        let link_err = |reason: String| LoadError::Link {
            object: object.clone(),
            program: p.name.clone(),
            reason,
        };
        if !p.section.is_known() {
            return Err(link_err(format!(
                "section '{}' names no program type",
                p.section.name
            )));
        }
        let linked = link::link(ctx, p).map_err(link_err)?;
        let extension = self.extension_targets.iter().find(|(n, _, _)| *n == p.name);
        if p.section.program_type as u32 == sys::uapi::BPF_PROG_TYPE_EXT && extension.is_none() {
            return Err(link_err(
                "freplace program needs its target: Loader::extension_target".into(),
            ));
        }
        let attach_btf_id = if let Some((_, _, id)) = extension {
            Some(*id)
        } else if p.section.attach_btf {
            let target = p.section.attach_target.as_deref().unwrap_or_default();
            let kernel = kernel_btf
                .ok_or_else(|| link_err("attach target needs the kernel's BTF".into()))?;
            Some(
                attach_btf_id(kernel, p.section.kind.unwrap_or_default(), target).ok_or_else(
                    || {
                        link_err(format!(
                            "attach target '{target}' not found in the kernel's BTF"
                        ))
                    },
                )?,
            )
        } else {
            None
        };
        let func_info: Vec<u8> = linked
            .func_info
            .iter()
            .flat_map(|(off, id)| [off.to_ne_bytes(), id.to_ne_bytes()].concat())
            .collect();
        let line_info: Vec<u8> = linked
            .line_info
            .iter()
            .flat_map(|r| r.iter().flat_map(|w| w.to_ne_bytes()).collect::<Vec<u8>>())
            .collect();
        let license = CString::new(ctx.spec.license.clone()).unwrap_or_default();
        let mut flags = 0;
        if p.section.sleepable {
            flags |= sys::uapi::BPF_F_SLEEPABLE;
        }
        if p.section.xdp_frags {
            flags |= sys::uapi::BPF_F_XDP_HAS_FRAGS;
        }
        Ok(PreparedProgram {
            name: p.name.clone(),
            section: p.section.clone(),
            insns: linked.insns,
            func_info,
            line_info,
            license,
            prog_flags: flags,
            kern_version: ctx.spec.kernel_version.unwrap_or_else(kernel_version_code),
            attach_btf_id: attach_btf_id.unwrap_or(0),
            attach_btf_obj: extension.map(|(_, fd, _)| fd.clone()),
            ifindex: p.ifindex,
        })
    }
}

/// One program linked and relocated, ready for `BPF_PROG_LOAD`.
#[derive(Debug)]
struct PreparedProgram {
    name: String,
    section: bpfkit_obj::object::ProgramSection,
    insns: Vec<u64>,
    func_info: Vec<u8>,
    line_info: Vec<u8>,
    license: CString,
    prog_flags: u32,
    kern_version: u32,
    attach_btf_id: u32,
    attach_btf_obj: Option<std::sync::Arc<OwnedFd>>,
    /// `prog_ifindex`: the device the program is loaded for (0: the host).
    ifindex: u32,
}

/// An object prepared by [`Loader::prepare`]: maps created, BTF loaded, programs linked and
/// relocated, nothing loaded yet. Inspect it, then [`load`](Self::load) it.
#[derive(Debug)]
pub struct Prepared {
    object: String,
    maps: Vec<(String, MapData)>,
    btf_fd: Option<OwnedFd>,
    programs: Vec<PreparedProgram>,
    rodata_fd: Option<i32>,
    slots: Vec<(String, Vec<bpfkit_obj::object::InitialSlot>)>,
    not_loaded: Vec<String>,
    log_level: u32,
    new_pins: Vec<PathBuf>,
    token: Option<std::sync::Arc<crate::token::Token>>,
}

fn remove_pins(object: &str, pins: &mut Vec<PathBuf>) {
    for pin in pins.drain(..) {
        if let Err(e) = std::fs::remove_file(&pin) {
            log::warn!("object '{object}': removing pin {pin:?}: {e}");
        }
    }
}

impl Drop for Prepared {
    fn drop(&mut self) {
        // Not loaded (or the load failed): the pins this preparation created go again.
        remove_pins(&self.object, &mut self.new_pins);
    }
}

impl Prepared {
    /// The object's name.
    pub fn name(&self) -> &str {
        &self.object
    }

    /// The programs that [`load`](Self::load) will load, in object order.
    pub fn program_names(&self) -> impl Iterator<Item = &str> {
        self.programs.iter().map(|p| p.name.as_str())
    }

    /// A program's relocated instructions, as `BPF_PROG_LOAD` will receive them (map
    /// references hold the fds of [`map_fd`](Self::map_fd)).
    pub fn instructions(&self, program: &str) -> Option<&[u64]> {
        self.programs
            .iter()
            .find(|p| p.name == program)
            .map(|p| p.insns.as_slice())
    }

    /// A map's fd, created or reused from its pin.
    pub fn map_fd(&self, map: &str) -> Option<std::os::fd::BorrowedFd<'_>> {
        self.maps
            .iter()
            .find(|(n, _)| n == map)
            .map(|(_, m)| m.as_fd())
    }

    /// The object's BTF as the kernel holds it, if it was loaded.
    pub fn btf_fd(&self) -> Option<std::os::fd::BorrowedFd<'_>> {
        self.btf_fd.as_ref().map(|f| f.as_fd())
    }

    /// Load every prepared program (`BPF_PROG_LOAD`), fill the initial slots of program
    /// arrays and maps of maps, and hand over the [`Object`].
    pub fn load(mut self) -> Result<Object, LoadError> {
        let object = self.object.clone();
        let mut programs = Vec::new();
        for p in &self.programs {
            let fd = self.load_program(p)?;
            if let Some((_, rodata)) = self
                .rodata_fd
                .and_then(|fd| self.maps.iter().find(|(_, m)| m.as_fd().as_raw_fd() == fd))
            {
                if let Err(e) = sys::prog_bind_map(fd.as_fd(), rodata.as_fd()) {
                    log::debug!("program '{}': binding .rodata: {e}", p.name);
                }
            }
            programs.push(Program::new(p.name.clone(), p.section.clone(), fd));
        }
        let map_fds: HashMap<&str, i32> = self
            .maps
            .iter()
            .map(|(n, m)| (n.as_str(), m.as_fd().as_raw_fd()))
            .collect();
        let maps = &self.maps;
        for (map_name, slots) in &self.slots {
            let Some((_, map)) = maps.iter().find(|(n, _)| n == map_name) else {
                continue;
            };
            for slot in slots {
                let fd = match &slot.value {
                    SlotValue::Program(name) => programs
                        .iter()
                        .find(|p| p.name() == name)
                        .map(|p| p.fd().as_raw_fd()),
                    SlotValue::Map(name) => map_fds.get(name.as_str()).copied(),
                };
                if fd.is_none()
                    && matches!(&slot.value, SlotValue::Program(name) if self.not_loaded.contains(name))
                {
                    log::debug!(
                        "map '{map_name}': slot {} left empty: its program is not loaded",
                        slot.index
                    );
                    continue;
                }
                let fd = fd.ok_or_else(|| LoadError::MapSetup {
                    object: object.clone(),
                    map: map_name.clone(),
                    reason: format!("initial slot {} names an unknown object", slot.index),
                })?;
                map.update_bytes(&slot.index.to_ne_bytes(), &(fd as u32).to_ne_bytes(), 0)
                    .map_err(|source| LoadError::Map {
                        object: object.clone(),
                        map: map_name.clone(),
                        source,
                    })?;
            }
        }
        // Loaded: the pins belong to the object now.
        self.new_pins.clear();
        let maps = std::mem::take(&mut self.maps);
        let btf_fd = self.btf_fd.take();
        Ok(Object::new(object, maps, programs, btf_fd))
    }

    fn load_program(&self, p: &PreparedProgram) -> Result<OwnedFd, LoadError> {
        let with_btf = self.btf_fd.is_some();
        let attr = ProgLoadAttr {
            prog_type: p.section.program_type as u32,
            insns: &p.insns,
            license: &p.license,
            name: &p.name,
            expected_attach_type: p.section.expected_attach_type.map_or(0, |a| a as u32),
            prog_flags: p.prog_flags,
            kern_version: p.kern_version,
            prog_btf_fd: self.btf_fd.as_ref().map(|f| f.as_fd()),
            attach_btf_id: p.attach_btf_id,
            attach_btf_obj_fd: p.attach_btf_obj.as_deref().map(|fd| fd.as_fd()),
            func_info: if with_btf { &p.func_info } else { &[] },
            func_info_rec_size: 8,
            line_info: if with_btf { &p.line_info } else { &[] },
            line_info_rec_size: 16,
            log_level: self.log_level,
            token_fd: self.token.as_deref().map(|t| t.as_fd()),
            prog_ifindex: p.ifindex,
            ..Default::default()
        };
        let result = features::retry_after_memlock(
            |e: &ProgLoadError| e.source.errno(),
            || sys::prog_load(&attr),
        );
        result
            .map(|(fd, _log)| fd)
            .map_err(|source| LoadError::Program {
                object: self.object.clone(),
                program: p.name.clone(),
                hint: if source.source.errno() == Some(libc::EPERM)
                    && self.token.is_none()
                    && features::memlock_hint().is_some()
                {
                    Some(MEMLOCK_HINT)
                } else if p.ifindex != 0
                    && matches!(source.source.errno(), Some(libc::EINVAL | libc::EOPNOTSUPP))
                {
                    Some(DEVICE_HINT)
                } else {
                    load_hint(&p.section, source.source.errno(), self.token.is_some())
                },
                requires: load_requires(&p.section, source.source.errno(), &source.verifier_log),
                source: Box::new(source),
            })
    }
}

/// The hint of an EPERM that [`features::memlock_hint`] attributes to `RLIMIT_MEMLOCK`.
const MEMLOCK_HINT: &str = "RLIMIT_MEMLOCK is too low and could not be raised (that needs \
    CAP_SYS_RESOURCE): kernels before 5.11 charge BPF memory to it; raise it before starting \
    (`ulimit -l unlimited`)";

/// The hint of an EINVAL or EOPNOTSUPP for a program loaded for a device.
const DEVICE_HINT: &str = "the program is loaded for a network device \
    (Loader::program_ifindex): the device must exist and offload BPF programs";

/// What an errno usually means for a program of this kind (only where it is known).
fn load_hint(
    section: &bpfkit_obj::object::ProgramSection,
    errno: Option<i32>,
    with_token: bool,
) -> Option<&'static str> {
    use bpfkit_obj::object::ProgramType as T;
    match (section.program_type, errno) {
        (_, Some(libc::EPERM)) if with_token => Some(
            "the BPF token's bpffs does not delegate this program or attach type \
             (delegate_cmds=prog_load, delegate_progs, delegate_attachs)",
        ),
        (T::Tracing | T::Lsm | T::Ext | T::StructOps, Some(libc::EPERM)) => Some(
            "trampoline programs (fentry/fexit/fmod_ret/lsm/freplace) were refused: \
             ftrace may be locked down (lockdown=confidentiality) or CAP_BPF/CAP_PERFMON missing",
        ),
        (_, Some(libc::EPERM)) if crate::caps::in_initial_user_namespace() == Some(false) => {
            Some(crate::caps::USER_NAMESPACE_HINT)
        }
        (_, Some(libc::EPERM)) => {
            Some("loading needs CAP_BPF (with CAP_PERFMON for tracing) or root")
        }
        _ => None,
    }
}

/// The feature an errno usually means is missing for a program of this kind.
fn load_requires(
    section: &bpfkit_obj::object::ProgramSection,
    errno: Option<i32>,
    verifier_log: &str,
) -> Option<crate::features::Feature> {
    use bpfkit_obj::object::ProgramType as T;
    if errno == Some(libc::EINVAL) {
        if let Some(feature) = unknown_helper_feature(verifier_log) {
            return Some(feature);
        }
    }
    match (section.program_type, errno) {
        (T::Kprobe, Some(libc::EINVAL)) if section.kind.is_some_and(|k| k.contains("multi")) => {
            Some(crate::features::Feature::new(
                "kprobe.multi programs (CONFIG_FPROBE)",
                "5.18",
            ))
        }
        // A program type the kernel does not have (SYSCALL before 5.14, ...): EINVAL with no
        // verifier log. The probe, not the version, decides.
        (prog_type, Some(libc::EINVAL))
            if features::program_type_support(prog_type) == features::Support::Unsupported =>
        {
            use crate::programs::ProgramTypeExt as _;
            Some(prog_type.feature())
        }
        _ => None,
    }
}

/// The feature of a helper the verifier did not know (`call unknown#N`, `invalid func
/// unknown#N`), for the helpers bpfkit has a probe of, when that probe finds it missing.
fn unknown_helper_feature(verifier_log: &str) -> Option<crate::features::Feature> {
    let at = verifier_log.find("unknown#")? + "unknown#".len();
    let digits: String = verifier_log[at..]
        .chars()
        .take_while(char::is_ascii_digit)
        .collect();
    let probe = match digits.parse::<u32>().ok()? {
        crate::sys::uapi::BPF_FUNC_get_attach_cookie => Probe::BpfCookie,
        _ => return None,
    };
    (features::support(probe) == features::Support::Unsupported).then(|| probe.feature())
}

/// The BTF id of an attach target as libbpf finds it for each section kind.
fn attach_btf_id(kernel: &Btf<'_>, kind: &str, target: &str) -> Option<u32> {
    use bpfkit_obj::btf::Kind;
    match kind {
        "tp_btf" => kernel.id_by_name_kind(&format!("btf_trace_{target}"), Kind::Typedef),
        k if k.starts_with("lsm") => {
            kernel.id_by_name_kind(&format!("bpf_lsm_{target}"), Kind::Func)
        }
        k if k.starts_with("iter") => {
            kernel.id_by_name_kind(&format!("bpf_iter_{target}"), Kind::Func)
        }
        _ => kernel.id_by_name_kind(target, Kind::Func),
    }
}

/// `LINUX_VERSION_CODE` of the running kernel, from uname's release.
pub(crate) fn kernel_version_code() -> u32 {
    // SAFETY: an all-zero utsname is a valid out-parameter for uname(2).
    let mut u: libc::utsname = unsafe { std::mem::zeroed() };
    // SAFETY: `u` is a live out-parameter.
    if unsafe { libc::uname(&mut u) } != 0 {
        return 0;
    }
    let release: String = u
        .release
        .iter()
        .take_while(|&&c| c != 0)
        .map(|&c| c as u8 as char)
        .collect();
    let mut parts = release
        .split(|c: char| !c.is_ascii_digit())
        .filter(|s| !s.is_empty())
        .map(|s| s.parse::<u32>().unwrap_or(0));
    let (a, b, c) = (
        parts.next().unwrap_or(0),
        parts.next().unwrap_or(0),
        parts.next().unwrap_or(0),
    );
    (a << 16) + (b << 8) + c.min(255)
}
