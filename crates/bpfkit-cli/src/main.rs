//! `bpfkit`: inspect BPF objects and BTF from the command line.

mod btf;
mod inspect;
mod link;
mod load;
mod map;
mod prog;
mod run;
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
    Inspect(inspect::Args),
    /// Read BTF from a raw BTF file or an object's .BTF section.
    #[command(subcommand)]
    Btf(btf::Command),
    /// Load an object, attach every program by its section, print ring/perf buffer records
    /// until Ctrl-C or --duration, then every hash/array map.
    Run(run::Args),
    /// Load every program and map of an object (like `bpftool prog loadall`), print their ids.
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
    /// Run a bpftrace program (one-liner or file), compiled straight to BPF.
    Trace(trace::Args),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Inspect(args) => inspect::run(args),
        Command::Btf(cmd) => btf::run(cmd),
        Command::Run(args) => run::run(args),
        Command::Load(args) => load::run(args),
        Command::Prog(cmd) => prog::run(cmd),
        Command::Map(cmd) => map::run(cmd),
        Command::Link(cmd) => link::run(cmd),
        Command::Trace(args) => trace::run(args).map_err(Into::into),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("bpfkit: {err}");
            ExitCode::FAILURE
        }
    }
}
