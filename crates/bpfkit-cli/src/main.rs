//! `bpfkit`: inspect BPF objects and BTF from the command line.

mod btf;
mod gen;
mod inspect;
mod link;
mod load;
mod map;
mod new;
mod pin_dir;
mod prog;
mod prog_dump;
mod run;
mod top;
mod trace;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// Inspect, load and trace with BPF objects.
#[derive(Parser)]
#[command(name = "bpfkit", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// List the programs, maps, data sections, externs and CO-RE relocations of an object.
    // The variant's doc comment would replace the long help of `inspect::Args`; name it again.
    #[command(long_about = inspect::LONG_ABOUT)]
    Inspect(inspect::Args),
    /// Read BTF from a raw BTF file or an object's .BTF section.
    #[command(subcommand)]
    Btf(btf::Command),
    /// Load an object, attach every program by its section, print ring/perf buffer records
    /// until Ctrl-C or --duration, then every hash/array map.
    #[command(long_about = run::LONG_ABOUT)]
    Run(run::Args),
    /// Load every program and map of an object (like `bpftool prog loadall`), print their ids.
    #[command(long_about = load::LONG_ABOUT)]
    Load(load::Args),
    /// List loaded programs or show one.
    #[command(subcommand)]
    Prog(prog::Command),
    /// List loaded maps or dump one (formatted through BTF).
    #[command(subcommand)]
    Map(map::Command),
    /// List links.
    #[command(subcommand)]
    Link(link::Command),
    /// Create a new project (kernel crate, shared types, userspace crate) from a template.
    New(new::Args),
    /// Generate Rust from BTF.
    #[command(subcommand)]
    Gen(gen::Command),
    /// Run a bpftrace program (one-liner or file), compiled straight to BPF.
    Trace(trace::Args),
    /// Live view of loaded programs: runs, run time, runs/s, CPU share, holding processes.
    #[command(long_about = top::LONG_ABOUT)]
    Top(top::Args),
}

fn main() -> ExitCode {
    // Rust ignores SIGPIPE, so a write to a closed pipe (`bpfkit prog list | head -1`) is an
    // error that `println!` turns into a panic. Take the default action back: the process ends
    // quietly by SIGPIPE, like every other Unix filter, and the kernel closes its BPF fds.
    // SAFETY: setting a signal disposition to SIG_DFL at start, before any other thread exists.
    unsafe { libc::signal(libc::SIGPIPE, libc::SIG_DFL) };
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Inspect(args) => inspect::run(args),
        Command::Btf(cmd) => btf::run(cmd),
        Command::Run(args) => run::run(args),
        Command::Load(args) => load::run(args),
        Command::Prog(cmd) => prog::run(cmd),
        Command::Map(cmd) => map::run(cmd),
        Command::Link(cmd) => link::run(cmd),
        Command::New(args) => new::run(args),
        Command::Gen(cmd) => gen::run(cmd),
        Command::Trace(args) => trace::run(args).map_err(Into::into),
        Command::Top(args) => top::run(args),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            // The whole chain once, each part in its alternate form (a refused program's full
            // verifier log).
            eprintln!("bpfkit: {:#}", bpfkit::Report(err.as_ref()));
            ExitCode::FAILURE
        }
    }
}
