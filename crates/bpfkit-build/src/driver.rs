//! Compiling an eBPF crate from a build script: the nested `cargo build` with its flags,
//! environment and target directory, and where the resulting objects are found.

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use crate::link::Cpu;
use crate::toolchain::{Toolchain, ToolchainError, LLVM_TOOLS_DIR_ENV};

/// Environment variable: the linker binary to use instead of building `bpfkit-link`.
pub const LINKER_ENV: &str = "BPFKIT_LINK";
/// Environment variable: the target directory shared by every eBPF crate build.
pub const TARGET_DIR_ENV: &str = "BPFKIT_EBPF_TARGET_DIR";
/// Environment variable: the build route, `donor` (default) or `bpfel`.
pub const ROUTE_ENV: &str = "BPFKIT_ROUTE";

/// The cfg every eBPF crate is compiled with, on both routes (`#[cfg(bpfkit_ebpf)]`):
/// `target_arch = "bpf"` holds only on the bpfel route.
pub const EBPF_CFG: &str = "bpfkit_ebpf";

/// How Rust code becomes BPF code.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Route {
    /// `cargo build --target bpfel-unknown-none -Z build-std=core` with
    /// `RUSTC_BOOTSTRAP=1`: `core` compiled for BPF from rust-src. Selected with
    /// `BPFKIT_ROUTE=bpfel`; big-endian builds (`bpfeb`) always take it.
    Bpfel,
    /// The default, plain stable: the crate is compiled for the donor target
    /// `riscv64imac-unknown-none-elf` with `-C linker-plugin-lto`; the linker takes
    /// rustup's prebuilt `core` bitcode and retargets the module to BPF
    /// ([`crate::link::retarget`]). No `-Z`, no rust-src; the nested cargo runs with
    /// `RUSTC_BOOTSTRAP=-1`, so the toolchain itself refuses anything unstable. The
    /// donor target is installed through rustup when missing (announced; opt-out
    /// `BPFKIT_NO_AUTO_INSTALL`).
    #[default]
    Donor,
}

impl Route {
    /// Parses `bpfel` or `donor`.
    pub fn parse(value: &str) -> Option<Self> {
        match value {
            "bpfel" => Some(Self::Bpfel),
            "donor" => Some(Self::Donor),
            _ => None,
        }
    }

    /// The route named by `BPFKIT_ROUTE` (default [`Route::Donor`]).
    pub fn from_env() -> Result<Self, BuildError> {
        match std::env::var(ROUTE_ENV) {
            Err(_) => Ok(Self::default()),
            Ok(v) if v.is_empty() => Ok(Self::default()),
            Ok(v) => Self::parse(&v).ok_or(BuildError::UnknownRoute { value: v }),
        }
    }

    /// The name `BPFKIT_ROUTE` takes.
    pub fn name(self) -> &'static str {
        match self {
            Self::Bpfel => "bpfel",
            Self::Donor => "donor",
        }
    }
}

/// Why an eBPF crate could not be built.
#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    /// The toolchain lacks a component or cannot be queried.
    #[error(transparent)]
    Toolchain(#[from] ToolchainError),
    /// `BPFKIT_ROUTE` names no route.
    #[error("unknown BPFKIT_ROUTE `{value}` (expected `bpfel` or `donor`)")]
    UnknownRoute {
        /// The value given.
        value: String,
    },
    /// The donor target is little-endian: it cannot produce big-endian BPF.
    #[error("the donor route builds little-endian BPF only; build bpfeb with BPFKIT_ROUTE=bpfel")]
    DonorBigEndian,
    /// The eBPF crate has no Cargo.toml.
    #[error("no eBPF crate at {}: {} does not exist", dir.display(), dir.join("Cargo.toml").display())]
    NoCrate {
        /// The directory given.
        dir: PathBuf,
    },
    /// cargo could not be started.
    #[error("cannot run `{cargo}`")]
    CargoNotRunnable {
        /// The cargo binary.
        cargo: String,
        /// What the OS reported.
        #[source]
        source: std::io::Error,
    },
    /// The nested cargo build failed.
    #[error("building the eBPF crate {} failed ({status}):\n{stderr}", dir.display())]
    CargoFailed {
        /// The eBPF crate.
        dir: PathBuf,
        /// cargo's exit status.
        status: String,
        /// cargo's diagnostics (including the linker's errors).
        stderr: String,
    },
    /// Building `bpfkit-link` itself failed.
    #[error("building the bpfkit-link linker from {} failed ({status}):\n{stderr}", manifest.display())]
    LinkerBuildFailed {
        /// The manifest built.
        manifest: PathBuf,
        /// cargo's exit status or what was missing.
        status: String,
        /// cargo's diagnostics.
        stderr: String,
    },
    /// The build produced no BPF object.
    #[error("the eBPF crate {} produced no binary target (it needs a `src/main.rs` with `#![no_main]`)", dir.display())]
    NoObject {
        /// The eBPF crate.
        dir: PathBuf,
    },
    /// `llvm-objcopy --strip-debug` failed.
    #[error("cannot strip the DWARF of {}: {reason}", object.display())]
    StripFailed {
        /// The object.
        object: PathBuf,
        /// What went wrong.
        reason: String,
    },
    /// The eBPF crate's `[package.metadata.bpfkit]` could not be read.
    #[error("cannot read [package.metadata.bpfkit] of {}: {reason}", manifest.display())]
    Metadata {
        /// The eBPF crate's manifest.
        manifest: PathBuf,
        /// What went wrong.
        reason: String,
    },
    /// Copying the object into `OUT_DIR` failed.
    #[error("cannot copy {} to {}", from.display(), to.display())]
    Copy {
        /// The object.
        from: PathBuf,
        /// The destination.
        to: PathBuf,
        /// What the OS reported.
        #[source]
        source: std::io::Error,
    },
}

