//! `bpfkit inspect`: what an object file holds, read without the kernel.

/// Arguments of `bpfkit inspect`.
#[derive(clap::Args)]
pub struct Args {
    /// The BPF ELF object to read.
    pub object: std::path::PathBuf,
    /// Print JSON instead of text.
    #[arg(long)]
    pub json: bool,
}

pub fn run(args: Args) -> Result<(), Box<dyn std::error::Error>> {
    Err(format!("inspect {}: not implemented yet", args.object.display()).into())
}
