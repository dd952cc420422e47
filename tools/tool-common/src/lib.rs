//! The tools' shared userspace plumbing, so each tool keeps only its own decoding and
//! output: [`filter`] (`--pid`, `--comm`, `--cgroup` set as kernel globals), [`run`]
//! (Ctrl-C, `--duration`, `--interval`), [`child`] (`-c CMD` started after attach),
//! [`output`] (lines that stop on a closed pipe, command names), [`hist`] (bcc-style log2
//! histograms), [`metrics`] (`--metrics`: Prometheus text over HTTP; with feature `otlp`,
//! `otlp`: the same pushed as OTLP/HTTP JSON), [`lost`] (events
//! the ring buffer had no room for), [`session`] (load,
//! attach, release `-c`'s child), [`syscalls`] and [`errno`] (names from the kernel
//! headers, x86_64 and aarch64) and, with feature `testing`, `testing` (helpers for the
//! tools' integration tests).

pub mod child;
pub mod errno;
pub mod filter;
pub mod hist;
pub mod lost;
pub mod metrics;
#[cfg(feature = "otlp")]
pub mod otlp;
pub mod output;
pub mod run;
pub mod session;
pub mod syscalls;
#[cfg(feature = "testing")]
pub mod testing;

mod tables;

use clap::Args;

/// The options every tool takes: filters, `--json`, `--duration`, `--interval` and
/// `-c CMD`.
#[derive(Args, Debug, Clone, Default)]
pub struct CommonArgs {
    /// Filters applied in the kernel.
    #[command(flatten)]
    pub filter: filter::FilterArgs,
    /// One JSON object per line instead of columns.
    #[arg(long)]
    pub json: bool,
    /// Stop after this many seconds (default: until Ctrl-C, or until `-c`'s command exits).
    #[arg(long, value_name = "S")]
    pub duration: Option<f64>,
    /// Print (and, for counting tools, reset) every S seconds.
    #[arg(long, value_name = "S")]
    pub interval: Option<f64>,
    /// BPF token options.
    #[command(flatten)]
    pub token: TokenArgs,
    /// Run this command (no shell; its arguments follow) once the programs are attached,
    /// trace it and everything it starts (its own cgroup; with --cgroup, only its pid), and
    /// stop when it exits. Must come last.
    #[arg(short = 'c', long = "command", value_name = "CMD", num_args = 1.., allow_hyphen_values = true)]
    pub command: Vec<String>,
    /// `--otlp-endpoint`, `--otlp-interval` (feature `otlp`).
    #[cfg(feature = "otlp")]
    #[command(flatten)]
    pub otlp: otlp::OtlpArgs,
}

/// `--token-path`: where the loader takes its BPF token from (Linux 6.9).
#[derive(Args, Debug, Clone, Default)]
pub struct TokenArgs {
    /// Load through a BPF token from the bpffs mounted at PATH (one that the initial
    /// namespace mounted with delegate_* options). Default: $BPFKIT_TOKEN_PATH, else
    /// /sys/fs/bpf when running in a user namespace.
    #[arg(long, value_name = "PATH")]
    pub token_path: Option<std::path::PathBuf>,
}

impl TokenArgs {
    /// Set the loader's token source from the option (unset: the loader's automatic one).
    pub fn apply(&self, loader: &mut bpfkit::loader::Loader) {
        if let Some(path) = &self.token_path {
            loader.token_path(path);
        }
    }
}

pub use session::{exit_with, EventFormat, EventSource, Session, Setup, ToolError, Tracepoint};

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        common: CommonArgs,
    }

    #[test]
    fn every_tool_takes_a_token_path() {
        let cli = Cli::parse_from(["tool", "--token-path", "/run/bpffs"]);
        assert_eq!(
            cli.common.token.token_path.as_deref(),
            Some(std::path::Path::new("/run/bpffs"))
        );
        let cli = Cli::parse_from(["tool"]);
        assert_eq!(cli.common.token.token_path, None);
    }
}
