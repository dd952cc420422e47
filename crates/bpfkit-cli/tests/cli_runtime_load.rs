//! `bpfkit load` against libbpf on the whole corpus (runs as root on the real kernel): every
//! object bpftool's `prog loadall` loads, `bpfkit load --pin-dir` loads too, with the same
//! programs (type, name, BTF), maps (type, sizes, flags) and translated instructions (map ids
//! masked); the libbpf-tools objects with runtime-sized maps load in both once sized the same
//! way; the legacy-map objects libbpf 1.x refuses load with bpfkit. Removing the pins unloads.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::atomic::{AtomicU32, Ordering};

use bpfkit_test_support::{
    bpftool_json, corpus_dir, corpus_objects, libbpf_load_pinned, mask_fd_immediates,
    prog_dump_xlated, prog_loadall, LoadedObject, RelocateOptions,
};
use serde_json::Value;

/// libbpf-tools objects whose maps the tools size at start (max_entries 0, stack depth
/// value size): `(object, [(map, max_entries, value_size or 0 to keep)])`, as the tools
/// would with defaults (127-frame stacks, one histogram).
/// `(map, max_entries, value_size or 0 to keep)`.
type Sizes = &'static [(&'static str, u32, u32)];

const RUNTIME_SIZED: &[(&str, Sizes)] = &[
    ("capable.bpf.o", &[("stackmap", 1024, 127 * 8)]),
    ("offcputime.bpf.o", &[("stackmap", 1024, 127 * 8)]),
    ("wakeuptime.bpf.o", &[("stackmap", 1024, 127 * 8)]),
    ("cpudist.bpf.o", &[("start", 4096, 0), ("hists", 1, 0)]),
];

/// Objects with legacy `maps` section definitions (libbpf 1.x refuses them).
const LEGACY: &[&str] = &[
    "iproute2_map_compat-el.elf",
    "subprog_reloc-el.elf",
    "invalid_map_static-el.elf",
];

fn bpfkit(args: &[&std::ffi::OsStr]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_bpfkit"))
        .args(args)
        .output()
        .expect("run bpfkit")
}

/// A fresh pin directory on the bpffs, removed (unloading what is pinned there) on drop.
struct PinDir(PathBuf);

