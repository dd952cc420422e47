//! bpfkit side of benches/run.sh: the same map operations and object load as
//! benches/libbpf_bench.c.
//!   bench maps N                               hash update/lookup/delete, then batch ops
//!   bench load OBJ [MAP=MAX_ENTRIES,VALUE_SIZE ...]   load, then exit
//! With `BPFKIT_BENCH_LOG=1`, the loader's debug log (load phase times, applied CO-RE
//! relocations) goes to stderr.

use std::time::Instant;

use bpfkit::loader::Loader;
use bpfkit::maps::{HashMap, MapData, MapParams, MapType, BPF_ANY};

fn ms(t: Instant) -> f64 {
    t.elapsed().as_secs_f64() * 1e3
}

fn maps(n: u32) -> Result<(), Box<dyn std::error::Error>> {
    let data = MapData::create(&MapParams::new("bench", MapType::Hash, 4, 8, n))?;
    let map: HashMap<_, u32, u64> = HashMap::new(&data)?;
    let t = Instant::now();
    for i in 0..n {
        map.insert(&i, &(u64::from(i) * 3), BPF_ANY.into())?;
    }
    let update = ms(t);
    let t = Instant::now();
    let mut sum = 0u64;
    for i in 0..n {
        sum += map.get(&i)?.ok_or("missing key")?;
    }
    let lookup = ms(t);
    let t = Instant::now();
    for i in 0..n {
        map.remove(&i)?;
    }
    let delete = ms(t);
    let keys: Vec<u32> = (0..n).collect();
    let values: Vec<u64> = keys.iter().map(|&k| u64::from(k) * 3).collect();
    let t = Instant::now();
    map.insert_batch(&keys, &values, 0)?;
    let update_batch = ms(t);
    let t = Instant::now();
    let got = map.get_batch(1024)?.len();
    let lookup_batch = ms(t);
    println!(
        "bpfkit  maps n={n}: update {update:.1} ms, lookup {lookup:.1} ms, delete {delete:.1} ms, \
         update_batch {update_batch:.1} ms, lookup_batch(1024) {lookup_batch:.1} ms ({got} elems, sum {sum})"
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