/// The byte order of the BPF target.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Endianness {
    /// `bpfel-unknown-none` (x86_64, aarch64 hosts).
    #[default]
    Little,
    /// `bpfeb-unknown-none` (s390x and other big-endian hosts).
    Big,
}

impl Endianness {
    /// The rustc target triple.
    pub fn target(self) -> &'static str {
        match self {
            Self::Little => "bpfel-unknown-none",
            Self::Big => "bpfeb-unknown-none",
        }
    }
}

/// One BPF object produced by a build.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EbpfObject {
    /// The binary target's name.
    pub name: String,
    /// The object in the eBPF target directory.
    pub path: PathBuf,
}

/// A build of one eBPF crate (a `#![no_std] #![no_main]` binary crate).
///
/// ```no_run
/// // build.rs of a userspace crate
/// let objects = bpfkit_build::EbpfBuild::new("../myprog-ebpf").build().unwrap();
/// assert_eq!(objects[0].name, "myprog");
/// ```
#[derive(Debug, Clone)]
pub struct EbpfBuild {
    crate_dir: PathBuf,
    endianness: Endianness,
    route: Option<Route>,
    cpu: Option<Cpu>,
    target_dir: Option<PathBuf>,
    linker: Option<PathBuf>,
    toolchain: Option<Toolchain>,
    features: Vec<String>,
    core_debug_info: bool,
    strip_dwarf: bool,
    quiet: bool,
    misaligned_mem_access: Option<bool>,
}

impl EbpfBuild {
    /// A release build of the crate in `crate_dir` for little-endian BPF.
    pub fn new(crate_dir: impl Into<PathBuf>) -> Self {
        Self {
            crate_dir: crate_dir.into(),
            endianness: Endianness::Little,
            route: None,
            cpu: None,
            target_dir: None,
            linker: None,
            toolchain: None,
            features: Vec::new(),
            core_debug_info: false,
            strip_dwarf: false,
            quiet: false,
            misaligned_mem_access: None,
        }
    }

    /// Builds for the given byte order.
    pub fn endianness(mut self, endianness: Endianness) -> Self {
        self.endianness = endianness;
        self
    }

    /// The route (default: `BPFKIT_ROUTE`, else [`Route::Donor`]; big-endian builds take
    /// [`Route::Bpfel`] unless the donor route is asked for here, which is then an error).
    pub fn route(mut self, route: Route) -> Self {
        self.route = Some(route);
        self
    }

    /// The BPF instruction set (`-C target-cpu`; default v3).
    pub fn cpu(mut self, cpu: Cpu) -> Self {
        self.cpu = Some(cpu);
        self
    }

