//! `bpfkit-link`: the linker rustc runs for `bpfel-unknown-none`/`bpfeb-unknown-none`.
//!
//! Point rustc at it with `-C linker=bpfkit-link` (the `bpfkit-build` driver does).

use std::process::ExitCode;

use bpfkit_build::link::{self, LinkArgs};
use bpfkit_build::toolchain::LlvmTools;

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            let mut message = format!("bpfkit-link: error: {err}");
            let mut source = std::error::Error::source(&*err);
            while let Some(cause) = source {
                message.push_str(&format!("\n  caused by: {cause}"));
                source = cause.source();
            }
            eprintln!("{message}");
            ExitCode::FAILURE
        }
    }
}

fn run() -> Result<(), Box<dyn std::error::Error>> {
    let args = LinkArgs::parse(std::env::args_os().skip(1))?;
    for flag in &args.ignored {
        eprintln!("bpfkit-link: warning: ignoring unsupported flag `{flag}`");
    }
    let tools = LlvmTools::for_linker()?;
    link::link(&args, &tools)?;
    Ok(())
}
