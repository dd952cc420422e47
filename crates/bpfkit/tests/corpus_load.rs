//! The Loader against libbpf on the libbpf-tools objects whose maps the tools size at start
//! (max_entries 0, stack traces sized from the stack depth): unsized, both refuse them; sized
//! the same way both load them with the same programs, maps (flags included) and translated
//! instructions.

mod common;

use bpfkit::loader::{LoadError, Loader, Object};
use bpfkit_test_support::{
    corpus_dir, libbpf_load_pinned, mask_fd_immediates, prog_dump_xlated, Insn, LoadedObject,
    RelocateOptions,
};
use common::*;

/// `(object, [(map, max_entries, value_size or 0 to keep)])`, sized as the tools do with
/// their defaults (127-frame stacks; cpudist's one histogram, pid_max-sized start map).
/// `(map, max_entries, value_size or 0 to keep)`.
type Sizes = &'static [(&'static str, u32, u32)];

const RUNTIME_SIZED: &[(&str, Sizes)] = &[
    ("capable", &[("stackmap", 1024, 127 * 8)]),
    ("offcputime", &[("stackmap", 1024, 127 * 8)]),
    ("wakeuptime", &[("stackmap", 1024, 127 * 8)]),
    ("cpudist", &[("start", 4096, 0), ("hists", 1, 0)]),
];

fn xlated(fd: std::os::fd::BorrowedFd<'_>) -> Vec<Insn> {
    bpfkit::info::xlated_insns(fd)
        .expect("xlated")
        .iter()
        .map(|w| Insn::from_bytes(w.to_le_bytes()))
        .collect()
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

/// (name, type, key, value, max_entries, flags) of each map id, as bpftool shows them, sorted.
fn map_shapes(ids: &[u32]) -> Vec<(String, String, u64, u64, u64, u64)> {
    let mut out: Vec<_> = ids
        .iter()
        .map(|id| {
            let j = bpftool(&["map", "show", "id", &id.to_string()]);
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

/// Differences between bpfkit's and libbpf's loads of the same object.
fn differences(name: &str, ours: &Object, truth: &LoadedObject) -> Vec<String> {
    let mut problems = Vec::new();
    if ours.programs().count() != truth.programs.len() {
        problems.push(format!(
            "{name}: {} programs vs libbpf {}",
            ours.programs().count(),
            truth.programs.len()
        ));
    }
    for theirs in &truth.programs {
        let who = format!("{name}/{}", theirs.pin_name);
        let Some(p) = ours.program(&theirs.pin_name) else {
            problems.push(format!("{who}: missing"));
            continue;
        };
        let info = p.info().expect("info");
        let j = bpftool(&["prog", "show", "id", &info.id.to_string()]);
        if j["type"].as_str() != Some(&theirs.prog_type) {
            problems.push(format!("{who}: type {} vs {}", j["type"], theirs.prog_type));
        }
        if j["name"] != theirs.info["name"] {
            problems.push(format!(
                "{who}: name {} vs {}",
                j["name"], theirs.info["name"]
            ));
        }
        if (info.btf_id != 0) != theirs.info["btf_id"].is_u64() {
            problems.push(format!(
                "{who}: btf_id {} vs {}",
                info.btf_id, theirs.info["btf_id"]
            ));
        }
        let (a, b) = (map_shapes(&info.map_ids), map_shapes(&theirs.map_ids));
        if a != b {
            problems.push(format!(
                "{who}: maps differ:\n  bpfkit {a:?}\n  libbpf {b:?}"
            ));
        }
        let ours_x = mask_fd_immediates(&xlated(p.fd()));
        let theirs_x = mask_fd_immediates(&prog_dump_xlated(theirs.id).expect("xlated"));
        if ours_x != theirs_x {
            let first = ours_x.iter().zip(&theirs_x).position(|(a, b)| a != b);
            problems.push(format!(
                "{who}: xlated differs ({} vs {} insns, first at {first:?})",
                ours_x.len(),
                theirs_x.len()
            ));
        }
    }
    problems
}

fn sized_loader(maps: &[(&str, u32, u32)]) -> (Loader, RelocateOptions) {
    let mut loader = Loader::new();
    let mut opts = RelocateOptions::default();
    for &(map, n, vsize) in maps {
        loader.max_entries(map, n);
        opts.max_entries.push((map.to_owned(), n));
        if vsize != 0 {
            loader.value_size(map, vsize);
            opts.value_size.push((map.to_owned(), vsize));
        }
    }
    (loader, opts)
}

fn tool(name: &str) -> std::path::PathBuf {
    corpus_dir().join(format!("libbpf-tools/{name}.bpf.o"))
}

#[test]
fn runtime_sized_tools_load_like_libbpf_once_sized_the_same_way() {
    let fds = FdCheck::start();
    let mut problems = Vec::new();
    for (name, maps) in RUNTIME_SIZED {
        let path = tool(name);
        let refused = Loader::new().load_file(&path).unwrap_err();
        assert!(
            matches!(&refused, LoadError::MapSetup { reason, .. } if reason.contains("max_entries is 0")),
            "{name}: {refused}"
        );
        assert!(
            libbpf_load_pinned(&path, &RelocateOptions::default()).is_err(),
            "{name}: libbpf loads it refused"
        );
        let (loader, opts) = sized_loader(maps);
        let truth = libbpf_load_pinned(&path, &opts)
            .unwrap_or_else(|e| panic!("{name}: libbpf fails once sized: {e}"));
        let ours = loader
            .load_file(&path)
            .unwrap_or_else(|e| panic!("{name}: bpfkit fails once sized: {e}"));
        for &(map, n, vsize) in *maps {
            let m = ours.map(map).unwrap();
            assert_eq!(m.max_entries(), n, "{name}/{map}");
            if vsize != 0 {
                assert_eq!(m.value_size(), vsize, "{name}/{map}");
            }
        }
        problems.extend(differences(name, &ours, &truth));
        drop(ours);
        drop(truth);
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
    fds.assert_no_leak();
}