    /// The target directory (default: `$BPFKIT_EBPF_TARGET_DIR`, else `bpfkit-ebpf/` in the
    /// calling build's target directory, else `target/` in the eBPF crate). Share one
    /// between crates so `core` is compiled once.
    pub fn target_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.target_dir = Some(dir.into());
        self
    }

    /// The `bpfkit-link` binary (default: `$BPFKIT_LINK`, else built from this crate's sources).
    pub fn linker(mut self, linker: impl Into<PathBuf>) -> Self {
        self.linker = Some(linker.into());
        self
    }

    /// The toolchain (default: [`Toolchain::detect`]).
    pub fn toolchain(mut self, toolchain: Toolchain) -> Self {
        self.toolchain = Some(toolchain);
        self
    }

    /// Cargo features of the eBPF crate to enable.
    pub fn features(mut self, features: impl IntoIterator<Item = impl Into<String>>) -> Self {
        self.features.extend(features.into_iter().map(Into::into));
        self
    }

    /// Keep debug info for `core` (default off: linking is ~5x faster and the program's own
    /// types still get BTF).
    pub fn core_debug_info(mut self, keep: bool) -> Self {
        self.core_debug_info = keep;
        self
    }

    /// Also write a copy of each object without DWARF sections (`<name>.stripped` beside it,
    /// which [`EbpfObject::path`] then names), keeping `.BTF` and `.BTF.ext`: a much smaller
    /// object to embed, the same program in the kernel.
    pub fn strip_dwarf(mut self, strip: bool) -> Self {
        self.strip_dwarf = strip;
        self
    }

    /// Read and write memory outside the stack and the context (packet, map values, globals)
    /// with word accesses whatever its alignment (default: the eBPF crate's
    /// `[package.metadata.bpfkit] misaligned-mem-access`, else off).
    ///
    /// Off, the BPF backend splits every access below its size's alignment into byte
    /// accesses plus shifts: the packet headers of `bpfkit_ebpf::net` (alignment 1, so any
    /// packet offset is sound) read a 16-byte IPv6 address with 16 loads where C reads 4
    /// words. On, the linker gives those accesses natural alignment before `llc`. The verifier
    /// accepts misaligned packet and map value accesses on architectures with efficient
    /// unaligned access (x86, arm64, ppc64, s390) unless a program is loaded with
    /// `BPF_F_STRICT_ALIGNMENT`; elsewhere such a program is refused at load. Stack and
    /// context accesses keep their real alignment (the verifier checks them on every
    /// architecture), so a program that opts in verifies where it did before on those
    /// architectures.
    pub fn misaligned_mem_access(mut self, allow: bool) -> Self {
        self.misaligned_mem_access = Some(allow);
        self
    }

    /// Hide cargo's progress output (diagnostics are still shown).
    pub fn quiet(mut self, quiet: bool) -> Self {
        self.quiet = quiet;
        self
    }

    /// Builds the crate and returns one object per binary target. Cargo's progress and the
    /// compiler's warnings go to stderr.
    pub fn build(&self) -> Result<Vec<EbpfObject>, BuildError> {
        let built = self.build_capturing()?;
        eprint!("{}", built.stderr);
        Ok(built.objects)
    }

    /// [`EbpfBuild::build`], returning cargo's stderr (progress and rendered warnings)
    /// instead of printing it, with the route and target it used.
    fn build_capturing(&self) -> Result<Captured, BuildError> {
        let manifest = self.crate_dir.join("Cargo.toml");
        if !manifest.is_file() {
            return Err(BuildError::NoCrate {
                dir: self.crate_dir.clone(),
            });
        }
        // One spelling of the path, so builds reaching the crate through different
        // relative paths share cargo's fingerprints instead of rebuilding each other.
        let manifest = std::fs::canonicalize(&manifest).unwrap_or(manifest);
        // A toolchain given by the caller is only checked; the one found through rustc gets
        // its missing rustup components installed (announced), so a fresh machine with only
        // rustup's default profile builds without a manual step.
        let route = match self.route {
            Some(route) => {
                if route == Route::Donor && self.endianness == Endianness::Big {
                    return Err(BuildError::DonorBigEndian);
                }
                route
            }
            // The donor is little-endian: big-endian builds stay on bpfel whatever the
            // environment asks for all builds.
            None if self.endianness == Endianness::Big => Route::Bpfel,
            None => Route::from_env()?,
        };
        let toolchain = match (&self.toolchain, route) {
            (Some(t), Route::Bpfel) => {
                t.check_components()?;
                t.clone()
            }
            (Some(t), Route::Donor) => {
                t.check_donor_components()?;
                t.clone()
            }
            (None, Route::Bpfel) => {
                let t = Toolchain::detect()?;
                t.ensure_components()?;
                t
            }
            (None, Route::Donor) => {
                let t = Toolchain::detect()?;
                t.ensure_donor_components()?;
                t
            }
        };
        let target_dir = self.target_dir.clone().unwrap_or_else(|| {
            std::env::var_os(TARGET_DIR_ENV)
                .map(PathBuf::from)
                .unwrap_or_else(|| default_target_dir(&self.crate_dir))
        });
        let linker = match &self.linker {
            Some(l) => l.clone(),
            None => match std::env::var_os(LINKER_ENV) {
                Some(l) => PathBuf::from(l),
                None => build_linker(&target_dir, &toolchain)?,
            },
        };

        let triple = match route {
            Route::Bpfel => self.endianness.target(),
            Route::Donor => crate::link::retarget::DONOR_TARGET,
        };
        let misaligned = match self.misaligned_mem_access {
            Some(allow) => allow,
            None => manifest_misaligned_mem_access(&manifest)?,
        };
        let mut cmd = Command::new(cargo());
        scrub_host_env(&mut cmd);
        cmd.arg("build")
            .arg("--release")
            .arg("--target")
            .arg(triple);
        if route == Route::Bpfel {
            cmd.arg("-Z").arg("build-std=core");
        }
        cmd.arg("--message-format=json-render-diagnostics")
            .arg("--manifest-path")
            .arg(&manifest)
            .arg("--target-dir")
            .arg(&target_dir);
        if !self.features.is_empty() {
            cmd.arg("--features").arg(self.features.join(","));
        }
        if self.quiet {
            cmd.arg("--quiet");
        }
        // `--config` outranks environment variables and config files for single values
        // (a project's `.cargo/config.toml` may name another BPF linker); arrays would be
        // merged instead, so rustflags go through CARGO_ENCODED_RUSTFLAGS, which replaces
        // every other source of flags.
        let mut config = vec![
            "profile.release.panic=\"abort\"".to_string(),
            "profile.release.debug=2".to_string(),
            "profile.release.codegen-units=1".to_string(),
            format!("target.{triple}.linker={}", toml_string(&linker)),
        ];
        // The donor's `core` is prebuilt: there is no package `core` to configure.
        if !self.core_debug_info && route == Route::Bpfel {
            for package in ["core", "compiler_builtins"] {
                config.push(format!("profile.release.package.{package}.debug=0"));
            }
        }
        for entry in config {
            cmd.arg("--config").arg(entry);
        }
        cmd.env(
            "CARGO_ENCODED_RUSTFLAGS",
            rustflags(route, self.cpu, misaligned).join("\x1f"),
        );
        // Probe contexts read `struct pt_regs` of the machine the program will run on:
        // from a build script, that is the target of the crate being built (a cross
        // build for aarch64 on x86_64 gets aarch64 registers), unless the caller chose.
        if let Some(arch) = probe_arch_for_target() {
            cmd.env(TARGET_ARCH_ENV, arch);
        }
        cmd.env("RUSTC", &toolchain.rustc)
            .env(LLVM_TOOLS_DIR_ENV, toolchain.llvm_tools().dir);
        match route {
            Route::Bpfel => cmd.env("RUSTC_BOOTSTRAP", "1"),
            // Plain stable, enforced: `-1` makes rustc and cargo refuse every `-Z` flag and
            // unstable feature even on a nightly toolchain (and replaces a `1` the caller's
            // environment may carry), so every donor build that succeeds is a stable-only one.
            Route::Donor => cmd.env("RUSTC_BOOTSTRAP", "-1"),
        };
        cmd.stdout(Stdio::piped()).stderr(Stdio::piped());
        let output = run_cargo(&mut cmd)?;
        let stderr = String::from_utf8_lossy(&output.stderr);
        if !output.status.success() {
            return Err(BuildError::CargoFailed {
                dir: self.crate_dir.clone(),
                status: output.status.to_string(),
                stderr: stderr.trim_end().to_string(),
            });
        }
        let stderr = stderr.into_owned();
        let mut objects = executables(&String::from_utf8_lossy(&output.stdout));
        if objects.is_empty() {
            return Err(BuildError::NoObject {
                dir: self.crate_dir.clone(),
            });
        }
        if self.strip_dwarf {
            let objcopy = toolchain.llvm_tools().tool("llvm-objcopy")?;
            for object in &mut objects {
                let mut name = object.path.file_name().unwrap_or_default().to_os_string();
                name.push(STRIPPED_SUFFIX);
                let stripped = object.path.with_file_name(name);
                let status = Command::new(&objcopy)
                    .arg("--strip-debug")
                    .arg(&object.path)
                    .arg(&stripped)
                    .status()
                    .map_err(|source| BuildError::StripFailed {
                        object: object.path.clone(),
                        reason: source.to_string(),
                    })?;
                if !status.success() {
                    return Err(BuildError::StripFailed {
                        object: object.path.clone(),
                        reason: status.to_string(),
                    });
                }
                object.path = stripped;
            }
        }
        Ok(Captured {
            objects,
            stderr,
            route,
            triple,
        })
    }
}

