//! Ground truth from the system's libbpf: its parse of an object and the instructions it loads.
//!
//! Everything here runs `testdata/oracle/libbpf_oracle.c`, compiled once with gcc against
//! Debian's libbpf-dev (`-lbpf -lelf -lz`) into the test cache (see [`crate::cache_root`]).

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use serde::Deserialize;

use crate::cache::{cached_artifact, run};

const ORACLE_SOURCE: &str = include_str!("../../../testdata/oracle/libbpf_oracle.c");

/// The compiled oracle executable. Panics with the compiler's message when gcc or
/// libbpf-dev is missing (that is a broken test host, not a result).
pub fn oracle_path() -> PathBuf {
    static PATH: OnceLock<Result<PathBuf, String>> = OnceLock::new();
    let result = PATH.get_or_init(|| build_libbpf_program("libbpf_oracle", ORACLE_SOURCE, "-O1"));
    match result {
        Ok(path) => path.clone(),
        Err(e) => panic!("{e}"),
    }
}

/// Compiles the C program `source` with `gcc OPT -Wall -x c - -lbpf -lelf -lz` into the
/// test cache as `name` (once per distinct source and flags).
pub(crate) fn build_libbpf_program(name: &str, source: &str, opt: &str) -> Result<PathBuf, String> {
    const LIBS: &[&str] = &["-lbpf", "-lelf", "-lz"];
    let flags = [opt, "-Wall", "-x", "c", "-"];
    let mut key: Vec<&[u8]> = vec![source.as_bytes()];
    key.extend(flags.iter().chain(LIBS).map(|f| f.as_bytes()));
    cached_artifact(name, &key, name, |tmp| {
        use std::io::Write;
        let mut child = Command::new("gcc")
            .args(flags)
            .arg("-o")
            .arg(tmp)
            .args(LIBS)
            .stdin(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .map_err(|e| format!("cannot run gcc: {e}"))?;
        if let Some(mut stdin) = child.stdin.take() {
            stdin
                .write_all(source.as_bytes())
                .map_err(|e| format!("cannot feed gcc: {e}"))?;
        }
        let out = child
            .wait_with_output()
            .map_err(|e| format!("gcc did not finish: {e}"))?;
        if !out.status.success() {
            return Err(format!(
                "gcc failed to build {name} (is libbpf-dev installed?):\n{}",
                String::from_utf8_lossy(&out.stderr)
            ));
        }
        Ok(())
    })
}

/// A program as libbpf's `bpf_object__open_file` sees it.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct LibbpfProgram {
    /// `bpf_program__name`: the function's symbol name.
    pub name: String,
    /// `bpf_program__section_name`.
    pub section: String,
    /// `bpf_program__type` (`enum bpf_prog_type`).
    pub prog_type: u32,
    /// `libbpf_bpf_prog_type_str`, e.g. `"tracepoint"`; `None` for types libbpf 1.1 lacks.
    pub prog_type_name: Option<String>,
    /// `bpf_program__expected_attach_type` (`enum bpf_attach_type`).
    pub expected_attach_type: u32,
    /// `libbpf_bpf_attach_type_str`, e.g. `"trace_raw_tp"` (0 reads `"cgroup_inet_ingress"`).
    pub expected_attach_type_name: Option<String>,
    /// `bpf_program__autoload`.
    pub autoload: bool,
    /// `bpf_program__insn_cnt`: instructions of the entry function before linking subprograms.
    pub insn_count: usize,
    /// `bpf_program__flags` (`BPF_F_SLEEPABLE`, `BPF_F_XDP_HAS_FRAGS`, ...).
    pub prog_flags: u32,
}

/// A map as libbpf's `bpf_object__open_file` (or, after load, `bpf_object__load`) sees it.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct LibbpfMap {
    /// `bpf_map__name` (internal maps read like `"execsnoo.rodata"`).
    pub name: String,
    /// `bpf_map__type` (`enum bpf_map_type`).
    pub map_type: u32,
    /// `libbpf_bpf_map_type_str`, e.g. `"perf_event_array"`.
    pub map_type_name: Option<String>,
    /// `bpf_map__key_size`.
    pub key_size: u32,
    /// `bpf_map__value_size`.
    pub value_size: u32,
    /// `bpf_map__max_entries`.
    pub max_entries: u32,
    /// `bpf_map__map_flags`.
    pub map_flags: u32,
    /// `bpf_map__map_extra`.
    pub map_extra: u64,
    /// `bpf_map__numa_node`.
    pub numa_node: u32,
    /// `bpf_map__is_internal`: `.data`/`.rodata`/`.bss`/`.kconfig` maps.
    pub internal: bool,
    /// `bpf_map__pin_path`: `Some("/sys/fs/bpf/<name>")` for `LIBBPF_PIN_BY_NAME` maps.
    pub pin_path: Option<String>,
    /// `bpf_map__type(bpf_map__inner_map)` for map-in-map definitions.
    pub inner_map_type: Option<u32>,
}

/// libbpf's parse of one object file.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct LibbpfObject {
    /// Programs in libbpf's order (`bpf_object__for_each_program`, subprograms excluded).
    pub programs: Vec<LibbpfProgram>,
    /// Maps in libbpf's order (`bpf_object__for_each_map`, internal maps included).
    pub maps: Vec<LibbpfMap>,
}

