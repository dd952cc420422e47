//! Ground truth from bpftool: what the kernel holds (programs, maps, BTF) and libbpf's loader.
//!
//! Every function runs `bpftool` (Debian's 7.1, built on libbpf 1.1) and parses its `-j`
//! JSON; they panic when bpftool itself is missing, and return `Err` with its stderr
//! when the command fails.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicU64, Ordering};

use serde_json::Value;

use crate::cache::run;
use bpfkit_obj::insn::Insn;

/// Runs `bpftool -j ARGS...` and returns its JSON output.
pub fn bpftool_json<I, S>(args: I) -> Result<Value, String>
where
    I: IntoIterator<Item = S>,
    S: AsRef<std::ffi::OsStr>,
{
    let out = run(Command::new("bpftool").arg("-j").args(args))?;
    serde_json::from_slice(&out).map_err(|e| format!("bpftool printed invalid JSON: {e}"))
}

/// `bpftool -j prog show id ID`: the kernel's `bpf_prog_info` (id, type, name, tag,
/// bytes_xlated, map_ids, btf_id, ...) as JSON.
pub fn prog_show(id: u32) -> Result<Value, String> {
    bpftool_json(["prog", "show", "id", &id.to_string()])
}

/// `bpftool -j prog list`: every program loaded on the host.
pub fn prog_list() -> Result<Vec<Value>, String> {
    match bpftool_json(["prog", "list"])? {
        Value::Array(progs) => Ok(progs),
        other => Err(format!("bpftool prog list: expected an array, got {other}")),
    }
}

/// `bpftool -j map show id ID`: the kernel's `bpf_map_info` (type, bytes_key,
/// bytes_value, max_entries, flags, ...) as JSON.
pub fn map_show(id: u32) -> Result<Value, String> {
    bpftool_json(["map", "show", "id", &id.to_string()])
}

/// One element of a map, as `bpftool -j map dump` prints it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MapEntry {
    /// Key bytes.
    pub key: Vec<u8>,
    /// Value bytes (for per-CPU maps, the first CPU's value).
    pub value: Vec<u8>,
    /// bpftool's BTF-formatted view (`{"key": .., "value": ..}`) when the map has BTF.
    pub formatted: Option<Value>,
}

fn hex_bytes(v: &Value) -> Result<Vec<u8>, String> {
    v.as_array()
        .ok_or_else(|| format!("expected an array of hex bytes, got {v}"))?
        .iter()
        .map(|b| {
            b.as_str()
                .and_then(|s| u8::from_str_radix(s.trim_start_matches("0x"), 16).ok())
                .ok_or_else(|| format!("bad hex byte {b}"))
        })
        .collect()
}

/// `bpftool -j map dump id ID`: every element of the map.
pub fn map_dump(id: u32) -> Result<Vec<MapEntry>, String> {
    let entries = bpftool_json(["map", "dump", "id", &id.to_string()])?;
    let entries = entries
        .as_array()
        .ok_or_else(|| format!("bpftool map dump: expected an array, got {entries}"))?;
    entries
        .iter()
        .map(|e| {
            let value = match &e["value"] {
                Value::Null => &e["values"][0]["value"],
                v => v,
            };
            Ok(MapEntry {
                key: hex_bytes(&e["key"])?,
                value: hex_bytes(value)?,
                formatted: e.get("formatted").cloned(),
            })
        })
        .collect()
}

/// `bpftool prog dump xlated id ID`: the kernel's translated program as text (the
/// verifier-log syntax, with source lines from BTF line info).
pub fn prog_dump_xlated_text(id: u32) -> Result<String, String> {
    let out = run(Command::new("bpftool").args(["prog", "dump", "xlated", "id", &id.to_string()]))?;
    Ok(String::from_utf8_lossy(&out).into_owned())
}