/// What one nested build produced, and how.
struct Captured {
    objects: Vec<EbpfObject>,
    /// Cargo's stderr: status lines and rendered diagnostics.
    stderr: String,
    route: Route,
    triple: &'static str,
}

/// The rustc flags of a route: the `bpfkit_ebpf` cfg on both; on the donor route
/// linker-plugin LTO (bitcode objects) and the BPF cpu and debug info, which rustc cannot
/// pass to a donor's linker itself, as linker arguments; on both, the linker's
/// `--misaligned-mem-access` when `misaligned` (see [`EbpfBuild::misaligned_mem_access`]).
pub fn rustflags(route: Route, cpu: Option<Cpu>, misaligned: bool) -> Vec<String> {
    let mut flags = vec![
        "--cfg".to_string(),
        EBPF_CFG.to_string(),
        "--check-cfg".to_string(),
        format!("cfg({EBPF_CFG})"),
    ];
    match route {
        Route::Bpfel => {
            if let Some(cpu) = cpu {
                flags.push("-C".into());
                flags.push(format!("target-cpu={}", cpu.llc_name()));
            }
        }
        Route::Donor => {
            let cpu = cpu.unwrap_or(Cpu::V3);
            for flag in [
                "linker-plugin-lto".to_string(),
                format!("link-arg=--cpu={}", cpu.llc_name()),
                "link-arg=--debug".to_string(),
            ] {
                flags.push("-C".into());
                flags.push(flag);
            }
        }
    }
    if misaligned {
        flags.push("-C".into());
        flags.push(format!(
            "link-arg={}",
            crate::link::args::MISALIGNED_MEM_ACCESS_FLAG
        ));
    }
    flags
}

/// The key of `[package.metadata.bpfkit]` behind [`EbpfBuild::misaligned_mem_access`].
pub const MISALIGNED_METADATA_KEY: &str = "misaligned-mem-access";

/// `[package.metadata.bpfkit] misaligned-mem-access` of the eBPF crate (`cargo metadata`);
/// false when absent.
fn manifest_misaligned_mem_access(manifest: &Path) -> Result<bool, BuildError> {
    let mut cmd = Command::new(cargo());
    scrub_host_env(&mut cmd);
    cmd.args([
        "metadata",
        "--no-deps",
        "--format-version",
        "1",
        "--offline",
    ])
    .arg("--manifest-path")
    .arg(manifest);
    let output = run_cargo(&mut cmd)?;
    if !output.status.success() {
        return Err(BuildError::Metadata {
            manifest: manifest.to_path_buf(),
            reason: format!(
                "cargo metadata failed ({}): {}",
                output.status,
                String::from_utf8_lossy(&output.stderr).trim_end()
            ),
        });
    }
    misaligned_from_metadata(&output.stdout, manifest).map_err(|reason| BuildError::Metadata {
        manifest: manifest.to_path_buf(),
        reason,
    })
}

