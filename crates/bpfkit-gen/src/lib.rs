//! Generate Rust type definitions from BTF, for eBPF programs and their loaders.
//!
//! Pure Rust: no bindgen, no clang, no bpftool. [`Generator`] takes BTF bytes (the
//! kernel's `/sys/kernel/btf/vmlinux`, or an object's `.BTF` blob) and the names of the
//! types you want, and writes Rust source for them and for everything they reach: structs,
//! unions, enums (32 and 64-bit), typedefs, arrays, flexible arrays, function pointers,
//! anonymous members, bitfields and packed layouts.
//!
//! The output is `no_std`-compatible (only `::core` paths) and checks itself: every type's
//! size and every member's offset is a compile-time assertion against the BTF, so a file
//! that compiles has the kernel's layout.
//!
//! Two flavours ([`Flavour`]):
//! - [`Flavour::Kernel`] for eBPF programs: pointers are typed raw pointers, and every struct
//!   and union is `#[repr(C)]` with the kernel's type and member names (keywords as raw
//!   identifiers, so `r#type` is still `type` in debug info). That is what bpfkit-link's CO-RE
//!   markers (`bpfkit_ebpf::core_read!`) need to turn a member access into a relocation:
//!   fields are found by name in the running kernel, not at these offsets.
//! - [`Flavour::Userspace`] for loaders: kernel pointers are `u64`, so records copied out of
//!   the kernel have the same layout on any 64-bit host.
//!
//! From a build script:
//!
//! ```no_run
//! # fn main() -> Result<(), bpfkit_gen::GenError> {
//! let out = std::path::PathBuf::from(std::env::var("OUT_DIR").unwrap()).join("vmlinux.rs");
//! bpfkit_gen::Generator::from_file("/sys/kernel/btf/vmlinux")?
//!     .types(["task_struct", "trace_event_raw_sys_enter"])
//!     .module_attributes(false)
//!     .write_to(&out)?;
//! # Ok(()) }
//! ```
//!
//! ([`build::kernel_types`]`(["task_struct"])` is that in one call; [`build`] also has the
//! userspace side's one call, feature `build`: the eBPF crate built and its skeleton
//! generated), and in the kernel crate, `bpfkit_ebpf::generated_types!` includes the file
//! as a module with the lints kernel names trip allowed (hence
//! [`Generator::module_attributes`]`(false)`: an included file cannot carry inner
//! attributes):
//!
//! ```ignore
//! bpfkit_ebpf::generated_types!(mod vmlinux = "vmlinux.rs");
//! ```
//!
//! `testdata/rust-ebpf/gen-types` in the repository is such a program: it reads a tracepoint
//! record by field name and `task_struct` members through CO-RE.
//!
//! Naming rules (deterministic: the same BTF and names give the same bytes):
//! - anonymous struct/union/enum types are `__anon_<parent>_<n>` (n counts the anonymous types
//!   of that parent from 1), anonymous members are `__anon_<n>` (bpfkit-link makes such
//!   members anonymous again in the program's BTF, so a CO-RE path through one, such as
//!   `mm_struct` → `__anon_1` → `start_stack`, matches the kernel's anonymous member);
//! - a type whose name is taken by an earlier one (two `struct foo` from different compilation
//!   units, `struct foo` and `union foo`, a `typedef foo` of something else) gets a `___<n>`
//!   suffix, which libbpf's CO-RE ignores when matching kernel names; a `typedef struct foo
//!   foo` is the struct itself, and typedefs named like a Rust primitive (`u8`, `u32`) are
//!   replaced by the primitive;
//! - enums are `#[repr(transparent)]` newtypes over their integer with associated constants,
//!   because kernel enums have duplicate values and values outside the list;
//! - bitfields are stored as byte arrays `_bitfield_<byte offset>` with a getter `name()` and
//!   a setter `set_name(v)`; gaps are `_pad_<byte offset>` byte arrays; in the kernel
//!   flavour each struct bitfield also gets a zero-sized member `name:
//!   __bpfcore_bitfield<T, BIT, WIDTH>` after its storage, which bpfkit-link makes a real
//!   bitfield member of the program's BTF (and drops the storage and padding), so
//!   `bpfkit_ebpf::core_read_bitfield!(task, name)` relocates it as clang would;
//! - kernel-flavour enums also carry `__BPFCORE_ENUMERATORS` (`"NAME=value,…"` in BTF order),
//!   from which bpfkit-link writes the enum type of `bpfkit_ebpf::core_enum_value!`;
//! - a flexible array member `name: [T; 0]` gets `unsafe fn name_at(&self, index) -> T`;
//! - function pointers are `*mut c_void` (kernel) or `u64` (userspace): no function is ever
//!   called through a kernel pointer, and the size is that of the target's pointer.
//!
//! [`Skeleton`] builds on the userspace flavour: a typed skeleton of one BPF object (maps with
//! their key and value types, global sections as structs, programs by name, `attach_all`),
//! for build.rs or `bpfkit gen skel`, whose users write no `unsafe`:
//! [`Generator::pod_impls`] gives the generated types `bpfkit::maps::Pod` with compile-time
//! proofs of their layout.
//!
//! Bitfield accessors are generated for little-endian BTF (bpfel, x86_64 and arm64 kernels);
//! from big-endian BTF the bitfields keep their storage bytes but get no accessors.

