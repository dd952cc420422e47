//! `bpfkit gen`: Rust source generated from BTF.

use std::path::{Path, PathBuf};

use bpfkit_gen::{Flavour, Generator, Skeleton};

const VMLINUX: &str = "/sys/kernel/btf/vmlinux";

/// `bpfkit gen` subcommands.
#[derive(clap::Subcommand)]
pub enum Command {
    /// Rust definitions of BTF types and everything they reach (no_std, with compile-time
    /// size and offset assertions), for eBPF programs (default) or userspace.
    ///
    /// NAME may be `foo` (every struct, union, enum and typedef named foo) or
    /// `struct foo`, `union foo`, `enum foo`, `typedef foo`.
    Types {
        /// A raw BTF file or an ELF object with .BTF.
        #[arg(long, default_value = VMLINUX)]
        btf: PathBuf,
        /// The base of split BTF (a module's); default /sys/kernel/btf/vmlinux when --btf is
        /// another file of /sys/kernel/btf.
        #[arg(long, value_name = "FILE")]
        base_btf: Option<PathBuf>,
        /// Write to FILE instead of stdout.
        #[arg(short, long, value_name = "FILE")]
        output: Option<PathBuf>,
        /// Userspace flavour: kernel pointers become u64 and are not followed.
        #[arg(long)]
        userspace: bool,
        /// Every named struct, union, enum and typedef.
        #[arg(long, conflicts_with_all = ["names", "most_referenced"])]
        all: bool,
        /// Also the N structs and unions most referenced by other types' members.
        #[arg(long, value_name = "N")]
        most_referenced: Option<usize>,
        /// Omit the leading `#![allow(...)]`, to `include!` the file.
        #[arg(long)]
        no_module_attributes: bool,
        /// Type names.
        #[arg(value_name = "NAME", required_unless_present_any = ["all", "most_referenced"])]
        names: Vec<String>,
    },
    /// A typed skeleton of a BPF object: its maps with key and value types, global
    /// sections as structs (`.rodata` set before load, `.data`/`.bss` read and written
    /// after), programs by name and `attach_all`. The generated module needs the `bpfkit`
    /// crate; the user's code needs no `unsafe`.
    Skel {
        /// The BPF object (ELF with .BTF), clang's or bpfkit-build's.
        object: PathBuf,
        /// Write to FILE instead of stdout.
        #[arg(short, long, value_name = "FILE")]
        output: Option<PathBuf>,
        /// The object name (default: the file name up to its first dot); it names the
        /// global-data maps.
        #[arg(long)]
        name: Option<String>,
        /// Do not embed the object: open it with `OpenSkel::open_bytes`.
        #[arg(long)]
        no_embed: bool,
    },
}

/// Run a `bpfkit gen` subcommand.
pub fn run(cmd: Command) -> Result<(), Box<dyn std::error::Error>> {
    match cmd {
        Command::Types {
            btf,
            base_btf,
            output,
            userspace,
            all,
            most_referenced,
            no_module_attributes,
            names,
        } => {
            let base_btf = base_btf.or_else(|| {
                let module = btf.starts_with("/sys/kernel/btf/") && btf != Path::new(VMLINUX);
                module.then(|| PathBuf::from(VMLINUX))
            });
            let mut generator = Generator::from_file(&btf)?;
            if let Some(base) = base_btf {
                generator = generator.base_from_file(base)?;
            }
            let mut generator = generator
                .flavour(if userspace {
                    Flavour::Userspace
                } else {
                    Flavour::Kernel
                })
                .module_attributes(!no_module_attributes)
                .most_referenced(most_referenced.unwrap_or(0))
                .types(names);
            if all {
                generator = generator.all_types();
            }
            match output {
                Some(path) => generator.write_to(path)?,
                None => print!("{}", generator.generate()?),
            }
            Ok(())
        }
        Command::Skel {
            object,
            output,
            name,
            no_embed,
        } => {
            let mut skeleton = Skeleton::from_file(&object)?;
            if let Some(name) = name {
                skeleton = skeleton.name(name);
            }
            if no_embed {
                skeleton = skeleton.embed(false);
            } else if let Some(out) = &output {
                // include_bytes! resolves relative to the generated file.
                skeleton = skeleton.embed_path(relative_to_dir(&object, out)?);
            }
            match output {
                Some(path) => skeleton.write_to(path)?,
                None => print!("{}", skeleton.generate()?),
            }
            Ok(())
        }
    }
}

/// `target` as a path relative to the directory of `file` (both made absolute), for
/// `include_bytes!` in `file`.
fn relative_to_dir(target: &Path, file: &Path) -> std::io::Result<String> {
    let target = std::fs::canonicalize(target)?;
    let dir = match file.parent().filter(|p| !p.as_os_str().is_empty()) {
        Some(dir) => std::fs::canonicalize(dir)?,
        None => std::env::current_dir()?,
    };
    let t: Vec<_> = target.components().collect();
    let d: Vec<_> = dir.components().collect();
    let common = t.iter().zip(&d).take_while(|(a, b)| a == b).count();
    let mut rel = PathBuf::new();
    for _ in common..d.len() {
        rel.push("..");
    }
    for c in &t[common..] {
        rel.push(c);
    }
    Ok(rel.to_string_lossy().into_owned())
}