/// The `misaligned-mem-access` value of the package of `manifest` in `cargo metadata`'s
/// JSON output.
fn misaligned_from_metadata(json: &[u8], manifest: &Path) -> Result<bool, String> {
    let metadata: serde_json::Value =
        serde_json::from_slice(json).map_err(|e| format!("cargo metadata's output: {e}"))?;
    let packages = metadata["packages"]
        .as_array()
        .map_or(&[][..], Vec::as_slice);
    let package = packages
        .iter()
        .find(|p| p["manifest_path"].as_str().map(Path::new) == Some(manifest))
        .or_else(|| packages.first())
        .ok_or_else(|| "cargo metadata lists no package".to_string())?;
    match &package["metadata"]["bpfkit"][MISALIGNED_METADATA_KEY] {
        serde_json::Value::Null => Ok(false),
        serde_json::Value::Bool(allow) => Ok(*allow),
        other => Err(format!(
            "[package.metadata.bpfkit] {MISALIGNED_METADATA_KEY} must be true or false, not {other}"
        )),
    }
}

/// Builds the eBPF crate at `crate_dir` (relative to the calling package's manifest
/// directory) from a build script with the default settings: see
/// [`EbpfBuild::build_in_build_script`].
///
/// ```no_run
/// // in build.rs's main
/// if let Err(err) = bpfkit_build::build_ebpf("../myprog-ebpf") {
///     panic!("{err}");
/// }
/// ```
pub fn build_ebpf(crate_dir: impl AsRef<Path>) -> Result<Vec<EbpfObject>, BuildError> {
    let base = std::env::var_os("CARGO_MANIFEST_DIR")
        .map(PathBuf::from)
        .unwrap_or_default();
    EbpfBuild::new(base.join(crate_dir.as_ref())).build_in_build_script()
}

impl EbpfBuild {
    /// [`EbpfBuild::build`] from a build script: also emits `cargo:rerun-if-changed` for
    /// every source file of the eBPF crate and its dependencies (from cargo's dep-info),
    /// copies each object to `$OUT_DIR/<name>.bpf.o` for [`include_ebpf!`](crate::include_ebpf),
    /// and forwards the compiler's warnings as `cargo:warning=` lines, so they show in the
    /// terminal of whoever builds the userspace crate (cargo keeps a build script's stderr
    /// in `target/*/build/*/stderr`, shown only on failure or with `-vv`; that log keeps
    /// the nested build's progress too). When the nested build compiled anything, one more
    /// `cargo:warning` sums it up: crate, target, route, time and the crates compiled
    /// (off with [`quiet`](Self::quiet) or `BPFKIT_BUILD_SUMMARY=0`).
    pub fn build_in_build_script(&self) -> Result<Vec<EbpfObject>, BuildError> {
        for var in [
            LINKER_ENV,
            TARGET_DIR_ENV,
            TARGET_ARCH_ENV,
            LLVM_TOOLS_DIR_ENV,
            ROUTE_ENV,
            SUMMARY_ENV,
            "BPFKIT_RUST_SRC_DIR",
        ] {
            println!("cargo:rerun-if-env-changed={var}");
        }
        println!(
            "cargo:rerun-if-changed={}",
            self.crate_dir.join("Cargo.toml").display()
        );
        let started = std::time::Instant::now();
        let Captured {
            objects,
            stderr,
            route,
            triple,
        } = self.build_capturing()?;
        eprint!("{stderr}");
        // Cargo shows nothing of a build script's output but `cargo:warning=` lines (and
        // only once the script ends), so the nested build's progress is summed up in one.
        let summary_on = std::env::var(SUMMARY_ENV).map_or(true, |v| v != "0");
        if summary_on && !self.quiet {
            let name = self.crate_dir.file_name().map_or_else(
                || self.crate_dir.display().to_string(),
                |n| n.to_string_lossy().into_owned(),
            );
            if let Some(line) = summary_line(&stderr, &name, route, triple, started.elapsed()) {
                println!("cargo:warning={line}");
            }
        }
        let warnings = warning_lines(&stderr);
        if !warnings.is_empty() {
            // Their paths are relative to the eBPF crate: say which one.
            println!(
                "cargo:warning=in the eBPF crate {}:",
                self.crate_dir.display()
            );
        }
        for line in warnings {
            println!("cargo:warning={line}");
        }
        let sysroot = Toolchain::detect().map(|t| t.sysroot).ok();
        for object in &objects {
            // The dep-info file sits beside the object cargo wrote (not its stripped copy).
            let built = match object
                .path
                .to_str()
                .and_then(|p| p.strip_suffix(STRIPPED_SUFFIX))
            {
                Some(original) => PathBuf::from(original),
                None => object.path.clone(),
            };
            for source in dep_info(&built) {
                if sysroot.as_ref().is_some_and(|s| source.starts_with(s)) {
                    continue;
                }
                println!("cargo:rerun-if-changed={}", source.display());
            }
            if let Some(out_dir) = std::env::var_os("OUT_DIR") {
                let to = Path::new(&out_dir).join(format!("{}.bpf.o", object.name));
                std::fs::copy(&object.path, &to).map_err(|source| BuildError::Copy {
                    from: object.path.clone(),
                    to,
                    source,
                })?;
            }
        }
        Ok(objects)
    }
}

/// `BPFKIT_BUILD_SUMMARY=0` turns off the one-line summary of the nested build that
/// [`EbpfBuild::build_in_build_script`] prints as a `cargo:warning`.
pub const SUMMARY_ENV: &str = "BPFKIT_BUILD_SUMMARY";

/// The most crate names a summary lists before `…`.
const SUMMARY_CRATES: usize = 6;