pub mod build;
mod collect;
mod emit;
mod layout;
mod names;
mod skel;

pub use skel::Skeleton;

use std::path::{Path, PathBuf};

use bpfkit_obj::btf::{Btf, BtfError};

/// Which side of the program the generated types are for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Flavour {
    /// eBPF programs (`bpfel-unknown-none`): raw pointers, kernel names for CO-RE.
    #[default]
    Kernel,
    /// Userspace loaders: kernel pointers as `u64`.
    Userspace,
}

/// What went wrong generating types.
#[derive(Debug, thiserror::Error)]
pub enum GenError {
    /// The BTF could not be parsed or is inconsistent.
    #[error("BTF")]
    Btf(#[from] BtfError),
    /// A requested name is no struct, union, enum or typedef of the BTF.
    #[error("no struct, union, enum or typedef named `{name}` in the BTF")]
    UnknownType {
        /// The name asked for.
        name: String,
    },
    /// No type was requested.
    #[error("no types requested: name at least one type, or ask for all of them")]
    NoTypes,
    /// A BTF type of a kind that cannot be a value (a function, a variable) was reached.
    #[error("BTF type id {id} is a {kind}, which has no Rust value type")]
    NotAValueType {
        /// The type id.
        id: u32,
        /// Its BTF kind.
        kind: bpfkit_obj::btf::Kind,
    },
    /// A type reached while emitting was never named: a bpfkit-gen bug, please report it.
    #[error("BTF type id {id} has no generated name (a bpfkit-gen bug)")]
    Unnamed {
        /// The type id.
        id: u32,
    },
    /// An ELF object was given but it has no usable `.BTF` section.
    #[error("ELF object: {reason}")]
    Elf {
        /// What is wrong with it.
        reason: String,
    },
    /// The BTF file could not be read.
    #[error("reading BTF from {path}")]
    Read {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// The output could not be written.
    #[error("writing {path}")]
    Write {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
}

/// BTF → Rust source generator. Configure with the builder methods, then call
/// [`generate`](Self::generate) or [`write_to`](Self::write_to).
///
/// ```no_run
/// # fn main() -> Result<(), bpfkit_gen::GenError> {
/// let btf = std::fs::read("/sys/kernel/btf/vmlinux").unwrap();
/// let source = bpfkit_gen::Generator::new(btf)
///     .flavour(bpfkit_gen::Flavour::Userspace)
///     .types(["task_struct"])
///     .generate()?;
/// assert!(source.contains("pub struct task_struct"));
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct Generator {
    btf: Vec<u8>,
    base: Option<Vec<u8>>,
    names: Vec<String>,
    most_referenced: usize,
    all: bool,
    flavour: Flavour,
    module_attributes: bool,
    pod: bool,
}

impl Generator {
    /// A generator over BTF bytes: raw BTF (a `/sys/kernel/btf/*` file, an object's `.BTF`
    /// section) or an ELF object, whose `.BTF` section is used.
    pub fn new(btf: impl Into<Vec<u8>>) -> Self {
        Self {
            btf: btf.into(),
            base: None,
            names: Vec::new(),
            most_referenced: 0,
            all: false,
            flavour: Flavour::Kernel,
            module_attributes: true,
            pod: false,
        }
    }

    /// A generator over the raw BTF file or ELF object at `path`.
    pub fn from_file(path: impl AsRef<Path>) -> Result<Self, GenError> {
        let path = path.as_ref();
        let bytes = std::fs::read(path).map_err(|source| GenError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        Ok(Self::new(bytes))
    }

    /// Reads the BTF as split BTF on top of `base` (a kernel module's `/sys/kernel/btf/<module>`
    /// on `/sys/kernel/btf/vmlinux`): module types and the base types they reach are
    /// generated.
    pub fn base(mut self, base: impl Into<Vec<u8>>) -> Self {
        self.base = Some(base.into());
        self
    }

    /// Like [`base`](Self::base), reading the base BTF from `path`.
    pub fn base_from_file(self, path: impl AsRef<Path>) -> Result<Self, GenError> {
        let path = path.as_ref();
        let bytes = std::fs::read(path).map_err(|source| GenError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        Ok(self.base(bytes))
    }

    /// Adds types to generate, by name. A plain name takes every struct, union, enum and
    /// typedef of that name; `struct foo`, `union foo`, `enum foo` and `typedef foo` take
    /// only that kind.
    pub fn types<I, S>(mut self, names: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.names.extend(names.into_iter().map(Into::into));
        self
    }

    /// Adds the `n` named structs and unions that members of other structs and unions
    /// refer to most (directly or through pointers, arrays and typedefs): the kernel's
    /// everyday types (`list_head`, `spinlock`, `task_struct`, …).
    pub fn most_referenced(mut self, n: usize) -> Self {
        self.most_referenced = n;
        self
    }

    /// Generates every named struct, union, enum and typedef of the BTF (all of vmlinux).
    pub fn all_types(mut self) -> Self {
        self.all = true;
        self
    }

    /// Kernel-side (default) or userspace types.
    pub fn flavour(mut self, flavour: Flavour) -> Self {
        self.flavour = flavour;
        self
    }

    /// Whether the output starts with `#![allow(…)]` for the lints kernel names trip
    /// (default true: the file is a module). Turn off to `include!` the file.
    pub fn module_attributes(mut self, on: bool) -> Self {
        self.module_attributes = on;
        self
    }

    /// Whether userspace types get `unsafe impl ::bpfkit::maps::Pod` (default false), so
    /// they can be map keys and values without any `unsafe` in the user's code. Only types
    /// whose layout has no implicit padding get one, and each impl is followed by
    /// compile-time assertions of that (every field `Pod`, field sizes adding up to the
    /// type's). The output then needs the `bpfkit` crate. Ignored for [`Flavour::Kernel`].
    pub fn pod_impls(mut self, on: bool) -> Self {
        self.pod = on;
        self
    }

    /// The Rust source.
    pub fn generate(&self) -> Result<String, GenError> {
        let base = match &self.base {
            Some(bytes) => Some(Btf::parse(btf_section(bytes)?)?),
            None => None,
        };
        let data = btf_section(&self.btf)?;
        let btf = match &base {
            Some(base) => Btf::parse_split(data, base)?,
            None => Btf::parse(data)?,
        };
        let roots = if self.all {
            collect::all_roots(&btf)?
        } else {
            if self.names.is_empty() && self.most_referenced == 0 {
                return Err(GenError::NoTypes);
            }
            let mut roots = collect::most_referenced(&btf, self.most_referenced)?;
            for name in &self.names {
                roots.extend(collect::roots_named(&btf, name)?);
            }
            roots
        };
        // Userspace pointers are plain integers: their targets are not needed.
        let set = collect::reachable(&btf, &roots, self.flavour == Flavour::Kernel)?;
        let naming = names::assign(&btf, &set)?;
        emit::emit(
            &btf,
            &set,
            &naming,
            emit::Options {
                flavour: self.flavour,
                module_attributes: self.module_attributes,
                pod: self.pod,
            },
        )
    }

    /// Generates and writes the source to `path` (only when it changed, so a build script
    /// does not trigger needless rebuilds).
    pub fn write_to(&self, path: impl AsRef<Path>) -> Result<(), GenError> {
        let path = path.as_ref();
        let source = self.generate()?;
        if std::fs::read(path).is_ok_and(|old| old == source.as_bytes()) {
            return Ok(());
        }
        std::fs::write(path, source).map_err(|source| GenError::Write {
            path: path.to_path_buf(),
            source,
        })
    }
}

/// The BTF inside `bytes`: all of it, or an ELF object's `.BTF` section.
fn btf_section(bytes: &[u8]) -> Result<&[u8], GenError> {
    use object::{Object, ObjectSection};
    if !bytes.starts_with(b"\x7fELF") {
        return Ok(bytes);
    }
    let elf = |reason: String| GenError::Elf { reason };
    let file = object::File::parse(bytes).map_err(|e| elf(e.to_string()))?;
    let section = file
        .section_by_name(".BTF")
        .ok_or_else(|| elf("no .BTF section".into()))?;
    section.data().map_err(|e| elf(format!(".BTF: {e}")))
}
