//! libbpf's side of bpfkit's benchmarks, timed inside a C process of its own.
//!
//! Runs `testdata/oracle/libbpf_bench.c`, compiled once with `gcc -O2` against
//! libbpf-dev. For exec→loaded timings run [`crate::oracle_path`] with `["load", OBJ]`.

use std::path::PathBuf;
use std::process::Command;
use std::sync::OnceLock;

use serde::Deserialize;

use crate::libbpf::build_libbpf_program;

const BENCH_SOURCE: &str = include_str!("../../../testdata/oracle/libbpf_bench.c");

/// The compiled benchmark executable. Panics when gcc or libbpf-dev is missing.
pub fn libbpf_bench_path() -> PathBuf {
    static PATH: OnceLock<Result<PathBuf, String>> = OnceLock::new();
    match PATH.get_or_init(|| build_libbpf_program("libbpf_bench", BENCH_SOURCE, "-O2")) {
        Ok(path) => path.clone(),
        Err(e) => panic!("{e}"),
    }
}

/// Nanoseconds per element of libbpf's hash map operations (best of the rounds).
#[derive(Debug, Clone, Copy, PartialEq, Deserialize)]
pub struct MapOpsTimes {
    /// Map size and number of keys per operation.
    pub entries: u32,
    /// `bpf_map_update_elem`, one key at a time.
    pub update_ns: f64,
    /// `bpf_map_lookup_elem`, one key at a time.
    pub lookup_ns: f64,
    /// `bpf_map_delete_elem`, one key at a time.
    pub delete_ns: f64,
    /// `bpf_map_update_batch` of all keys.
    pub update_batch_ns: f64,
    /// `bpf_map_lookup_batch` over the whole map.
    pub lookup_batch_ns: f64,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum Output<T> {
    Ok(T),
    Err { error: String },
}

fn run_bench<T: for<'de> Deserialize<'de>>(args: &[&std::ffi::OsStr]) -> Result<T, String> {
    let mut cmd = Command::new(libbpf_bench_path());
    cmd.args(args);
    let out = cmd
        .output()
        .map_err(|e| format!("cannot run libbpf_bench: {e}"))?;
    match serde_json::from_slice::<Output<T>>(&out.stdout) {
        Ok(Output::Ok(v)) => Ok(v),
        Ok(Output::Err { error }) => Err(error),
        Err(e) => Err(format!(
            "libbpf_bench printed {:?} ({e}); stderr: {}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )),
    }
}

/// `libbpf_bench map-ops ENTRIES ROUNDS`: a u32 → u64 hash map of `entries` slots,
/// update/lookup/delete of every key one by one, then batch update and batch lookup.
pub fn libbpf_map_ops(entries: u32, rounds: u32) -> Result<MapOpsTimes, String> {
    run_bench(&[
        "map-ops".as_ref(),
        entries.to_string().as_ref(),
        rounds.to_string().as_ref(),
    ])
}

/// Which event buffer [`libbpf_drain`] fills and drains.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventBuffer {
    /// BPF_MAP_TYPE_RINGBUF, drained by `ring_buffer__consume`.
    Ring,
    /// BPF_MAP_TYPE_PERF_EVENT_ARRAY, drained by `perf_buffer__consume`.
    Perf,
}

/// One drain: how many records libbpf's consumer delivered and how fast.
#[derive(Debug, Clone, Copy, PartialEq, Deserialize)]
pub struct DrainResult {
    /// Records delivered to the callback.
    pub records: u64,
    /// Time of the single consume call, nanoseconds.
    pub ns: f64,
    /// `records / ns`, per second.
    pub records_per_sec: f64,
    /// Whether the sequence numbers arrived as 0, 1, 2, ...
    pub in_order: bool,
    /// Lost samples the perf buffer reported (0 for the ring buffer).
    pub lost: u64,
}

/// The drain benchmark of issue 4 on libbpf: the `event_records` fixture fills the
/// buffer with `records` records of `record_size` bytes (BPF_PROG_TEST_RUN with repeat,
/// 1000 records per run, on CPU 0), then one `ring_buffer__consume` /
/// `perf_buffer__consume` call empties it and is timed; best of `rounds`.
pub fn libbpf_drain(
    buffer: EventBuffer,
    record_size: u32,
    records: u32,
    rounds: u32,
) -> Result<DrainResult, String> {
    let obj = crate::fixture("event_records");
    let command = match buffer {
        EventBuffer::Ring => "ringbuf-drain",
        EventBuffer::Perf => "perfbuf-drain",
    };
    run_bench(&[
        command.as_ref(),
        obj.as_os_str(),
        record_size.to_string().as_ref(),
        records.to_string().as_ref(),
        rounds.to_string().as_ref(),
    ])
}