/// `bpftool prog dump xlated id ID file TMP`: the kernel's translated instructions, raw.
/// The kernel rewrites map references in a dump: `ld_imm64` with `BPF_PSEUDO_MAP_FD`/
/// `BPF_PSEUDO_MAP_VALUE` carries the map's id instead of an fd.
pub fn prog_dump_xlated(id: u32) -> Result<Vec<Insn>, String> {
    let tmp = unique_temp("xlated");
    let result = run(Command::new("bpftool")
        .args(["prog", "dump", "xlated", "id", &id.to_string(), "file"])
        .arg(&tmp))
    .and_then(|_| std::fs::read(&tmp).map_err(|e| format!("cannot read {}: {e}", tmp.display())));
    let _ = std::fs::remove_file(&tmp);
    let bytes = result?;
    Ok(bytes
        .chunks_exact(8)
        .map(|c| {
            let mut b = [0u8; 8];
            b.copy_from_slice(c);
            Insn::from_bytes(b)
        })
        .collect())
}

/// The outcome of one `BPF_PROG_TEST_RUN` through bpftool.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProgRun {
    /// The program's return value.
    pub retval: u32,
    /// Average run time in nanoseconds, as the kernel measured it.
    pub duration_ns: u64,
}

fn unique_temp(label: &str) -> PathBuf {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    std::env::temp_dir().join(format!(
        "bpfkit-{label}-{}-{}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    ))
}

/// `bpftool -j prog run id ID data_in FILE repeat REPEAT`: runs the program once per
/// repeat with `data_in` as its packet (BPF_PROG_TEST_RUN; XDP needs at least 14 bytes).
pub fn prog_run(id: u32, data_in: &[u8], repeat: u32) -> Result<ProgRun, String> {
    let input = unique_temp("data-in");
    std::fs::write(&input, data_in)
        .map_err(|e| format!("cannot write {}: {e}", input.display()))?;
    let result = bpftool_json([
        "prog".as_ref(),
        "run".as_ref(),
        "id".as_ref(),
        id.to_string().as_ref(),
        "data_in".as_ref(),
        input.as_os_str(),
        "repeat".as_ref(),
        repeat.to_string().as_ref(),
    ] as [&std::ffi::OsStr; 8]);
    let _ = std::fs::remove_file(&input);
    let out = result?;
    Ok(ProgRun {
        retval: as_u32(&out, "retval")?,
        duration_ns: out["duration"].as_u64().unwrap_or(0),
    })
}

/// One type of a BTF blob as `bpftool btf dump file` lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BtfTypeSummary {
    /// Type id.
    pub id: u32,
    /// bpftool's kind name: `"STRUCT"`, `"FUNC_PROTO"`, `"ENUM64"`, `"DECL_TAG"`, ...
    pub kind: String,
    /// The type's name; `None` for anonymous types (`'(anon)'`).
    pub name: Option<String>,
    /// `size=` for kinds that have one (INT, STRUCT, UNION, ENUM*, FLOAT, DATASEC).
    pub size: Option<u64>,
}

/// Every type (type 0, void, excluded) of the BTF at `path` — raw BTF such as
/// /sys/kernel/btf/vmlinux or an ELF object's `.BTF` — parsed from the text of
/// `bpftool btf dump file PATH`. Results are memoized per process for the kernel's
/// own BTF (/sys/kernel/btf/*), which cannot change while the tests run.
pub fn btf_types(path: &Path) -> Result<Vec<BtfTypeSummary>, String> {
    type Memo = std::sync::Mutex<BTreeMap<PathBuf, Vec<BtfTypeSummary>>>;
    static KERNEL_BTF: std::sync::OnceLock<Memo> = std::sync::OnceLock::new();
    let memo = path
        .starts_with("/sys/kernel/btf")
        .then(|| KERNEL_BTF.get_or_init(Default::default));
    if let Some(memo) = memo {
        let cached = memo.lock().map_err(|e| e.to_string())?;
        if let Some(types) = cached.get(path) {
            return Ok(types.clone());
        }
    }
    let types = dump_btf_types(path)?;
    if let Some(memo) = memo {
        memo.lock()
            .map_err(|e| e.to_string())?
            .insert(path.to_path_buf(), types.clone());
    }
    Ok(types)
}

fn dump_btf_types(path: &Path) -> Result<Vec<BtfTypeSummary>, String> {
    let out = run(Command::new("bpftool")
        .args(["btf", "dump", "file"])
        .arg(path))?;
    let text = String::from_utf8_lossy(&out);
    text.lines()
        .filter(|l| l.starts_with('['))
        .map(|line| {
            let bad = || format!("unexpected bpftool btf line {line:?}");
            let (id, rest) = line[1..].split_once("] ").ok_or_else(bad)?;
            let (kind, rest) = rest.split_once(' ').ok_or_else(bad)?;
            let name = rest
                .strip_prefix('\'')
                .and_then(|r| r.split_once('\''))
                .map(|(n, _)| n)
                .filter(|n| *n != "(anon)")
                .map(str::to_owned);
            let size = rest
                .split_whitespace()
                .find_map(|t| t.strip_prefix("size="))
                .and_then(|v| v.trim_end_matches(',').parse().ok());
            Ok(BtfTypeSummary {
                id: id.parse().map_err(|_| bad())?,
                kind: kind.to_owned(),
                name,
                size,
            })
        })
        .collect()
}

/// Number of types per kind (`"STRUCT"`, `"ENUM64"`, ...) and in total (`"total"`) of the
/// BTF at `path`, from [`btf_types`].
pub fn btf_kind_counts(path: &Path) -> Result<BTreeMap<String, usize>, String> {
    let types = btf_types(path)?;
    let mut counts = BTreeMap::new();
    for t in &types {
        *counts.entry(t.kind.clone()).or_insert(0) += 1;
    }
    counts.insert("total".to_owned(), types.len());
    Ok(counts)
}

/// The id of the type of kind `kind` named `name` in the BTF at `path`, if any.
pub fn btf_type_id(path: &Path, kind: &str, name: &str) -> Result<Option<u32>, String> {
    Ok(btf_types(path)?
        .into_iter()
        .find(|t| t.kind == kind && t.name.as_deref() == Some(name))
        .map(|t| t.id))
}

/// A program pinned by [`prog_loadall`], as the kernel reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PinnedProgram {
    /// Pin file name (libbpf uses the program's name).
    pub pin_name: String,
    /// Kernel program id.
    pub id: u32,
    /// bpftool's program type name, e.g. `"xdp"`, `"tracepoint"`.
    pub prog_type: String,
    /// The name in the kernel (bpftool completes it from BTF beyond 15 bytes).
    pub name: String,
    /// `bytes_xlated / 8`: instructions after the verifier's rewrites.
    pub xlated_insns: usize,
    /// Ids of the maps the program uses.
    pub map_ids: Vec<u32>,
    /// The full `bpftool -j prog show` JSON.
    pub info: Value,
}

