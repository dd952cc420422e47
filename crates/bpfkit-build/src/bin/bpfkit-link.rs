//! `bpfkit-link`: the linker rustc runs for `bpfel-unknown-none`/`bpfeb-unknown-none`.
//!
//! Point rustc at it with `-C linker=bpfkit-link` (the `bpfkit-build` driver does).
//! `BPFKIT_LINK_KEEP_TEMPS=1` keeps the intermediate files (linked bitcode, optimised IR,
//! llc's object, the fixed BTF) in `<output>.bpfkit-link/`.

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

const USAGE: &str = "\
bpfkit-link: the linker rustc runs for bpfel-unknown-none / bpfeb-unknown-none

usage: bpfkit-link [--export-symbols FILE] INPUT... -o OUTPUT [--cpu v1|v2|v3|v4|generic]
                   [-O0..3|s|z] [--debug] [--strip-debug] [-L DIR] [-l LIB]

Inputs are LLVM bitcode objects and rlibs. Set BPFKIT_LLVM_TOOLS_DIR to choose the
llvm-tools (default: rustup's for the active rustc); BPFKIT_LINK_KEEP_TEMPS=1 keeps
intermediate files.";

fn run() -> Result<(), Box<dyn std::error::Error>> {
    if std::env::args().skip(1).any(|a| a == "--help" || a == "-h") {
        println!("{USAGE}");
        return Ok(());
    }
    if std::env::args()
        .skip(1)
        .any(|a| a == "--version" || a == "-V")
    {
        println!("bpfkit-link {}", env!("CARGO_PKG_VERSION"));
        return Ok(());
    }
    let args = LinkArgs::parse(std::env::args_os().skip(1))?;
    for flag in &args.ignored {
        eprintln!("bpfkit-link: warning: ignoring unsupported flag `{flag}`");
    }
    let tools = LlvmTools::for_linker()?;
    link::link(&args, &tools)?;
    Ok(())
}
