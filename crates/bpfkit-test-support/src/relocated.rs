//! The instructions libbpf hands to the kernel, caught at its `bpf(BPF_PROG_LOAD)` syscall.
//!
//! The oracle's `relocated` command defines `syscall` itself, so libbpf's calls reach it
//! instead of libc's: each `BPF_PROG_LOAD` is recorded (name, type, attach fields,
//! instructions) before being forwarded, or answered with a dummy fd under
//! [`RelocateOptions::fake_load`].

use std::path::{Path, PathBuf};

use serde::Deserialize;

use bpfkit_obj::insn::Insn;

use crate::insn::insn_from_hex;
use crate::libbpf::{run_oracle, LibbpfError, LibbpfObject};

/// Knobs for [`libbpf_relocated`], mirroring what a loader sets between open and load.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RelocateOptions {
    /// `bpf_object_open_opts.btf_custom_path`: target BTF for CO-RE instead of the kernel's.
    pub btf_custom_path: Option<PathBuf>,
    /// `bpf_map__set_max_entries` calls made before load, as `(map name, max_entries)`.
    pub max_entries: Vec<(String, u32)>,
    /// `bpf_map__set_value_size` calls made before load, as `(map name, value_size)`
    /// (e.g. the libbpf-tools' stack trace maps, sized from `perf_max_stack_depth`).
    pub value_size: Vec<(String, u32)>,
    /// `bpf_program__set_autoload` calls made before load, as `(program name, autoload)`.
    pub autoload: Vec<(String, bool)>,
    /// `bpf_object_open_opts.pin_root_path`: where `LIBBPF_PIN_BY_NAME` maps are pinned
    /// and reused instead of /sys/fs/bpf (a private directory keeps tests independent).
    pub pin_root_path: Option<PathBuf>,
    /// `bpf_program__set_type` calls made before load, as `(program name, prog type)`:
    /// gives a type to programs whose section libbpf 1.1 does not know (e.g. cilium's
    /// `socket_filter/...`), which it would otherwise refuse to load.
    pub prog_types: Vec<(String, u32)>,
    /// Do not hand the object's programs to the kernel: each load "succeeds" with a dummy fd,
    /// so programs the verifier (or missing privileges) would reject still show their code.
    /// Maps and BTF are still created for real.
    pub fake_load: bool,
}

/// One `BPF_PROG_LOAD` command libbpf issued, as it reached the syscall.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProgLoad {
    /// `attr.prog_name` (the kernel keeps 15 bytes; empty for libbpf's feature probes).
    pub name: String,
    /// `attr.prog_type`.
    pub prog_type: u32,
    /// `attr.expected_attach_type`.
    pub expected_attach_type: u32,
    /// `attr.attach_btf_id` (fentry/tp_btf/lsm targets).
    pub attach_btf_id: u32,
    /// `attr.attach_prog_fd` (freplace); an fd of the oracle process, nonzero means set.
    pub attach_prog_fd: u32,
    /// `attr.prog_flags`.
    pub prog_flags: u32,
    /// `attr.log_level`: 0 on libbpf's first attempt, 1+ on its retry that fetches the log.
    pub log_level: u32,
    /// Whether the syscall returned an fd (always true for faked loads).
    pub ok: bool,
    /// errno of a failed load, 0 otherwise.
    pub errno: i32,
    /// `attr.insns`; mask map fds with [`crate::mask_fd_immediates`] before comparing.
    pub insns: Vec<Insn>,
}

/// An object program and the load libbpf issued for it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RelocatedProgram {
    /// `bpf_program__name`.
    pub name: String,
    /// libbpf's first `BPF_PROG_LOAD` for it: relocated, subprograms appended.
    pub load: ProgLoad,
    /// Whether the kernel (or the fake) accepted it, on the first attempt or a retry.
    pub accepted: bool,
}