/// A map pinned by [`prog_loadall`] (`pinmaps`), as the kernel reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PinnedMap {
    /// Pin file name (libbpf's map name, `.` replaced by `_`); for maps found through
    /// program map ids (objects with pin-by-name maps), the kernel's map name.
    pub pin_name: String,
    /// Kernel map id.
    pub id: u32,
    /// The full `bpftool -j map show` JSON.
    pub info: Value,
}

/// Programs and maps loaded by libbpf and pinned in a private directory (see
/// [`prog_loadall`], [`libbpf_load_pinned`]); removing the pins on drop unloads
/// everything (nothing else holds the fds).
#[derive(Debug)]
pub struct LoadedObject {
    dir: PathBuf,
    /// Where libbpf pins the object's `LIBBPF_PIN_BY_NAME` maps.
    auto_pins: Vec<PathBuf>,
    /// Those of `auto_pins` that did not exist before the load.
    created_pins: Vec<PathBuf>,
    /// Pinned programs, sorted by pin name.
    pub programs: Vec<PinnedProgram>,
    /// Pinned maps, sorted by pin name.
    pub maps: Vec<PinnedMap>,
}

impl LoadedObject {
    /// The pin directory (unique to this load, under /sys/fs/bpf).
    pub fn pin_dir(&self) -> &Path {
        &self.dir
    }