/// The one-line summary of a nested build whose cargo stderr is `stderr`: "bpfkit: built
/// eBPF crate NAME for TRIPLE (route R) in S s, compiled N crates: a, b, …", or `None`
/// when cargo compiled nothing (everything was fresh).
fn summary_line(
    stderr: &str,
    name: &str,
    route: Route,
    triple: &str,
    elapsed: std::time::Duration,
) -> Option<String> {
    let mut compiled: Vec<String> = Vec::new();
    for line in stderr.lines() {
        let plain = strip_ansi(line);
        let mut words = plain.split_whitespace();
        if is_cargo_status(&plain) && words.next() == Some("Compiling") {
            if let Some(krate) = words.next() {
                if !compiled.iter().any(|c| c == krate) {
                    compiled.push(krate.to_owned());
                }
            }
        }
    }
    if compiled.is_empty() {
        return None;
    }
    let mut list = compiled
        .iter()
        .take(SUMMARY_CRATES)
        .cloned()
        .collect::<Vec<_>>()
        .join(", ");
    if compiled.len() > SUMMARY_CRATES {
        list.push_str(", …");
    }
    Some(format!(
        "bpfkit: built eBPF crate {name} for {triple} (route {}) in {:.1} s, compiled {} crate{}: {list}",
        route.name(),
        elapsed.as_secs_f64(),
        compiled.len(),
        if compiled.len() == 1 { "" } else { "s" },
    ))
}

/// The compiler's warnings in cargo's rendered stderr, line by line: each block from a
/// `warning` line to the blank line that ends it (cargo's own status lines are left out),
/// without terminal colours (a `cargo:warning=` line is printed as plain text).
fn warning_lines(stderr: &str) -> Vec<String> {
    let mut lines = Vec::new();
    let mut in_warning = false;
    for line in stderr.lines() {
        let plain = strip_ansi(line);
        if plain.starts_with("warning") {
            in_warning = true;
        } else if plain.trim().is_empty() || is_cargo_status(&plain) {
            in_warning = false;
            continue;
        }
        if in_warning {
            lines.push(plain);
        }
    }
    lines
}

/// A cargo status line: a right-aligned verb (`   Compiling x`, `    Finished …`).
fn is_cargo_status(line: &str) -> bool {
    let trimmed = line.trim_start();
    line.len() > trimmed.len()
        && trimmed.split_whitespace().next().is_some_and(|verb| {
            verb.len() > 1
                && verb.chars().next().is_some_and(|c| c.is_ascii_uppercase())
                && verb[1..].chars().all(|c| c.is_ascii_lowercase())
        })
}

/// `line` without ANSI escape sequences (`ESC [ … letter`).
fn strip_ansi(line: &str) -> String {
    let mut out = String::with_capacity(line.len());
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            if chars.next() == Some('[') {
                for c in chars.by_ref() {
                    if c.is_ascii_alphabetic() {
                        break;
                    }
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}

/// bpfkit-ebpf's choice of `pt_regs` layout (`x86_64` or `aarch64`; see its build script).
const TARGET_ARCH_ENV: &str = "BPFKIT_TARGET_ARCH";

/// The architecture whose registers probe programs should read, when the caller did not set
/// [`TARGET_ARCH_ENV`]: that of `TARGET`, the triple cargo gives a build script, if it is
/// one bpfkit-ebpf knows. `None` leaves bpfkit-ebpf's default (the build host's).
fn probe_arch_for_target() -> Option<&'static str> {
    if std::env::var_os(TARGET_ARCH_ENV).is_some() {
        return None;
    }
    arch_of_triple(&std::env::var("TARGET").ok()?)
}

/// `x86_64` or `aarch64` from a target triple's first component.
fn arch_of_triple(triple: &str) -> Option<&'static str> {
    match triple.split('-').next()? {
        "x86_64" => Some("x86_64"),
        "aarch64" | "arm64" => Some("aarch64"),
        _ => None,
    }
}

/// The file name suffix of objects stripped of DWARF by [`EbpfBuild::strip_dwarf`].
const STRIPPED_SUFFIX: &str = ".stripped";

/// A path as a TOML basic string.
fn toml_string(path: &Path) -> String {
    let text = path.to_string_lossy();
    format!("\"{}\"", text.replace('\\', "\\\\").replace('"', "\\\""))
}

fn cargo() -> OsString {
    std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into())
}

/// Runs a cargo command to completion, or says cargo could not be started.
fn run_cargo(cmd: &mut Command) -> Result<std::process::Output, BuildError> {
    cmd.output().map_err(|source| BuildError::CargoNotRunnable {
        cargo: cargo().to_string_lossy().into_owned(),
        source,
    })
}

/// Removes what the calling build (a build script, or a host `cargo` invocation) set for
/// the host target: rustflags, linkers, wrappers, target selection, profiles.
fn scrub_host_env(cmd: &mut Command) {
    for (key, _) in std::env::vars_os() {
        let Some(key) = key.to_str() else { continue };
        let host_only = matches!(
            key,
            "RUSTFLAGS"
                | "CARGO_ENCODED_RUSTFLAGS"
                | "RUSTC_WRAPPER"
                | "RUSTC_WORKSPACE_WRAPPER"
                | "RUSTC_LINKER"
                | "CARGO_TARGET_DIR"
                | "CARGO_BUILD_TARGET_DIR"
                | "CARGO_PRIMARY_PACKAGE"
                | "TARGET"
                | "HOST"
                | "OUT_DIR"
        ) || key.starts_with("CARGO_BUILD_")
            || key.starts_with("CARGO_TARGET_")
            || key.starts_with("CARGO_PROFILE_")
            || key.starts_with("CARGO_CFG_")
            || key.starts_with("CARGO_FEATURE_")
            || key.starts_with("CARGO_ENCODED_");
        if host_only {
            cmd.env_remove(key);
        }
    }
}

