//! `bpfkit trace`: bpftrace's language, compiled by `bpfkit-trace` with no LLVM.

use bpfkit_trace::output::OutputFormat;

/// Arguments of `bpfkit trace`.
#[derive(clap::Args)]
pub struct Args {
    /// The program text, or a file holding it (`script.bt`); with -e, the first
    /// positional parameter.
    program: Option<String>,
    /// Positional parameters: `$1`, `str($2)`, `$#`.
    params: Vec<String>,
    /// The program text.
    #[arg(short = 'e', value_name = "PROGRAM")]
    expr: Option<String>,
    /// Uprobes only in this process; stop when it exits.
    #[arg(short = 'p', value_name = "PID")]
    pid: Option<i32>,
    /// Run CMD once probes are attached (`cpid` is its pid); stop when it exits.
    #[arg(short = 'c', value_name = "CMD")]
    command: Option<String>,
    /// List the probes matching the pattern given as PROGRAM (e.g.
    /// 'tracepoint:syscalls:sys_enter_open*', 'kprobe:vfs_*'; all without one).
    #[arg(short = 'l')]
    list: bool,
    /// Verbose listing: with -l, each tracepoint's fields too (`-lv`). Without -l it
    /// changes nothing.
    #[arg(short = 'v')]
    verbose: bool,
    /// Output format: text (default) or json.
    #[arg(short = 'f', value_name = "FORMAT", default_value = "text")]
    format: String,
    /// Print each probe's BPF instructions instead of loading them.
    #[arg(long)]
    dry_run: bool,
    /// Load through a BPF token from the bpffs mounted at PATH (default: $BPFKIT_TOKEN_PATH,
    /// else /sys/fs/bpf when running in a user namespace).
    #[arg(long, value_name = "PATH")]
    token_path: Option<std::path::PathBuf>,
}

/// Runs `bpfkit trace`.
pub fn run(args: Args) -> Result<(), String> {
    if args.list {
        let pattern = args.program.as_deref().unwrap_or("*");
        let names = if args.verbose {
            bpfkit_trace::runtime::list_verbose(pattern)?
        } else {
            bpfkit_trace::runtime::list(pattern)?
        };
        for name in names {
            println!("{name}");
        }
        return Ok(());
    }
    let format = match args.format.as_str() {
        "text" => OutputFormat::Text,
        "json" => OutputFormat::Json,
        other => {
            return Err(format!(
                "unknown output format '{other}': expected text or json"
            ))
        }
    };
    let mut params = args.params;
    let (source, file) = match (args.expr, args.program) {
        (Some(e), None) => (e, "stdin".to_string()),
        (Some(e), Some(first)) => {
            params.insert(0, first);
            (e, "stdin".to_string())
        }
        (None, Some(p)) if std::path::Path::new(&p).is_file() => {
            let text = std::fs::read_to_string(&p).map_err(|e| format!("read {p}: {e}"))?;
            (text, p)
        }
        (None, Some(p)) => (p, "stdin".to_string()),
        (None, None) => return Err("no program: give it with -e 'PROGRAM' or as a file".into()),
    };
    let opts = bpfkit_trace::Options {
        format,
        pid: args.pid,
        command: args.command,
        dry_run: args.dry_run,
        params,
        token_path: args.token_path,
    };
    let stdout = std::io::stdout();
    match bpfkit_trace::run(&source, &file, &opts, stdout.lock()) {
        Ok(()) => Ok(()),
        // The reader went away (`| head`): stop quietly, as bpftrace does on SIGPIPE.
        Err(bpfkit_trace::TraceError::Io { source, .. })
            if source.kind() == std::io::ErrorKind::BrokenPipe =>
        {
            Ok(())
        }
        Err(bpfkit_trace::TraceError::Compile(text)) => Err(text.trim_end().to_string()),
        // The whole chain: an I/O error's cause (`-c CMD: not found in PATH`) is its source.
        Err(other) => Err(bpfkit::Report(&other).to_string()),
    }
}
