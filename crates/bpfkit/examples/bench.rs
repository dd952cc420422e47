//! bpfkit side of benches/run.sh: the same map operations and object load as
//! benches/libbpf_bench.c.
//!   bench maps N                               hash update/lookup/delete, then batch ops
//!   bench load OBJ [MAP=MAX_ENTRIES,VALUE_SIZE ...]   load, then exit
//! With `BPFKIT_BENCH_LOG=1`, the loader's debug log (load phase times, applied CO-RE
//! relocations) goes to stderr.
//!
//! Map ops do the same work as the C side: u32 keys, u64 values, every looked-up value kept
//! (summed, or written into preallocated, pre-faulted buffers of all N elements for the
//! batch lookup, 1024 per syscall). Each phase is one `#[inline(never)]` function named
//! `bench_*` (callgrind's `--toggle-collect=*bench_update*` counts its instructions) and is
//! timed as CPU time (user+sys, `getrusage`) and wall time.

use std::time::Instant;

use bpfkit::loader::Loader;
use bpfkit::maps::{BatchCursor, HashMap, MapData, MapError, MapParams, MapType, BPF_ANY};

/// Batch lookup chunk, as in libbpf_bench.c.
const CHUNK: usize = 1024;

type Map<'a> = HashMap<&'a MapData, u32, u64>;

/// This process' user+sys CPU time in ms.
fn cpu_ms() -> f64 {
    // SAFETY: `rusage` is plain integers; all-zero is valid and getrusage fills it.
    let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: `ru` is a live, writable rusage.
    unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut ru) };
    let tv = |t: libc::timeval| t.tv_sec as f64 * 1e3 + t.tv_usec as f64 / 1e3;
    tv(ru.ru_utime) + tv(ru.ru_stime)
}

/// CPU and wall ms of `f`.
fn timed<T>(f: impl FnOnce() -> T) -> (T, f64, f64) {
    let (c, t) = (cpu_ms(), Instant::now());
    let r = f();
    (r, cpu_ms() - c, t.elapsed().as_secs_f64() * 1e3)
}

#[inline(never)]
fn bench_update(map: &Map<'_>, n: u32) -> Result<(), MapError> {
    for i in 0..n {
        map.insert(&i, &(u64::from(i) * 3), BPF_ANY.into())?;
    }
    Ok(())
}

#[inline(never)]
fn bench_lookup(map: &Map<'_>, n: u32) -> Result<u64, Box<dyn std::error::Error>> {
    let mut sum = 0u64;
    for i in 0..n {
        sum += map.get(&i)?.ok_or("missing key")?;
    }
    Ok(sum)
}

#[inline(never)]
fn bench_delete(map: &Map<'_>, n: u32) -> Result<(), MapError> {
    for i in 0..n {
        map.remove(&i)?;
    }
    Ok(())
}

#[inline(never)]
fn bench_update_batch(map: &Map<'_>, keys: &[u32], values: &[u64]) -> Result<usize, MapError> {
    map.insert_batch(keys, values, 0)
}

#[inline(never)]
fn bench_lookup_batch(
    map: &Map<'_>,
    keys: &mut [u32],
    values: &mut [u64],
) -> Result<usize, MapError> {
    let mut cursor = BatchCursor::new();
    let mut got = 0;
    while !cursor.is_done() && got < keys.len() {
        let end = (got + CHUNK).min(keys.len());
        got += map.lookup_batch_into(&mut cursor, &mut keys[got..end], &mut values[got..end])?;
    }
    Ok(got)
}

fn maps(n: u32) -> Result<(), Box<dyn std::error::Error>> {
    let data = MapData::create(&MapParams::new("bench", MapType::Hash, 4, 8, n))?;
    let map: Map<'_> = HashMap::new(&data)?;
    let (r, update, update_w) = timed(|| bench_update(&map, n));
    r?;
    let (sum, lookup, lookup_w) = timed(|| bench_lookup(&map, n));
    let sum = sum?;
    let (r, delete, delete_w) = timed(|| bench_delete(&map, n));
    r?;
    // Inputs and outputs allocated and written (pre-faulted) before the timed phases.
    let keys: Vec<u32> = (0..n).collect();
    let values: Vec<u64> = keys.iter().map(|&k| u64::from(k) * 3).collect();
    let mut keys_out = vec![u32::MAX; n as usize];
    let mut values_out = vec![u64::MAX; n as usize];
    let (r, update_batch, update_batch_w) = timed(|| bench_update_batch(&map, &keys, &values));
    r?;
    let (got, lookup_batch, lookup_batch_w) =
        timed(|| bench_lookup_batch(&map, &mut keys_out, &mut values_out));
    let got = got?;
    let bsum: u64 = values_out[..got].iter().sum();
    println!(
        "bpfkit  maps n={n} cpu: update {update:.1} ms, lookup {lookup:.1} ms, delete {delete:.1} ms, \
         update_batch {update_batch:.1} ms, lookup_batch(1024) {lookup_batch:.1} ms \
         (wall {update_w:.1} {lookup_w:.1} {delete_w:.1} {update_batch_w:.1} {lookup_batch_w:.1}; \
         {got} elems, sum {sum}, batch sum {bsum})"
    );
    Ok(())
}

fn load(path: &str, sizes: &[String]) -> Result<(), Box<dyn std::error::Error>> {
    let mut loader = Loader::new();
    for s in sizes {
        if let Some((name, rest)) = s.split_once('=') {
            if let Some((max, vsize)) = rest.split_once(',') {
                loader.max_entries(name, max.parse()?);
                loader.value_size(name, vsize.parse()?);
            }
        }
    }
    let object = loader.load_file(path)?;
    drop(object);
    Ok(())
}

/// Writes every log record to stderr (only installed with `BPFKIT_BENCH_LOG`).
struct StderrLog;

impl log::Log for StderrLog {
    fn enabled(&self, _: &log::Metadata<'_>) -> bool {
        true
    }
    fn log(&self, record: &log::Record<'_>) {
        eprintln!("{} {}: {}", record.level(), record.target(), record.args());
    }
    fn flush(&self) {}
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    if std::env::var_os("BPFKIT_BENCH_LOG").is_some() {
        log::set_logger(&StderrLog).map_err(|e| e.to_string())?;
        log::set_max_level(log::LevelFilter::Debug);
    }
    let args: Vec<String> = std::env::args().collect();
    match args.get(1).map(String::as_str) {
        Some("maps") => maps(args.get(2).ok_or("N")?.parse()?),
        Some("load") => load(args.get(2).ok_or("OBJ")?, &args[3..]),
        _ => Err("usage: bench maps N | bench load OBJ [MAP=MAX,VSIZE...]".into()),
    }
}
