//! Test helpers shared by bpfkit's crates: where the corpus is, C fixtures built with
//! clang-19, and ground truth obtained from libbpf/bpftool in the same test run.
//!
//! - Corpus: [`corpus_dir`], [`corpus_objects`], [`corpus_objects_in`], [`corpus_vmlinux_btf`].
//! - libbpf's view, through a small C program (`testdata/oracle/libbpf_oracle.c`, built
//!   once with gcc against libbpf-dev): [`libbpf_parse`] (its open of an object),
//!   [`libbpf_relocated`] (the instructions it hands to `BPF_PROG_LOAD`, caught by
//!   interposing `syscall`), [`libbpf_load`], [`libbpf_btf_find`], and
//!   [`libbpf_trace_run`] (attach, run a command, read the object's counters).
//! - libbpf's side of benchmarks (`testdata/oracle/libbpf_bench.c`): [`libbpf_map_ops`],
//!   [`libbpf_drain`]; exec→loaded is `oracle_path()` run with `["load", OBJ]`.
//! - The kernel's view through bpftool: [`prog_loadall`] (pins removed on drop),
//!   [`prog_show`], [`map_show`], [`map_dump`], [`prog_dump_xlated`], [`prog_run`],
//!   [`btf_types`], [`btf_kind_counts`].
//! - C fixtures: [`fixture`] compiles `testdata/c/<name>.bpf.c` (each file's header
//!   comment says what it covers); [`fixture_names`] lists them; [`c_program`] builds
//!   userspace targets from `testdata/c/userspace/` (e.g. a USDT/uprobe target).
//! - Perf events: [`bpf_obj_get`], [`perf_event_open`], [`perf_event_set_bpf`],
//!   [`attach_tracepoint`] (a pinned program on a tracepoint; closing the fd detaches it).
//! - Kernel probes independent of the runtime: [`arena_unavailable`], [`skip_without_arena`].
//! - [`cgroup::TestCgroup`]: a cgroup v2 directory made for a test, removed on drop, that
//!   the test process can enter and leave.
//! - [`userns::run_with_delegated_bpffs`]: a child in its own user namespace with a bpffs
//!   this process delegated to it (BPF tokens).
//! - [`XorShift64Star`], the reproducible random sequence of the mutation tests.
//! - [`Insn`] (bpfkit-obj's, re-exported) and [`mask_fd_immediates`] to compare instruction
//!   streams.
//!
//! Everything built is cached under [`cache_root`] keyed by a hash of its inputs, and
//! written through a temporary file renamed into place, so parallel test threads and
//! processes share it safely. Helpers panic only when the host lacks a tool (gcc,
//! clang-19, bpftool, libbpf-dev); what libbpf or the kernel refuses is an `Err`.

use std::path::PathBuf;

mod bench;
mod bpftool;
mod cache;
pub mod cgroup;
pub mod core_chains;
mod fixture;
mod insn;
mod libbpf;
pub mod netns;
mod perf;
mod probe;
mod relocated;
mod rng;
mod trace;
pub mod userns;

pub use bench::{
    libbpf_bench_path, libbpf_drain, libbpf_map_ops, DrainResult, EventBuffer, MapOpsTimes,
};
pub use bpfkit_obj::insn::Insn;
pub use bpftool::{
    bpftool_json, btf_kind_counts, btf_type_id, btf_types, ensure_bpffs, libbpf_load_pinned,
    map_dump, map_show, prog_dump_xlated, prog_dump_xlated_text, prog_list, prog_loadall, prog_run,
    prog_show, BtfTypeSummary, LoadedObject, MapEntry, PinnedMap, PinnedProgram, ProgRun,
};
pub use cache::cache_root;
pub use fixture::{
    c_program, fixture, fixture_big_endian, fixture_names, fixture_source_dir, try_fixture,
    vmlinux_header, CLANG, PREBUILT_FIXTURES_ENV, VMLINUX_BTF,
};
pub use insn::mask_fd_immediates;
pub use libbpf::{
    libbpf_btf_find, libbpf_parse, oracle_path, LibbpfBtfType, LibbpfError, LibbpfMap,
    LibbpfObject, LibbpfProgram,
};
pub use perf::{
    attach_tracepoint, bpf_obj_get, perf_event_open, perf_event_set_bpf, tracepoint_id,
    PerfEventAttr, PERF_EVENT_IOC_ENABLE, PERF_TYPE_TRACEPOINT,
};
pub use probe::{arena_unavailable, skip_without_arena};
pub use relocated::{
    libbpf_load, libbpf_relocated, LibbpfRelocated, ProgLoad, RelocateOptions, RelocatedProgram,
};
pub use rng::XorShift64Star;
pub use trace::{libbpf_trace_run, Attach, TraceRun};

/// The directory of third-party BPF objects: `$BPFKIT_CORPUS`, else `../shared/corpus`
/// beside the repository. Panics with a clear message when neither exists (tests only).
pub fn corpus_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("BPFKIT_CORPUS") {
        return PathBuf::from(dir);
    }
    let repo = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..");
    let dir = repo.join("../shared/corpus");
    assert!(
        dir.is_dir(),
        "corpus not found at {}; set BPFKIT_CORPUS",
        dir.display()
    );
    dir
}

/// cilium's `btf/testdata/vmlinux.btf.gz` (a 5.x kernel's BTF) decompressed into the
/// test cache (once, race-free): raw BTF usable as a CO-RE target or `btf_custom_path`.
pub fn corpus_vmlinux_btf() -> PathBuf {
    let gz = corpus_dir().join("cilium/btf/testdata/vmlinux.btf.gz");
    let compressed =
        std::fs::read(&gz).unwrap_or_else(|e| panic!("cannot read {}: {e}", gz.display()));
    cache::cached_artifact("corpus-vmlinux-btf", &[&compressed], "vmlinux.btf", |tmp| {
        let out = cache::run(std::process::Command::new("gzip").arg("-dc").arg(&gz))?;
        std::fs::write(tmp, out).map_err(|e| format!("cannot write {}: {e}", tmp.display()))
    })
    .unwrap_or_else(|e| panic!("{e}"))
}

/// Every `*.o`/`*.elf` object of the corpus, sorted by path.
pub fn corpus_objects() -> Vec<PathBuf> {
    objects_under(&corpus_dir())
}

/// The BPF objects under one directory of the corpus (e.g. `"libbpf-tools"`), sorted.
pub fn corpus_objects_in(subdir: &str) -> Vec<PathBuf> {
    objects_under(&corpus_dir().join(subdir))
}

/// Every `.o`/`.elf` file below `dir`, sorted.
fn objects_under(dir: &std::path::Path) -> Vec<PathBuf> {
    fn walk(dir: &std::path::Path, out: &mut Vec<PathBuf>) {
        let Ok(entries) = std::fs::read_dir(dir) else {
            return;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            if path.is_dir() {
                walk(&path, out);
            } else if path.extension().is_some_and(|e| e == "o" || e == "elf") {
                out.push(path);
            }
        }
    }
    let mut out = Vec::new();
    walk(dir, &mut out);
    out.sort();
    out
}