impl LibbpfObject {
    /// The program named `name`, if libbpf found one.
    pub fn program(&self, name: &str) -> Option<&LibbpfProgram> {
        self.programs.iter().find(|p| p.name == name)
    }

    /// The map named `name`, if libbpf found one.
    pub fn map(&self, name: &str) -> Option<&LibbpfMap> {
        self.maps.iter().find(|m| m.name == name)
    }
}

/// libbpf's failure report: the errno it returned and every line it logged.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct LibbpfError {
    /// Positive errno (e.g. 95 for `EOPNOTSUPP`).
    pub errno: i32,
    /// `libbpf_strerror` of it.
    pub message: String,
    /// Lines libbpf printed at warn/info level, without trailing newlines.
    pub log: Vec<String>,
}

impl std::fmt::Display for LibbpfError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "errno {} ({})", self.errno, self.message)?;
        for line in &self.log {
            write!(f, "\n{line}")?;
        }
        Ok(())
    }
}

#[derive(Deserialize)]
struct ParseOutput {
    #[serde(flatten)]
    object: Option<LibbpfObject>,
    error: Option<LibbpfError>,
}

pub(crate) fn run_oracle(args: &[&std::ffi::OsStr]) -> Vec<u8> {
    let mut cmd = Command::new(oracle_path());
    cmd.args(args);
    run(&mut cmd).unwrap_or_else(|e| panic!("libbpf oracle crashed: {e}"))
}

/// libbpf's own parse of the object at `path`: runs the oracle's `parse` command, i.e.
/// `bpf_object__open_file(path, NULL)` without touching the kernel, and reports each
/// program and map through libbpf's getters.
///
/// `Err` holds libbpf's refusal: `"errno N (message)"` followed by the lines it logged,
/// e.g. `errno 95 (Operation not supported)\nlibbpf: elf: legacy map definitions in 'maps'
/// section are not supported by libbpf v1.0+`. Panics only when the oracle cannot be built
/// or run.
///
/// ```no_run
/// let obj = bpfkit_test_support::libbpf_parse(
///     &bpfkit_test_support::corpus_dir().join("libbpf-tools/execsnoop.bpf.o"),
/// )
/// .unwrap();
/// assert_eq!(obj.programs[0].section, "tracepoint/syscalls/sys_enter_execve");
/// ```
pub fn libbpf_parse(path: &Path) -> Result<LibbpfObject, String> {
    let stdout = run_oracle(&["parse".as_ref(), path.as_os_str()]);
    let out: ParseOutput = serde_json::from_slice(&stdout).unwrap_or_else(|e| {
        panic!(
            "libbpf oracle printed invalid JSON for {}: {e}",
            path.display()
        )
    });
    match (out.error, out.object) {
        (Some(err), _) => Err(err.to_string()),
        (None, Some(object)) => Ok(object),
        (None, None) => panic!("libbpf oracle printed neither result nor error"),
    }
}

/// One name looked up by [`libbpf_btf_find`].
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct LibbpfBtfType {
    /// The name asked for.
    pub name: String,
    /// `btf__find_by_name`'s id, `None` when absent (libbpf returned an error).
    #[serde(deserialize_with = "id_or_none")]
    pub id: Option<u32>,
    /// `btf_kind()` of the type (`BTF_KIND_*` number).
    pub kind: Option<u32>,
    /// `btf__resolve_size()`, `None` for kinds without a size (e.g. FUNC).
    pub size: Option<u64>,
}

fn id_or_none<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<u32>, D::Error> {
    let id = i64::deserialize(d)?;
    Ok(u32::try_from(id).ok())
}

/// libbpf's lookup of `names` in the BTF at `path`: the oracle's `btf-find` command,
/// `btf__parse` (raw BTF or an ELF's `.BTF`) then `btf__find_by_name` for each name, in
/// order. `Err` is libbpf's report when it cannot parse the file.
///
/// ```no_run
/// let found = bpfkit_test_support::libbpf_btf_find(
///     std::path::Path::new("/sys/kernel/btf/vmlinux"),
///     &["task_struct"],
/// )
/// .unwrap();
/// assert_eq!(found[0].kind, Some(4)); // BTF_KIND_STRUCT
/// ```
pub fn libbpf_btf_find(path: &Path, names: &[&str]) -> Result<Vec<LibbpfBtfType>, String> {
    let mut args: Vec<&std::ffi::OsStr> = vec!["btf-find".as_ref(), path.as_os_str()];
    args.extend(names.iter().map(std::ffi::OsStr::new));
    let stdout = run_oracle(&args);
    #[derive(Deserialize)]
    struct FindOutput {
        types: Option<Vec<LibbpfBtfType>>,
        error: Option<LibbpfError>,
    }
    let out: FindOutput = serde_json::from_slice(&stdout).unwrap_or_else(|e| {
        panic!(
            "libbpf oracle printed invalid JSON for {}: {e}",
            path.display()
        )
    });
    match (out.error, out.types) {
        (Some(err), _) => Err(err.to_string()),
        (None, Some(types)) => Ok(types),
        (None, None) => panic!("libbpf oracle printed neither result nor error"),
    }
}
