//! One call per build script: what every bpfkit tool's `build.rs` does.
//!
//! - The userspace crate's `build.rs` (`ebpf_with_skeleton`, feature `build`): builds the
//!   eBPF crate with `bpfkit_build::build_ebpf` (which emits `cargo:rerun-if-changed` for
//!   its sources) and writes each object's typed skeleton to `$OUT_DIR/<object>.rs`, the
//!   object embedded:
//!
//!   ```ignore
//!   // myprog/build.rs
//!   fn main() {
//!       bpfkit_gen::build::ebpf_with_skeleton("../myprog-ebpf");
//!   }
//!   // myprog/src/main.rs
//!   mod skel {
//!       include!(concat!(env!("OUT_DIR"), "/myprog.rs"));
//!   }
//!   ```
//!
//! - The eBPF crate's `build.rs`, when it reads kernel types ([`kernel_types`]): generates
//!   them from the build machine's `/sys/kernel/btf/vmlinux` into `$OUT_DIR/vmlinux.rs`,
//!   kernel flavour (every member access a CO-RE relocation), for
//!   `bpfkit_ebpf::generated_types!(mod vmlinux = "vmlinux.rs")`:
//!
//!   ```ignore
//!   // myprog-ebpf/build.rs
//!   fn main() {
//!       bpfkit_gen::build::kernel_types(["task_struct"]);
//!   }
//!   ```
//!
//! Both end the build script with `error: …` on stderr and exit status 1 when something
//! fails; `try_ebpf_with_skeleton` (feature `build`) and [`try_kernel_types`] return the
//! error instead.

use std::path::PathBuf;

use crate::{GenError, Generator};

/// The kernel BTF [`kernel_types`] reads.
pub const VMLINUX: &str = "/sys/kernel/btf/vmlinux";

/// What [`try_ebpf_with_skeleton`] can fail on.
#[cfg(feature = "build")]
#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    /// Building the eBPF crate failed.
    #[error("building the eBPF crate {crate_dir}")]
    Build {
        /// The crate, as given.
        crate_dir: String,
        /// The build error.
        #[source]
        source: bpfkit_build::BuildError,
    },
    /// Generating an object's skeleton failed.
    #[error("skeleton of {object}")]
    Skeleton {
        /// The object's name.
        object: String,
        /// The generator's error.
        #[source]
        source: GenError,
    },
}

/// Builds the eBPF crate at `crate_dir` (relative to the calling crate's manifest directory)
/// with `bpfkit_build::build_ebpf` and writes each object's typed skeleton (the object
/// embedded from `OUT_DIR`) to `$OUT_DIR/<object>.rs`; returns those files. From a build
/// script only (it needs `OUT_DIR`).
#[cfg(feature = "build")]
pub fn try_ebpf_with_skeleton(crate_dir: &str) -> Result<Vec<PathBuf>, BuildError> {
    let objects = bpfkit_build::build_ebpf(crate_dir).map_err(|source| BuildError::Build {
        crate_dir: crate_dir.to_owned(),
        source,
    })?;
    let out = out_dir().map_err(|source| BuildError::Skeleton {
        object: crate_dir.to_owned(),
        source,
    })?;
    let mut written = Vec::with_capacity(objects.len());
    for object in objects {
        let path = out.join(format!("{}.rs", object.name));
        crate::Skeleton::from_out_dir(&object.name)
            .and_then(|s| s.write_to(&path))
            .map_err(|source| BuildError::Skeleton {
                object: object.name.clone(),
                source,
            })?;
        written.push(path);
    }
    Ok(written)
}

/// [`try_ebpf_with_skeleton`] for a build script's `main`: on error prints it with its
/// causes and exits with status 1.
#[cfg(feature = "build")]
pub fn ebpf_with_skeleton(crate_dir: &str) {
    if let Err(e) = try_ebpf_with_skeleton(crate_dir) {
        fail(&e);
    }
}

/// Generates the kernel types `names` (and everything they reach) from [`VMLINUX`] into
/// `$OUT_DIR/vmlinux.rs`, kernel flavour and without module attributes (for
/// `bpfkit_ebpf::generated_types!`), and emits `cargo:rerun-if-changed` for the BTF.
/// Returns the file written.
pub fn try_kernel_types<I, S>(names: I) -> Result<PathBuf, GenError>
where
    I: IntoIterator<Item = S>,
    S: Into<String>,
{
    println!("cargo:rerun-if-changed={VMLINUX}");
    let out = out_dir()?.join("vmlinux.rs");
    Generator::from_file(VMLINUX)?
        .types(names)
        .module_attributes(false)
        .write_to(&out)?;
    Ok(out)
}

/// [`try_kernel_types`] for a build script's `main`: on error prints it with its causes and
/// exits with status 1.
pub fn kernel_types<I, S>(names: I)
where
    I: IntoIterator<Item = S>,
    S: Into<String>,
{
    if let Err(e) = try_kernel_types(names) {
        fail(&e);
    }
}

fn out_dir() -> Result<PathBuf, GenError> {
    std::env::var_os("OUT_DIR")
        .map(PathBuf::from)
        .ok_or_else(|| GenError::Elf {
            reason: "OUT_DIR is not set: bpfkit_gen::build is for build scripts".into(),
        })
}

/// Prints `error: ` and `e` with its causes joined by `": "`, then exits with status 1.
fn fail(e: &dyn std::error::Error) -> ! {
    let mut line = format!("error: {e}");
    let mut source = e.source();
    while let Some(cause) = source {
        line.push_str(&format!(": {cause}"));
        source = cause.source();
    }
    eprintln!("{line}");
    std::process::exit(1);
}