    /// The pinned map whose pin name is `name`.
    pub fn map(&self, name: &str) -> Option<&PinnedMap> {
        self.maps.iter().find(|m| m.pin_name == name)
    }

    /// The pinned program whose pin name is `name`.
    pub fn program(&self, name: &str) -> Option<&PinnedProgram> {
        self.programs.iter().find(|p| p.pin_name == name)
    }
}

impl Drop for LoadedObject {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
        for pin in &self.created_pins {
            let _ = std::fs::remove_file(pin);
        }
    }
}

/// Mounts bpffs at /sys/fs/bpf unless something already is.
pub fn ensure_bpffs() -> Result<(), String> {
    let mounts = std::fs::read_to_string("/proc/self/mounts")
        .map_err(|e| format!("cannot read /proc/self/mounts: {e}"))?;
    if mounts
        .lines()
        .any(|l| l.split_whitespace().nth(1) == Some("/sys/fs/bpf"))
    {
        return Ok(());
    }
    run(Command::new("mount").args(["-t", "bpf", "bpf", "/sys/fs/bpf"])).map(drop)
}

fn pins(dir: &Path) -> Vec<(String, PathBuf)> {
    let mut out: Vec<(String, PathBuf)> = std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .flatten()
                .filter(|e| e.file_type().is_ok_and(|t| t.is_file()))
                .map(|e| (e.file_name().to_string_lossy().into_owned(), e.path()))
                .collect()
        })
        .unwrap_or_default();
    out.sort();
    out
}

fn as_u32(v: &Value, field: &str) -> Result<u32, String> {
    v[field]
        .as_u64()
        .and_then(|n| u32::try_from(n).ok())
        .ok_or_else(|| format!("bpftool JSON lacks {field}: {v}"))
}

/// Loads `obj` with libbpf through `bpftool prog loadall OBJ DIR pinmaps DIR/maps`, where
/// DIR is a fresh `/sys/fs/bpf/bpfkit-test-<pid>-<n>` (bpffs is mounted there if needed),
/// then describes each pin with `bpftool -j prog/map show pinned`. `Err` carries
/// bpftool's stderr (libbpf's log and the kernel's verdict), e.g. for fentry on a host
/// where ftrace is locked down. The pins are removed when the result is dropped.
///
/// Objects with `LIBBPF_PIN_BY_NAME` maps are loaded without `pinmaps` (libbpf refuses
/// a second pin path): their maps are those libbpf pinned under /sys/fs/bpf plus the
/// maps the programs use, named by the kernel's map name. Pins libbpf created are
/// removed on drop; pins that existed before (and were reused) are left alone.
///
/// ```no_run
/// let loaded = bpfkit_test_support::prog_loadall(&bpfkit_test_support::fixture("tail_calls")).unwrap();
/// assert_eq!(loaded.program("dispatch").unwrap().prog_type, "xdp");
/// ```
pub fn prog_loadall(obj: &Path) -> Result<LoadedObject, String> {
    let mut loaded = LoadedObject::prepare(obj, None)?;
    let mut cmd = Command::new("bpftool");
    cmd.args(["prog", "loadall"]).arg(obj).arg(&loaded.dir);
    if loaded.auto_pins.is_empty() {
        cmd.arg("pinmaps").arg(loaded.dir.join("maps"));
    }
    run(&mut cmd)?;
    loaded.describe()?;
    Ok(loaded)
}