/// What `bpf_object__load` did with an object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LibbpfRelocated {
    /// The object as libbpf saw it after load (map sizes as created).
    pub object: LibbpfObject,
    /// Each autoloaded program libbpf got as far as handing to the kernel, in load order.
    /// Programs after a rejected one are missing (libbpf stops at the first failure).
    pub programs: Vec<RelocatedProgram>,
    /// Every `BPF_PROG_LOAD` during load, libbpf's feature probes and retries included.
    pub loads: Vec<ProgLoad>,
    /// libbpf's report when `bpf_object__load` failed.
    pub load_error: Option<LibbpfError>,
}

impl LibbpfRelocated {
    /// The relocated program named `name`, if libbpf issued its load.
    pub fn program(&self, name: &str) -> Option<&RelocatedProgram> {
        self.programs.iter().find(|p| p.name == name)
    }
}

#[derive(Deserialize)]
struct RawLoad {
    name: String,
    prog_type: u32,
    expected_attach_type: u32,
    attach_btf_id: u32,
    attach_prog_fd: u32,
    prog_flags: u32,
    log_level: u32,
    ok: bool,
    errno: i32,
    insns: Vec<String>,
}

#[derive(Deserialize)]
struct RawOutput {
    #[serde(flatten)]
    object: Option<LibbpfObject>,
    #[serde(default)]
    loads: Vec<RawLoad>,
    error: Option<LibbpfError>,
}

/// The kernel's view of a program name: `BPF_OBJ_NAME_LEN` is 16 including the NUL.
fn kernel_name(name: &str) -> &str {
    let mut end = name.len().min(15);
    while !name.is_char_boundary(end) {
        end -= 1;
    }
    &name[..end]
}

/// Runs `bpf_object__open_file` + `bpf_object__load` on `path` in the oracle and returns the
/// instructions of each program exactly as libbpf passed them to `bpf(BPF_PROG_LOAD)`:
/// after CO-RE, map, extern, call and subprogram relocation.
///
/// `Err` is libbpf's refusal to open the object (as for [`crate::libbpf_parse`]); a load
/// failure is `Ok` with [`LibbpfRelocated::load_error`] set and the rejected program's
/// instructions still recorded. Panics only when the oracle cannot be built or run.
///
/// ```no_run
/// use bpfkit_test_support::{corpus_dir, libbpf_relocated, RelocateOptions};
/// let dir = corpus_dir().join("cilium/btf/testdata");
/// let opts = RelocateOptions {
///     btf_custom_path: Some(dir.join("relocs_read_tgt-el.elf")),
///     fake_load: true,
///     ..Default::default()
/// };
/// let out = libbpf_relocated(&dir.join("relocs_read-el.elf"), &opts).unwrap();
/// assert!(!out.programs[0].load.insns.is_empty());
/// ```
pub fn libbpf_relocated(path: &Path, opts: &RelocateOptions) -> Result<LibbpfRelocated, String> {
    let args = oracle_args("relocated", path, opts);
    let args: Vec<&std::ffi::OsStr> = args.iter().map(|a| a.as_os_str()).collect();
    let stdout = run_oracle(&args);
    parse_relocated(path, &stdout)
}

/// Loads `path` with libbpf (`bpf_object__open_file` + `bpf_object__load`, the oracle's
/// `load` command: nothing recorded or faked, `opts.fake_load` ignored) and returns how
/// many programs got an fd; everything is unloaded when the oracle exits. `Err` is
/// libbpf's report (errno, message, log) of a failed open or load.
///
/// For benchmarks, run `oracle_path()` with `["load", OBJ]` directly: that process is
/// libbpf's whole exec→loaded path.
pub fn libbpf_load(path: &Path, opts: &RelocateOptions) -> Result<usize, String> {
    libbpf_load_into(path, opts, None)
}

/// The oracle's `load` command, pinning under `pin_dir` when given.
pub(crate) fn libbpf_load_into(
    path: &Path,
    opts: &RelocateOptions,
    pin_dir: Option<&Path>,
) -> Result<usize, String> {
    let opts = RelocateOptions {
        fake_load: false,
        ..opts.clone()
    };
    let mut args = oracle_args("load", path, &opts);
    if let Some(dir) = pin_dir {
        args.push("--pin-dir".into());
        args.push(dir.into());
    }
    let args: Vec<&std::ffi::OsStr> = args.iter().map(|a| a.as_os_str()).collect();
    let stdout = run_oracle(&args);
    #[derive(Deserialize)]
    struct LoadOutput {
        loaded: Option<usize>,
        error: Option<LibbpfError>,
    }
    let out: LoadOutput = serde_json::from_slice(&stdout).unwrap_or_else(|e| {
        panic!(
            "libbpf oracle printed invalid JSON for {}: {e}",
            path.display()
        )
    });
    match (out.error, out.loaded) {
        (Some(err), _) => Err(err.to_string()),
        (None, Some(n)) => Ok(n),
        (None, None) => panic!("libbpf oracle printed neither result nor error"),
    }
}

