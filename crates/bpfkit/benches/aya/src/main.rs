//! Aya side of benches/run.sh: the same object load and map operations as bench.rs.
//!   aya-bench load OBJ [MAP=MAX_ENTRIES,VALUE_SIZE ...]
//!   aya-bench maps N   (hash update/lookup/delete through a map created by a tiny object)

use std::time::Instant;

fn load(path: &str, sizes: &[String]) -> Result<(), Box<dyn std::error::Error>> {
    let bytes = std::fs::read(path)?;
    let mut loader = aya::EbpfLoader::new();
    for s in sizes {
        if let Some((name, rest)) = s.split_once('=') {
            if let Some((max, _)) = rest.split_once(',') {
                loader.set_max_entries(name, max.parse()?);
            }
        }
    }
    let mut ebpf = loader.load(&bytes)?;
    let names: Vec<String> = ebpf.programs().map(|(n, _)| n.to_owned()).collect();
    for name in names {
        let prog = ebpf.program_mut(&name).ok_or("program")?;
        match prog {
            aya::programs::Program::TracePoint(p) => p.load()?,
            aya::programs::Program::RawTracePoint(p) => p.load()?,
            aya::programs::Program::KProbe(p) => p.load()?,
            other => return Err(format!("{name}: {:?} not handled", other.prog_type()).into()),
        }
    }
    Ok(())
}

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

type Map<'a> = aya::maps::HashMap<&'a mut aya::maps::MapData, u32, u64>;

#[inline(never)]
fn bench_update(map: &mut Map<'_>, n: u32) -> Result<(), aya::maps::MapError> {
    for i in 0..n {
        map.insert(i, u64::from(i) * 3, 0)?;
    }
    Ok(())
}

#[inline(never)]
fn bench_lookup(map: &Map<'_>, n: u32) -> Result<u64, aya::maps::MapError> {
    let mut sum = 0u64;
    for i in 0..n {
        sum += map.get(&i, 0)?;
    }
    Ok(sum)
}

#[inline(never)]
fn bench_delete(map: &mut Map<'_>, n: u32) -> Result<(), aya::maps::MapError> {
    for i in 0..n {
        map.remove(&i)?;
    }
    Ok(())
}

fn maps(obj: &str, n: u32) -> Result<(), Box<dyn std::error::Error>> {
    let bytes = std::fs::read(obj)?;
    let mut ebpf = aya::Ebpf::load(&bytes)?;
    let mut map: Map<'_> = aya::maps::HashMap::try_from(ebpf.map_mut("bench").ok_or("map 'bench'")?)?;
    let (r, update, update_w) = timed(|| bench_update(&mut map, n));
    r?;
    let (sum, lookup, lookup_w) = timed(|| bench_lookup(&map, n));
    let sum = sum?;
    let (r, delete, delete_w) = timed(|| bench_delete(&mut map, n));
    r?;
    println!(
        "aya     maps n={n} cpu: update {update:.1} ms, lookup {lookup:.1} ms, delete {delete:.1} ms, \
         update_batch n/a, lookup_batch n/a (wall {update_w:.1} {lookup_w:.1} {delete_w:.1}; sum {sum})"
    );
    Ok(())
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    match args.get(1).map(String::as_str) {
        Some("load") => load(args.get(2).ok_or("OBJ")?, &args[3..]),
        Some("maps") => maps(args.get(2).ok_or("OBJ")?, args.get(3).ok_or("N")?.parse()?),
        _ => Err("usage: aya-bench load OBJ | aya-bench maps OBJ N".into()),
    }
}