/// `bpfkit-ebpf/` beside the calling build's target directory (found from `OUT_DIR` by its
/// `CACHEDIR.TAG`), else `target/` in the eBPF crate.
fn default_target_dir(crate_dir: &Path) -> PathBuf {
    if let Some(out_dir) = std::env::var_os("OUT_DIR") {
        let out_dir = PathBuf::from(out_dir);
        if let Some(target) = out_dir
            .ancestors()
            .find(|dir| dir.join("CACHEDIR.TAG").is_file())
        {
            return target.join("bpfkit-ebpf");
        }
    }
    crate_dir.join("target")
}

/// Builds `bpfkit-link` from this crate's own sources into `<target_dir>/linker`.
fn build_linker(target_dir: &Path, toolchain: &Toolchain) -> Result<PathBuf, BuildError> {
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR")).join("Cargo.toml");
    let mut cmd = Command::new(cargo());
    scrub_host_env(&mut cmd);
    cmd.arg("build")
        .arg("--quiet")
        .arg("--message-format=json-render-diagnostics")
        .arg("--manifest-path")
        .arg(&manifest)
        .arg("--bin")
        .arg("bpfkit-link")
        // The host, whatever `build.target` a project's config names.
        .arg("--target")
        .arg(&toolchain.host)
        .arg("--target-dir")
        .arg(target_dir.join("linker"))
        .env("RUSTC", &toolchain.rustc)
        // stdout carries cargo's JSON, never a build script's `cargo:` lines.
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let output = run_cargo(&mut cmd)?;
    let failed = |status: String| BuildError::LinkerBuildFailed {
        manifest: manifest.clone(),
        status,
        stderr: String::from_utf8_lossy(&output.stderr)
            .trim_end()
            .to_string(),
    };
    if !output.status.success() {
        return Err(failed(output.status.to_string()));
    }
    executables(&String::from_utf8_lossy(&output.stdout))
        .into_iter()
        .find(|e| e.name == "bpfkit-link")
        .map(|e| e.path)
        .ok_or_else(|| failed("no bpfkit-link executable in cargo's output".into()))
}

/// The executables of `compiler-artifact` messages in cargo's JSON output.
fn executables(json_lines: &str) -> Vec<EbpfObject> {
    let mut out = Vec::new();
    for line in json_lines.lines() {
        let Ok(message) = serde_json::from_str::<serde_json::Value>(line) else {
            continue;
        };
        if message["reason"] != "compiler-artifact" {
            continue;
        }
        let (Some(path), Some(name)) = (
            message["executable"].as_str(),
            message["target"]["name"].as_str(),
        ) else {
            continue;
        };
        out.push(EbpfObject {
            name: name.to_string(),
            path: PathBuf::from(path),
        });
    }
    out
}