/// Like [`prog_loadall`], but loaded by libbpf itself through the oracle's `load`
/// command, so [`crate::RelocateOptions`]' `max_entries`, `autoload`, `prog_types`,
/// `btf_custom_path` and `pin_root_path` apply (e.g. the libbpf-tools objects whose maps are sized at run
/// time). Programs are pinned with `bpf_object__pin_programs`, maps with
/// `bpf_object__pin_maps` (same names as bpftool's); removed on drop.
pub fn libbpf_load_pinned(
    obj: &Path,
    opts: &crate::RelocateOptions,
) -> Result<LoadedObject, String> {
    let mut loaded = LoadedObject::prepare(obj, opts.pin_root_path.as_deref())?;
    crate::relocated::libbpf_load_into(obj, opts, Some(&loaded.dir))?;
    loaded.describe()?;
    Ok(loaded)
}

impl LoadedObject {
    /// A fresh pin directory for `obj`, owning it (and the pins libbpf will create by
    /// name) from the start so every exit path removes them.
    fn prepare(obj: &Path, pin_root: Option<&Path>) -> Result<Self, String> {
        static COUNTER: AtomicU64 = AtomicU64::new(0);
        ensure_bpffs()?;
        let dir = PathBuf::from(format!(
            "/sys/fs/bpf/bpfkit-test-{}-{}",
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::Relaxed)
        ));
        let auto_pins: Vec<PathBuf> = crate::libbpf_parse(obj)
            .map(|parsed| {
                parsed
                    .maps
                    .iter()
                    .filter(|m| m.pin_path.is_some())
                    .map(|m| match pin_root {
                        Some(root) => root.join(&m.name),
                        None => PathBuf::from(m.pin_path.as_deref().unwrap_or_default()),
                    })
                    .collect()
            })
            .unwrap_or_default();
        Ok(LoadedObject {
            dir,
            created_pins: auto_pins.iter().filter(|p| !p.exists()).cloned().collect(),
            auto_pins,
            programs: Vec::new(),
            maps: Vec::new(),
        })
    }

    /// Fills `programs` and `maps` from the pins (and, with pin-by-name maps, from the
    /// programs' map ids).
    fn describe(&mut self) -> Result<(), String> {
        for (pin_name, path) in pins(&self.dir) {
            let info = bpftool_json([
                "prog".as_ref(),
                "show".as_ref(),
                "pinned".as_ref(),
                path.as_os_str(),
            ])?;
            self.programs.push(PinnedProgram {
                id: as_u32(&info, "id")?,
                prog_type: info["type"].as_str().unwrap_or_default().to_owned(),
                name: info["name"].as_str().unwrap_or_default().to_owned(),
                xlated_insns: as_u32(&info, "bytes_xlated")? as usize / 8,
                map_ids: info["map_ids"]
                    .as_array()
                    .map(|ids| {
                        ids.iter()
                            .filter_map(|i| u32::try_from(i.as_u64()?).ok())
                            .collect()
                    })
                    .unwrap_or_default(),
                pin_name,
                info,
            });
        }
        let mut map_pins = pins(&self.dir.join("maps"));
        map_pins.extend(self.auto_pins.iter().map(|p| {
            let name = p.file_name().map(|n| n.to_string_lossy().into_owned());
            (name.unwrap_or_default(), p.clone())
        }));
        for (pin_name, path) in map_pins {
            let info = bpftool_json([
                "map".as_ref(),
                "show".as_ref(),
                "pinned".as_ref(),
                path.as_os_str(),
            ])?;
            self.maps.push(PinnedMap {
                id: as_u32(&info, "id")?,
                pin_name,
                info,
            });
        }
        if !self.auto_pins.is_empty() {
            let used: std::collections::BTreeSet<u32> = self
                .programs
                .iter()
                .flat_map(|p| p.map_ids.iter().copied())
                .collect();
            for id in used {
                if self.maps.iter().any(|m| m.id == id) {
                    continue;
                }
                let info = map_show(id)?;
                self.maps.push(PinnedMap {
                    id,
                    pin_name: info["name"].as_str().unwrap_or_default().to_owned(),
                    info,
                });
            }
        }
        self.maps.sort_by(|a, b| a.pin_name.cmp(&b.pin_name));
        Ok(())
    }
}