fn oracle_args(command: &str, path: &Path, opts: &RelocateOptions) -> Vec<std::ffi::OsString> {
    let mut args: Vec<std::ffi::OsString> = vec![command.into(), path.into()];
    push_object_options(&mut args, opts);
    if opts.fake_load {
        args.push("--fake-load".into());
    }
    args
}

/// The oracle flags for `opts`' open options and pre-load settings (not `fake_load`).
pub(crate) fn push_object_options(args: &mut Vec<std::ffi::OsString>, opts: &RelocateOptions) {
    if let Some(btf) = &opts.btf_custom_path {
        args.push("--btf".into());
        args.push(btf.into());
    }
    if let Some(root) = &opts.pin_root_path {
        args.push("--pin-root".into());
        args.push(root.into());
    }
    for (map, n) in &opts.max_entries {
        args.push("--max-entries".into());
        args.push(format!("{map}={n}").into());
    }
    for (map, n) in &opts.value_size {
        args.push("--value-size".into());
        args.push(format!("{map}={n}").into());
    }
    for (prog, on) in &opts.autoload {
        args.push("--autoload".into());
        args.push(format!("{prog}={}", u8::from(*on)).into());
    }
    for (prog, prog_type) in &opts.prog_types {
        args.push("--prog-type".into());
        args.push(format!("{prog}={prog_type}").into());
    }
}

fn parse_relocated(path: &Path, stdout: &[u8]) -> Result<LibbpfRelocated, String> {
    let raw: RawOutput = serde_json::from_slice(stdout).unwrap_or_else(|e| {
        panic!(
            "libbpf oracle printed invalid JSON for {}: {e}",
            path.display()
        )
    });
    let Some(object) = raw.object else {
        return Err(raw
            .error
            .map(|e| e.to_string())
            .unwrap_or_else(|| "libbpf oracle printed neither result nor error".into()));
    };
    let loads: Vec<ProgLoad> = raw
        .loads
        .into_iter()
        .map(|r| ProgLoad {
            insns: r
                .insns
                .iter()
                .map(|h| {
                    insn_from_hex(h).unwrap_or_else(|| panic!("oracle printed bad insn {h:?}"))
                })
                .collect(),
            name: r.name,
            prog_type: r.prog_type,
            expected_attach_type: r.expected_attach_type,
            attach_btf_id: r.attach_btf_id,
            attach_prog_fd: r.attach_prog_fd,
            prog_flags: r.prog_flags,
            log_level: r.log_level,
            ok: r.ok,
            errno: r.errno,
        })
        .collect();

    // libbpf loads autoloaded programs in object order; each starts with a log_level 0
    // attempt named after it, possibly followed by log-fetching retries (log_level > 0).
    let mut programs = Vec::new();
    let mut cursor = 0;
    for prog in object.programs.iter().filter(|p| p.autoload) {
        let name = kernel_name(&prog.name);
        let Some(first) =
            (cursor..loads.len()).find(|&i| loads[i].log_level == 0 && loads[i].name == name)
        else {
            break;
        };
        let mut accepted = loads[first].ok;
        let mut next = first + 1;
        while next < loads.len() && loads[next].log_level > 0 && loads[next].name == name {
            accepted |= loads[next].ok;
            next += 1;
        }
        programs.push(RelocatedProgram {
            name: prog.name.clone(),
            load: loads[first].clone(),
            accepted,
        });
        cursor = next;
    }
    Ok(LibbpfRelocated {
        object,
        programs,
        loads,
        load_error: raw.error,
    })
}
