//! `bpfkit btf`: summaries and type lookups in BTF.

/// `bpfkit btf` subcommands.
#[derive(clap::Subcommand)]
pub enum Command {
    /// Count types per kind and string bytes.
    Summary {
        /// A raw BTF file (e.g. /sys/kernel/btf/vmlinux) or an ELF object with .BTF.
        file: std::path::PathBuf,
        /// Print JSON instead of text.
        #[arg(long)]
        json: bool,
    },
}

pub fn run(cmd: Command) -> Result<(), Box<dyn std::error::Error>> {
    match cmd {
        Command::Summary { file, .. } => {
            Err(format!("btf summary {}: not implemented yet", file.display()).into())
        }
    }
}
