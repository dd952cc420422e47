//! Ground truth for attach tests: libbpf loads and attaches an object, runs a command, and
//! reports the object's global counters afterwards.

use std::collections::BTreeMap;
use std::ffi::{OsStr, OsString};
use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::libbpf::{run_oracle, LibbpfError};
use crate::relocated::RelocateOptions;

/// How the oracle attaches one program (all processes; detached after the command).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Attach {
    /// `bpf_program__attach`: libbpf picks the attach point from the section name
    /// (tracepoint/..., raw_tp/..., tp_btf/..., ...).
    Auto {
        /// Program name.
        program: String,
    },
    /// `bpf_program__attach_uprobe_opts` on `function` of `binary` for the command's pid
    /// (a uretprobe when the program's section starts with `uretprobe`).
    Uprobe {
        /// Program name.
        program: String,
        /// Executable or library.
        binary: PathBuf,
        /// Symbol to probe.
        function: String,
    },
    /// `bpf_program__attach_usdt` on `provider:name` of `binary` for the command's pid.
    Usdt {
        /// Program name.
        program: String,
        /// Executable containing the `.note.stapsdt` probe.
        binary: PathBuf,
        /// USDT provider.
        provider: String,
        /// USDT probe name.
        name: String,
    },
}

/// What [`libbpf_trace_run`] observed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TraceRun {
    /// The command's exit code (-1 when it did not exit normally).
    pub exit_code: i32,
    /// Integer variables (1, 2, 4 or 8 bytes, read as unsigned little-endian) of the
    /// object's `.bss` and `.data*` sections after the run, by section then variable.
    pub globals: BTreeMap<String, BTreeMap<String, u64>>,
}

impl TraceRun {
    /// The variable `name` of `.bss`, if present.
    pub fn bss(&self, name: &str) -> Option<u64> {
        self.globals.get(".bss")?.get(name).copied()
    }
}

#[derive(Deserialize)]
struct RawTrace {
    exit_code: Option<i32>,
    globals: Option<BTreeMap<String, BTreeMap<String, u64>>>,
    error: Option<LibbpfError>,
}

/// Loads `obj` with libbpf (with `opts`' `btf_custom_path`, `pin_root_path`,
/// `max_entries`, `autoload`, `prog_types`), starts `command` (stdin and stdout on
/// /dev/null) held until the programs are attached as `attach` says — uprobes and USDT
/// probes for the command's pid only, so other processes running the same binary do not
/// count —, lets it run to completion, detaches everything and reads the object's
/// globals: the oracle's `trace` command. `Err` is libbpf's report when open, load or an
/// attach fails. Panics only when the oracle cannot be built or run.
///
/// ```no_run
/// use bpfkit_test_support::{c_program, fixture, libbpf_trace_run, Attach, RelocateOptions};
/// let target = c_program("usdt_target");
/// let run = libbpf_trace_run(
///     &fixture("usdt_uprobe"),
///     &RelocateOptions::default(),
///     &[Attach::Usdt {
///         program: "on_tick".into(),
///         binary: target.clone(),
///         provider: "bpfkit".into(),
///         name: "tick".into(),
///     }],
///     &[target.as_os_str(), "3".as_ref()],
/// )
/// .unwrap();
/// assert_eq!(run.bss("ticks"), Some(3));
/// ```
pub fn libbpf_trace_run(
    obj: &Path,
    opts: &RelocateOptions,
    attach: &[Attach],
    command: &[&OsStr],
) -> Result<TraceRun, String> {
    let mut args: Vec<OsString> = vec!["trace".into(), obj.into()];
    crate::relocated::push_object_options(&mut args, opts);
    for a in attach {
        let (flag, spec): (&str, OsString) = match a {
            Attach::Auto { program } => ("--attach-auto", format!("{program}=").into()),
            Attach::Uprobe {
                program,
                binary,
                function,
            } => {
                let mut spec = OsString::from(format!("{program}="));
                spec.push(binary);
                spec.push(format!(":{function}"));
                ("--attach-uprobe", spec)
            }
            Attach::Usdt {
                program,
                binary,
                provider,
                name,
            } => {
                let mut spec = OsString::from(format!("{program}="));
                spec.push(binary);
                spec.push(format!(":{provider}:{name}"));
                ("--attach-usdt", spec)
            }
        };
        args.push(flag.into());
        args.push(spec);
    }
    args.push("--".into());
    args.extend(command.iter().map(|c| c.to_os_string()));
    let args: Vec<&OsStr> = args.iter().map(|a| a.as_os_str()).collect();
    let stdout = run_oracle(&args);
    let raw: RawTrace = serde_json::from_slice(&stdout).unwrap_or_else(|e| {
        panic!(
            "libbpf oracle printed invalid JSON for {}: {e}",
            obj.display()
        )
    });
    match (raw.error, raw.exit_code, raw.globals) {
        (Some(err), _, _) => Err(err.to_string()),
        (None, Some(exit_code), Some(globals)) => Ok(TraceRun { exit_code, globals }),
        _ => panic!("libbpf oracle printed neither result nor error"),
    }
}