/// The source files listed in the dep-info file cargo writes beside an object (`<object>.d`).
pub fn dep_info(object: &Path) -> Vec<PathBuf> {
    let mut name = object.file_name().unwrap_or_default().to_os_string();
    name.push(".d");
    let Ok(text) = std::fs::read_to_string(object.with_file_name(name)) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for line in text.lines() {
        let Some((_, deps)) = line.split_once(": ") else {
            continue;
        };
        let mut current = String::new();
        let mut chars = deps.chars().peekable();
        while let Some(c) = chars.next() {
            match c {
                '\\' if chars.peek() == Some(&' ') => {
                    current.push(' ');
                    chars.next();
                }
                ' ' => {
                    if !current.is_empty() {
                        out.push(PathBuf::from(std::mem::take(&mut current)));
                    }
                }
                _ => current.push(c),
            }
        }
        if !current.is_empty() {
            out.push(PathBuf::from(current));
        }
    }
    out.sort();
    out.dedup();
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_misaligned_opt_in_from_package_metadata() {
        let json = |value: &str| {
            format!(
                r#"{{"packages":[{{"name":"other","manifest_path":"/w/other/Cargo.toml","metadata":null}},
                {{"name":"prog-ebpf","manifest_path":"/w/prog-ebpf/Cargo.toml","metadata":{value}}}]}}"#
            )
        };
        let manifest = Path::new("/w/prog-ebpf/Cargo.toml");
        let on = json(r#"{"bpfkit":{"misaligned-mem-access":true}}"#);
        assert_eq!(misaligned_from_metadata(on.as_bytes(), manifest), Ok(true));
        let off = json(r#"{"bpfkit":{"misaligned-mem-access":false}}"#);
        assert_eq!(
            misaligned_from_metadata(off.as_bytes(), manifest),
            Ok(false)
        );
        assert_eq!(
            misaligned_from_metadata(json("null").as_bytes(), manifest),
            Ok(false)
        );
        let other = json(r#"{"docs":{"rs":1}}"#);
        assert_eq!(
            misaligned_from_metadata(other.as_bytes(), manifest),
            Ok(false)
        );
        let bad = json(r#"{"bpfkit":{"misaligned-mem-access":"yes"}}"#);
        assert_eq!(
            misaligned_from_metadata(bad.as_bytes(), manifest),
            Err(
                "[package.metadata.bpfkit] misaligned-mem-access must be true or false, \
                 not \"yes\""
                    .to_string()
            )
        );
    }

    #[test]
    fn the_misaligned_opt_in_reaches_the_linker_on_both_routes() {
        let arg = "link-arg=--misaligned-mem-access".to_string();
        for route in [Route::Bpfel, Route::Donor] {
            assert!(rustflags(route, None, true).contains(&arg), "{route:?}");
            assert!(!rustflags(route, None, false).contains(&arg), "{route:?}");
        }
    }

    #[test]
    fn warnings_are_cut_out_of_cargos_stderr() {
        let stderr = [
            "   Compiling guide-ebpf v0.1.0 (/src/guide-ebpf)",
            "\u{1b}[1m\u{1b}[33mwarning\u{1b}[0m: unused variable: `x`",
            " --> src/main.rs:3:9",
            "  |",
            "3 |     let x = 1;",
            "  |         ^ help: prefix it with an underscore: `_x`",
            "",
            "warning: `guide-ebpf` (bin \"guide\") generated 1 warning",
            "    Finished `release` profile [optimized + debuginfo] target(s) in 1.20s",
        ]
        .join("\n");
        let stderr = stderr.as_str();
        assert_eq!(
            warning_lines(stderr),
            [
                "warning: unused variable: `x`",
                " --> src/main.rs:3:9",
                "  |",
                "3 |     let x = 1;",
                "  |         ^ help: prefix it with an underscore: `_x`",
                "warning: `guide-ebpf` (bin \"guide\") generated 1 warning",
            ]
        );
        assert!(warning_lines("   Compiling x v0.1.0\n    Finished `release`\n").is_empty());
    }

    #[test]
    fn a_build_that_compiled_is_summed_up_in_one_line() {
        let stderr = "\u{1b}[1m\u{1b}[32m   Compiling\u{1b}[0m core v0.0.0 (/rust/library/core)\n\
                      \u{20}  Compiling tool-abi v0.1.0 (/src/tool-abi)\n\
                      \u{20}  Compiling tcpconnect-ebpf v0.1.0 (/src/tcpconnect-ebpf)\n\
                      warning: unused variable: `x`\n\
                      \u{20}   Finished `release` profile [optimized] target(s) in 9.87s\n";
        let line = summary_line(
            stderr,
            "tcpconnect-ebpf",
            Route::Bpfel,
            "bpfel-unknown-none",
            std::time::Duration::from_millis(12_345),
        );
        assert_eq!(
            line.as_deref(),
            Some(
                "bpfkit: built eBPF crate tcpconnect-ebpf for bpfel-unknown-none (route bpfel) \
                 in 12.3 s, compiled 3 crates: core, tool-abi, tcpconnect-ebpf"
            )
        );
        // Everything fresh: nothing to say.
        let fresh = "    Finished `release` profile [optimized] target(s) in 0.05s\n";
        let none = summary_line(fresh, "x", Route::Donor, "riscv64", Default::default());
        assert_eq!(none, None);
        // Long lists end in an ellipsis; one crate is singular.
        let many: String = (0..9)
            .map(|i| format!("   Compiling c{i} v0.1.0\n"))
            .collect();
        let line = summary_line(&many, "x", Route::Donor, "t", Default::default()).unwrap();
        assert!(
            line.ends_with("compiled 9 crates: c0, c1, c2, c3, c4, c5, …"),
            "{line}"
        );
        let one = summary_line(
            "   Compiling only v0.1.0\n",
            "x",
            Route::Bpfel,
            "t",
            Default::default(),
        );
        assert!(one.unwrap().ends_with("compiled 1 crate: only"));
    }

    #[test]
    fn probe_registers_follow_the_target_triple() {
        assert_eq!(
            arch_of_triple("aarch64-unknown-linux-musl"),
            Some("aarch64")
        );
        assert_eq!(arch_of_triple("x86_64-unknown-linux-gnu"), Some("x86_64"));
        assert_eq!(arch_of_triple("arm64-apple-darwin"), Some("aarch64"));
        assert_eq!(arch_of_triple("riscv64gc-unknown-linux-gnu"), None);
        assert_eq!(arch_of_triple(""), None);
    }

    #[test]
    fn quotes_paths_for_cargo_config() {
        assert_eq!(
            toml_string(Path::new("/opt/my \"tools\"\\bin/bpfkit-link")),
            r#""/opt/my \"tools\"\\bin/bpfkit-link""#
        );
    }

    #[test]
    fn finds_executables_in_cargo_json() {
        let json = r#"{"reason":"compiler-artifact","target":{"name":"core"},"executable":null}
{"reason":"compiler-artifact","target":{"name":"counter"},"executable":"/t/bpfel-unknown-none/release/counter"}
{"reason":"build-finished","success":true}"#;
        assert_eq!(
            executables(json),
            [EbpfObject {
                name: "counter".into(),
                path: "/t/bpfel-unknown-none/release/counter".into()
            }]
        );
    }

    #[test]
    fn reads_dep_info_with_escaped_spaces() {
        let dir = std::env::temp_dir().join(format!("bpfkit-depinfo-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(
            dir.join("prog.d"),
            "/t/prog: /src/main.rs /src/my\\ mod.rs\n\n/src/main.rs:\n",
        )
        .unwrap();
        assert_eq!(
            dep_info(&dir.join("prog")),
            [
                PathBuf::from("/src/main.rs"),
                PathBuf::from("/src/my mod.rs")
            ]
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
