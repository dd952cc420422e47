//! `bpfkit gen`: Rust source generated from BTF.

use std::path::{Path, PathBuf};

use bpfkit_gen::{Flavour, Generator};

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
    }
}