impl PinDir {
    fn new() -> Self {
        static N: AtomicU32 = AtomicU32::new(0);
        let dir = PathBuf::from(format!(
            "/sys/fs/bpf/bpfkit-cli-load-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = std::fs::remove_dir_all(&dir);
        Self(dir)
    }
}

impl Drop for PinDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// `bpfkit load OBJ --pin-dir DIR --json [extra]`: the JSON, or the error text.
fn cli_load(obj: &Path, dir: &Path, extra: &[String]) -> Result<Value, String> {
    let mut args: Vec<std::ffi::OsString> = vec![
        "load".into(),
        obj.into(),
        "--pin-dir".into(),
        dir.into(),
        "--json".into(),
    ];
    args.extend(extra.iter().map(Into::into));
    let argv: Vec<&std::ffi::OsStr> = args.iter().map(|a| a.as_os_str()).collect();
    let out = bpfkit(&argv);
    if !out.status.success() {
        return Err(String::from_utf8_lossy(&out.stderr).into_owned());
    }
    serde_json::from_slice(&out.stdout).map_err(|e| format!("bad JSON: {e}"))
}

/// A map's flags, without `BPF_F_MMAPABLE` on global-data maps (names with a `.`): libbpf
/// versions differ on it for sections holding only static variables (bpftool 7.1's libbpf
/// 1.1.0 sets it, libbpf 1.1.2 and later do not; bpfkit follows bpftool).
fn global_data_flags(j: &serde_json::Value) -> u64 {
    let flags = j["flags"].as_u64().unwrap_or(0);
    if j["name"].as_str().is_some_and(|n| n.contains('.')) {
        flags & !0x400
    } else {
        flags
    }
}

/// (name, type, key, value, max_entries, flags) of each map id as bpftool shows it, sorted.
fn map_shapes(ids: &[u32]) -> Vec<(String, String, u64, u64, u64, u64)> {
    let mut out: Vec<_> = ids
        .iter()
        .map(|id| {
            let j = bpftool_json(["map", "show", "id", &id.to_string()]).expect("map show");
            (
                j["name"].as_str().unwrap_or_default().to_owned(),
                j["type"].as_str().unwrap_or_default().to_owned(),
                j["bytes_key"].as_u64().unwrap_or(0),
                j["bytes_value"].as_u64().unwrap_or(0),
                j["max_entries"].as_u64().unwrap_or(0),
                global_data_flags(&j),
            )
        })
        .collect();
    out.sort();
    out
}

fn ids(v: &Value) -> Vec<u32> {
    v.as_array()
        .map(|a| {
            a.iter()
                .filter_map(|x| x.as_u64())
                .map(|x| x as u32)
                .collect()
        })
        .unwrap_or_default()
}

/// Compares bpfkit's load (its `--json` output) with libbpf's, appending differences.
fn compare(object: &str, truth: &LoadedObject, ours: &Value, problems: &mut Vec<String>) {
    let our_programs = ours["programs"].as_array().cloned().unwrap_or_default();
    if our_programs.len() != truth.programs.len() {
        problems.push(format!(
            "{object}: bpfkit loaded {} programs, libbpf {}",
            our_programs.len(),
            truth.programs.len()
        ));
    }
    for theirs in &truth.programs {
        let Some(p) = our_programs
            .iter()
            .find(|p| p["name"].as_str() == Some(&theirs.pin_name))
        else {
            problems.push(format!("{object}: program {} missing", theirs.pin_name));
            continue;
        };
        let id = p["id"].as_u64().expect("id") as u32;
        // bpftool reads our pinned program back: it must be the one the JSON names.
        let pinned = bpftool_json(["prog", "show", "pinned", p["pin"].as_str().unwrap()])
            .expect("prog show pinned");
        let j = bpftool_json(["prog", "show", "id", &id.to_string()]).expect("prog show");
        let who = format!("{object}/{}", theirs.pin_name);
        if pinned["id"] != j["id"] {
            problems.push(format!("{who}: pin holds id {} not {id}", pinned["id"]));
        }
        if j["type"].as_str() != Some(&theirs.prog_type) || p["type"] != j["type"] {
            problems.push(format!(
                "{who}: type bpftool {} / json {} vs libbpf {}",
                j["type"], p["type"], theirs.prog_type
            ));
        }
        if j["name"] != theirs.info["name"] {
            problems.push(format!(
                "{who}: name {} vs {}",
                j["name"], theirs.info["name"]
            ));
        }
        if j["btf_id"].is_u64() != theirs.info["btf_id"].is_u64() {
            problems.push(format!(
                "{who}: btf_id {} vs libbpf {}",
                j["btf_id"], theirs.info["btf_id"]
            ));
        }
        if p["tag"] != j["tag"] {
            problems.push(format!(
                "{who}: json tag {} vs bpftool {}",
                p["tag"], j["tag"]
            ));
        }
        let ours_maps = map_shapes(&ids(&j["map_ids"]));
        let theirs_maps = map_shapes(&theirs.map_ids);
        if ours_maps != theirs_maps {
            problems.push(format!(
                "{who}: maps differ:\n  bpfkit {ours_maps:?}\n  libbpf {theirs_maps:?}"
            ));
        }
        let ours_x = mask_fd_immediates(&prog_dump_xlated(id).expect("xlated"));
        let theirs_x = mask_fd_immediates(&prog_dump_xlated(theirs.id).expect("xlated"));
        if ours_x != theirs_x {
            let first = ours_x.iter().zip(&theirs_x).position(|(a, b)| a != b);
            problems.push(format!(
                "{who}: xlated differs ({} vs {} insns, first difference at {first:?})",
                ours_x.len(),
                theirs_x.len()
            ));
        }
    }
    // Every map the JSON lists is pinned where it says and has the shape it says.
    for m in ours["maps"].as_array().cloned().unwrap_or_default() {
        let pin = m["pin"].as_str().unwrap_or_default();
        match bpftool_json(["map", "show", "pinned", pin]) {
            Ok(j) => {
                let said = (
                    &m["id"],
                    &m["type"],
                    &m["key_size"],
                    &m["value_size"],
                    &m["max_entries"],
                );
                let seen = (
                    &j["id"],
                    &j["type"],
                    &j["bytes_key"],
                    &j["bytes_value"],
                    &j["max_entries"],
                );
                if said != seen {
                    problems.push(format!("{object}: map {m} but bpftool sees {j}"));
                }
            }
            Err(e) => problems.push(format!("{object}: map pin {pin}: {e}")),
        }
    }
}

/// The tests of this file run one at a time, so the fd counts are this test's own.
static SERIAL: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn serial() -> std::sync::MutexGuard<'static, ()> {
    SERIAL.lock().unwrap_or_else(|e| e.into_inner())
}

fn fd_count() -> usize {
    std::fs::read_dir("/proc/self/fd").unwrap().count()
}

#[test]
fn bpfkit_load_loads_every_corpus_object_libbpf_loads_with_the_same_programs_maps_and_xlated() {
    let _serial = serial();
    let fds = fd_count();
    let mut problems = Vec::new();
    let mut compared = Vec::new();
    let mut neither = Vec::new();
    for path in corpus_objects() {
        let file = path.file_name().unwrap().to_string_lossy().into_owned();
        let sized = RUNTIME_SIZED.iter().find(|(f, _)| *f == file);
        let (truth, extra) = match sized {
            None => match prog_loadall(&path) {
                Ok(t) => (t, Vec::new()),
                Err(_) => {
                    neither.push(file);
                    continue;
                }
            },
            Some((_, maps)) => {
                // Unsized, both refuse the object; sized the same way, both load it.
                let dir = PinDir::new();
                let err = cli_load(&path, &dir.0, &[]).expect_err("unsized loads");
                assert!(err.contains("max_entries is 0"), "{file}: {err}");
                let mut opts = RelocateOptions::default();
                let mut extra = Vec::new();
                for &(map, n, vsize) in *maps {
                    opts.max_entries.push((map.to_owned(), n));
                    extra.push(format!("--max-entries={map}={n}"));
                    if vsize != 0 {
                        opts.value_size.push((map.to_owned(), vsize));
                        extra.push(format!("--value-size={map}={vsize}"));
                    }
                }
                let truth = libbpf_load_pinned(&path, &opts)
                    .unwrap_or_else(|e| panic!("{file}: libbpf fails once sized: {e}"));
                (truth, extra)
            }
        };
        let dir = PinDir::new();
        match cli_load(&path, &dir.0, &extra) {
            Ok(ours) => {
                compare(&file, &truth, &ours, &mut problems);
                compared.push(file);
            }
            Err(e) => problems.push(format!("{file}: libbpf loads it, `bpfkit load` fails: {e}")),
        }
        drop(dir);
        drop(truth);
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
    eprintln!(
        "compared {} objects; libbpf loads neither of: {neither:?}",
        compared.len()
    );
    // 33 objects bpftool loads on this kernel (6.18) and the 4 runtime-sized tools.
    assert!(compared.len() >= 37, "only {} compared", compared.len());
    for tool in RUNTIME_SIZED {
        assert!(
            compared.iter().any(|c| c == tool.0),
            "{} not compared",
            tool.0
        );
    }
    assert_eq!(fd_count(), fds, "fds leaked");
}

#[test]
fn bpfkit_load_loads_legacy_map_objects_and_pins_every_map_with_its_definition() {
    let _serial = serial();
    for name in LEGACY {
        let path = corpus_dir().join("cilium/testdata").join(name);
        // libbpf 1.x refuses the legacy `maps` section.
        assert!(prog_loadall(&path).is_err(), "{name}: libbpf now loads it");
        let spec = bpfkit_obj::object::ObjectSpec::parse(&std::fs::read(&path).unwrap()).unwrap();
        let dir = PinDir::new();
        let ours = cli_load(&path, &dir.0, &[]).unwrap_or_else(|e| panic!("{name}: {e}"));
        let maps = ours["maps"].as_array().unwrap();
        for m in spec
            .maps
            .iter()
            .filter(|m| m.definition == bpfkit_obj::object::MapDefinition::Legacy)
        {
            let entry = maps
                .iter()
                .find(|j| j["name"].as_str() == Some(&m.name))
                .unwrap_or_else(|| panic!("{name}: map {} not in {ours}", m.name));
            let j =
                bpftool_json(["map", "show", "pinned", entry["pin"].as_str().unwrap()]).unwrap();
            assert_eq!(
                j["type"].as_str(),
                Some(m.map_type.kernel_name()),
                "{name}/{}",
                m.name
            );
            assert_eq!(
                (
                    j["bytes_key"].as_u64(),
                    j["bytes_value"].as_u64(),
                    j["max_entries"].as_u64()
                ),
                (
                    Some(m.key_size.into()),
                    Some(m.value_size.into()),
                    Some(m.max_entries.into())
                ),
                "{name}/{}",
                m.name
            );
        }
        let programs = ours["programs"].as_array().unwrap();
        assert_eq!(programs.len(), spec.programs.len(), "{name}");
        for p in programs {
            let j = bpftool_json(["prog", "show", "pinned", p["pin"].as_str().unwrap()]).unwrap();
            assert_eq!(j["id"], p["id"], "{name}");
        }
    }
}

#[test]
fn without_pin_dir_load_prints_ids_says_nothing_is_kept_and_the_kernel_frees_them() {
    let _serial = serial();
    let path = corpus_dir().join("libbpf-tools/execsnoop.bpf.o");
    let out = bpfkit(&["load".as_ref(), path.as_os_str()]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.contains("not pinned"), "{text}");
    let ids: Vec<u32> = text
        .lines()
        .filter(|l| l.starts_with("program "))
        .map(|l| {
            let mut w = l.split_whitespace();
            w.find(|&x| x == "id").unwrap();
            w.next().unwrap().parse().unwrap()
        })
        .collect();
    assert_eq!(ids.len(), 2, "{text}");
    // The process exited: the kernel frees the programs (freeing is deferred a little).
    for id in ids {
        let mut gone = false;
        for _ in 0..200 {
            if bpftool_json(["prog", "show", "id", &id.to_string()]).is_err() {
                gone = true;
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
        assert!(gone, "program {id} still loaded after bpfkit exited");
    }
}

#[test]
fn a_failing_load_exits_nonzero_with_the_verifier_log_and_leaves_no_pins() {
    let _serial = serial();
    // cilium's strings object is rejected by the verifier (libbpf fails too).
    let path = corpus_dir().join("cilium/testdata/strings-el.elf");
    let dir = PinDir::new();
    let out = bpfkit(&[
        "load".as_ref(),
        path.as_os_str(),
        "--pin-dir".as_ref(),
        dir.0.as_os_str(),
    ]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("program 'filter'"), "{err}");
    assert!(err.contains("verifier log"), "{err}");
    let pins: Vec<_> = std::fs::read_dir(&dir.0)
        .map(|d| d.flatten().map(|e| e.path()).collect())
        .unwrap_or_default();
    assert!(
        pins.iter()
            .all(|p| p.is_dir() && std::fs::read_dir(p).unwrap().count() == 0),
        "pins left: {pins:?}"
    );
}
